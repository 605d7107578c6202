"""Resource arithmetic over pods and nodes, as the scheduler counts it (pure).

Used by fail-fast (can any node ever take this pending pod?) and by preflight
(do the app's requests fit the nodes at all?). A pod's request is what the API
server would store: a container without a request is charged its limit; init
containers run one at a time, so the pod needs the larger of their maximum and
the sum of the app containers; `overhead` (RuntimeClass) comes on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from kubernetes.utils.quantity import parse_quantity

Resources = dict[str, Decimal]

# Labels/annotations that say nodes come and go on demand: a pod no node fits today may fit
# one an autoscaler adds, so an unschedulable pod is not a permanent failure there.
AUTOSCALER_PREFIXES = (
    "cluster-autoscaler.kubernetes.io/",
    "cluster.x-k8s.io/cluster-api-autoscaler-node-group-",
    "karpenter.sh/",
    "autoscaling.k8s.io/",
)


def quantity(value: object) -> Decimal:
    try:
        return Decimal(parse_quantity(value))
    except (ValueError, TypeError, ArithmeticError):
        return Decimal(0)  # the API server validates quantities; an odd one counts as nothing


def _add(into: Resources, more: Mapping[str, object]) -> None:
    for key, value in more.items():
        into[key] = into.get(key, Decimal(0)) + quantity(value)


def container_resources(container: dict, which: str = "requests") -> Resources:
    """A container's requests (its limits where it sets no request) or limits."""
    res = container.get("resources") or {}
    out: Resources = {}
    if which == "requests":
        _add(out, {**(res.get("limits") or {}), **(res.get("requests") or {})})
    else:
        _add(out, res.get("limits") or {})
    return out


def pod_resources(pod_spec: dict, which: str = "requests") -> Resources:
    """What one pod of this spec is charged (see the module docstring)."""
    total: Resources = {}
    for c in pod_spec.get("containers") or []:
        _add(total, container_resources(c, which))
    for c in pod_spec.get("initContainers") or []:
        for key, value in container_resources(c, which).items():
            total[key] = max(total.get(key, Decimal(0)), value)
    _add(total, pod_spec.get("overhead") or {})
    return total


def times(res: Resources, n: int) -> Resources:
    return {k: v * n for k, v in res.items()}


def plus(a: Resources, b: Resources) -> Resources:
    return {k: a.get(k, Decimal(0)) + b.get(k, Decimal(0)) for k in {*a, *b}}


def short(res: Resources, have: Resources) -> dict[str, tuple[Decimal, Decimal]]:
    """Resources `res` asks for beyond `have`: name → (wanted, available)."""
    return {k: (v, have.get(k, Decimal(0))) for k, v in sorted(res.items()) if v > 0 and v > have.get(k, Decimal(0))}


def fmt(value: Decimal, key: str = "") -> str:
    """A readable quantity: cores with up to 3 decimals, bytes in Mi/Gi."""
    if key in ("memory", "ephemeral-storage", "storage") or key.endswith((".memory", ".storage", "ephemeral-storage")):
        for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size:
                return f"{(value / size).quantize(Decimal('0.1')).normalize():f}{unit}"
        return f"{value:f}"
    return f"{value.quantize(Decimal('0.001')).normalize():f}"


def describe_short(missing: dict[str, tuple[Decimal, Decimal]]) -> str:
    return ", ".join(f"{k} {fmt(w, k)} wanted, {fmt(h, k)} available" for k, (w, h) in missing.items())


def _tolerated(taint: dict, tolerations: Iterable[dict]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


# Taints the node lifecycle controller sets while a node starts or loses contact: they come and go
# by themselves, so they do not make a node unusable for judging whether the app can ever fit.
TRANSIENT_TAINTS = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})


def usable(node: dict, pod_spec: dict | None = None) -> bool:
    """The scheduler may place this pod here: schedulable, untainted (or tolerated), selector matches."""
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        return False
    pod_spec = pod_spec or {}
    tolerations = pod_spec.get("tolerations") or []
    for taint in spec.get("taints") or []:
        if taint.get("key") in TRANSIENT_TAINTS:
            continue
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(taint, tolerations):
            return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in (pod_spec.get("nodeSelector") or {}).items())


def allocatable(node: dict) -> Resources:
    out: Resources = {}
    _add(out, (node.get("status") or {}).get("allocatable") or {})
    return out


@dataclass(frozen=True)
class NodeRoom:
    name: str
    node: dict
    free: Resources  # allocatable minus what the pods bound to it request ("pods" counts pods)


def rooms(nodes: Iterable[dict], pods: Iterable[dict], *, leaving: frozenset[str] = frozenset()) -> list[NodeRoom]:
    """Each node's free room: allocatable minus the requests of pods bound to it.

    Pods that are finished, being deleted, or in `leaving` (uids of pods a rollout
    replaces) are not counted: their room comes back.
    """
    used: dict[str, Resources] = {}
    for pod in pods:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        where = spec.get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if not where or phase in ("Succeeded", "Failed") or meta.get("deletionTimestamp") or meta.get("uid") in leaving:
            continue
        room = used.setdefault(where, {})
        _add(room, {"pods": 1})
        for k, v in pod_resources(spec).items():
            room[k] = room.get(k, Decimal(0)) + v
    out = []
    for node in nodes:
        name = node["metadata"]["name"]
        alloc = allocatable(node)
        taken = used.get(name, {})
        out.append(NodeRoom(name, node, {k: v - taken.get(k, Decimal(0)) for k, v in alloc.items()}))
    return out


def fits_somewhere(pod_spec: dict, node_rooms: Iterable[NodeRoom]) -> bool:
    """Some usable node has room for one more pod of this spec."""
    need = {**pod_resources(pod_spec), "pods": Decimal(1)}
    return any(usable(r.node, pod_spec) and not short(need, r.free) for r in node_rooms)


def autoscaled(nodes: Iterable[dict], pod_annotations: Mapping[str, str] | None = None) -> bool:
    """Nodes can be added on demand (an autoscaler's labels/annotations on a node or the pod template)."""
    keys = list((pod_annotations or {}).keys())
    for node in nodes:
        meta = node.get("metadata") or {}
        keys += [*(meta.get("labels") or {}), *(meta.get("annotations") or {})]
    return any(k.startswith(AUTOSCALER_PREFIXES) for k in keys)
