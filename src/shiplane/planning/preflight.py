"""Preflight: can this cluster take these objects at all? Pure, over facts read once.

`check(objects, facts)` lists every gap a deploy would otherwise discover only by
waiting: a referenced RuntimeClass/StorageClass/IngressClass/PriorityClass that
does not exist, a ResourceQuota or LimitRange that would refuse the pods, requests
no node (or all nodes together) can hold, an apiVersion/kind the server does not
serve, a custom kind without its CRD. A fact that could not be read is None and its
check is skipped (the caller says so); nothing here talks to the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from shiplane.status import capacity
from shiplane.status.capacity import Resources

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "CronJob", "Pod")
COMPUTE = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True)
class Facts:
    """What preflight knows about the cluster; None means "not read" (that check is skipped)."""

    runtime_classes: frozenset[str] | None = None
    storage_classes: frozenset[str] | None = None
    ingress_classes: frozenset[str] | None = None
    priority_classes: frozenset[str] | None = None
    quotas: tuple[dict, ...] | None = None  # the namespace's ResourceQuotas
    limit_ranges: tuple[dict, ...] | None = None
    app_usage: Resources = field(default_factory=dict)  # what this app's live pods use now (their quota comes back)
    nodes: tuple[dict, ...] | None = None
    unserved: frozenset[tuple[str, str]] = frozenset()  # (apiVersion, kind) of the objects the server does not serve
    served_versions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind → apiVersions it is served in
    crds: dict[tuple[str, str], tuple[str, ...]] | None = None  # (group, kind) → versions its CRD serves


@dataclass(frozen=True)
class Gap:
    check: str  # runtime-class, storage-class, ingress-class, priority-class, quota, limit-range, capacity, api, crd
    objects: tuple[str, ...]  # "Deployment web", … (empty: the app as a whole)
    message: str
    fix: str

    def __str__(self) -> str:
        who = ", ".join(self.objects[:5]) + (f" and {len(self.objects) - 5} more" if len(self.objects) > 5 else "")
        return f"{self.check}: {self.message}" + (f" ({who})" if who else "") + f"\n    fix: {self.fix}"

    def to_json(self) -> dict:
        return {"check": self.check, "objects": list(self.objects), "message": self.message, "fix": self.fix}


# ---------------------------------------------------------------- reading the objects


def name_of(obj: dict) -> str:
    return f"{obj['kind']} {obj['metadata']['name']}"


def pod_spec(obj: dict) -> dict | None:
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return spec
    if obj["kind"] == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    if obj["kind"] in WORKLOADS:
        return ((spec.get("template") or {}).get("spec")) or {}
    return None


def _template_annotations(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}


def _min_replicas(objects: list[dict]) -> dict[tuple[str, str], int]:
    """HPA minReplicas per scaled workload (such workloads omit `replicas`)."""
    out = {}
    for o in objects:
        if o["kind"] == "HorizontalPodAutoscaler":
            ref = (o.get("spec") or {}).get("scaleTargetRef") or {}
            out[(ref.get("kind", ""), ref.get("name", ""))] = int((o.get("spec") or {}).get("minReplicas", 1))
    return out


def pods_of(obj: dict, scaled: dict[tuple[str, str], int], daemon_nodes: int) -> int:
    """How many pods this object keeps running (CronJobs: none in steady state)."""
    spec = obj.get("spec") or {}
    kind = obj["kind"]
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return int(spec.get("replicas", scaled.get((kind, obj["metadata"]["name"]), 1)))
    if kind == "Job":
        return int(spec.get("parallelism", 1))
    if kind == "DaemonSet":
        return daemon_nodes
    return 1 if kind == "Pod" else 0


def claims(obj: dict) -> Iterator[dict]:
    """PVC specs: PersistentVolumeClaims, and a StatefulSet's templates (one per replica)."""
    if obj["kind"] == "PersistentVolumeClaim":
        yield obj.get("spec") or {}
    elif obj["kind"] == "StatefulSet":
        replicas = int((obj.get("spec") or {}).get("replicas", 1))
        for t in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
            for _ in range(replicas):
                yield t.get("spec") or {}


def _storage(claim: dict) -> Decimal:
    return capacity.quantity(((claim.get("resources") or {}).get("requests") or {}).get("storage", 0))


# ---------------------------------------------------------------- the checks


def _missing_class(
    check: str, kind: str, known: frozenset[str] | None, uses: Iterable[tuple[str, str]], fix: str
) -> Iterator[Gap]:
    if known is None:
        return
    users: dict[str, list[str]] = {}
    for cls, who in uses:
        if cls and cls not in known:
            users.setdefault(cls, []).append(who)
    for cls, who in sorted(users.items()):
        have = ", ".join(sorted(known)) or "none"
        yield Gap(check, tuple(who), f'{kind} "{cls}" does not exist in the cluster (it has: {have})', fix)


def _classes(objects: list[dict], facts: Facts) -> Iterator[Gap]:
    specs = [(o, pod_spec(o)) for o in objects]
    yield from _missing_class(
        "runtime-class",
        "RuntimeClass",
        facts.runtime_classes,
        ((s.get("runtimeClassName", ""), name_of(o)) for o, s in specs if s is not None),
        "install the runtime and its RuntimeClass on the cluster, or change the service's runtimeClassName",
    )
    yield from _missing_class(
        "priority-class",
        "PriorityClass",
        facts.priority_classes,
        ((s.get("priorityClassName", ""), name_of(o)) for o, s in specs if s is not None),
        "create the PriorityClass, or change the pod template's priorityClassName",
    )
    yield from _missing_class(
        "storage-class",
        "StorageClass",
        facts.storage_classes,
        ((c.get("storageClassName") or "", name_of(o)) for o in objects for c in claims(o)),
        "use one of the cluster's StorageClasses (volumes.<name>.persistent.storageClass) or create it",
    )
    yield from _missing_class(
        "ingress-class",
        "IngressClass",
        facts.ingress_classes,
        (((o.get("spec") or {}).get("ingressClassName", ""), name_of(o)) for o in objects if o["kind"] == "Ingress"),
        "install the ingress controller for that class, or change public.className",
    )


def group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def is_custom(group: str) -> bool:
    return "." in group and not group.endswith((".k8s.io", ".kubernetes.io"))


def _apis(objects: list[dict], facts: Facts) -> Iterator[Gap]:
    shipped = {
        ((o.get("spec") or {}).get("group", ""), ((o.get("spec") or {}).get("names") or {}).get("kind", ""))
        for o in objects
        if o["kind"] == "CustomResourceDefinition"
    }
    users: dict[tuple[str, str], list[str]] = {}
    for o in objects:
        key = (o["apiVersion"], o["kind"])
        if key in facts.unserved and (group_of(o["apiVersion"]), o["kind"]) not in shipped:
            users.setdefault(key, []).append(name_of(o))
    for (api_version, kind), who in sorted(users.items()):
        group = group_of(api_version)
        crd = (facts.crds or {}).get((group, kind))
        if is_custom(group) and facts.crds is not None and crd is None:
            yield Gap(
                "crd",
                tuple(who),
                f"no CustomResourceDefinition for {kind} in group {group}",
                "install the operator or chart that defines it (its CRDs) before deploying",
            )
        elif crd is not None:
            yield Gap(
                "api",
                tuple(who),
                f"the {kind} CRD serves {', '.join(crd) or 'no versions'}, not {api_version.split('/')[-1]}",
                "use a served version in the manifest, or upgrade the CRD",
            )
        else:
            others = facts.served_versions.get(kind, ())
            yield Gap(
                "api",
                tuple(who),
                f"this server does not serve {kind} in {api_version}"
                + (f" (it serves it in {', '.join(others)})" if others else ""),
                f"use {others[0]}" if others else "check the cluster's Kubernetes version and enabled APIs",
            )


def _with_defaults(container: dict, ranges: tuple[dict, ...]) -> dict[str, Resources]:
    """A container's requests and limits after LimitRange defaulting and limit→request fallback."""
    res = container.get("resources") or {}
    limits = dict(res.get("limits") or {})
    requests = dict(res.get("requests") or {})
    for lr in ranges:
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            for k, v in (item.get("default") or {}).items():
                limits.setdefault(k, v)
            for k, v in (item.get("defaultRequest") or {}).items():
                requests.setdefault(k, v)
    merged = {**limits, **requests}
    return {
        "requests": {k: capacity.quantity(v) for k, v in merged.items()},
        "limits": {k: capacity.quantity(v) for k, v in limits.items()},
    }


def _containers(spec: dict) -> list[dict]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _outside(who: str, res: dict[str, Resources], bounds: dict[str, Resources]) -> Iterator[str]:
    """What `who` (requests and limits) does wrong against a LimitRange item's min/max."""
    for k, low in bounds["min"].items():
        got = res["requests"].get(k, Decimal(0))
        if got < low:
            yield f"{who} requests {k} {capacity.fmt(got, k)}, below the minimum {capacity.fmt(low, k)}"
    for k, high in bounds["max"].items():
        got = res["limits"].get(k)
        if got is None:
            yield f"{who} has no {k} limit; the maximum {capacity.fmt(high, k)} requires one"
        elif got > high:
            yield f"{who} limits {k} to {capacity.fmt(got, k)}, above the maximum {capacity.fmt(high, k)}"


def _range_problems(obj: dict, item: dict, ranges: tuple[dict, ...]) -> Iterator[str]:
    kind = item.get("type")
    bounds = {b: {k: capacity.quantity(v) for k, v in (item.get(b) or {}).items()} for b in ("min", "max")}
    spec = pod_spec(obj)
    if kind == "Container" and spec is not None:
        for c in _containers(spec):
            yield from _outside(f"container {c.get('name')}", _with_defaults(c, ranges), bounds)
    elif kind == "Pod" and spec is not None:
        pod = {"requests": capacity.pod_resources(spec), "limits": capacity.pod_resources(spec, "limits")}
        yield from _outside("the pod", pod, bounds)
    elif kind == "PersistentVolumeClaim":
        low, high = bounds["min"].get("storage"), bounds["max"].get("storage")
        for claim in claims(obj):
            size = _storage(claim)
            if (high is not None and size > high) or (low is not None and size < low):
                low_, high_ = (
                    capacity.fmt(low or Decimal(0), "storage"),
                    capacity.fmt(high, "storage") if high else "any",
                )
                yield f"a volume claim of {capacity.fmt(size, 'storage')} is outside {low_} to {high_}"


def _limit_ranges(objects: list[dict], facts: Facts) -> Iterator[Gap]:
    ranges = facts.limit_ranges or ()
    for lr in ranges:
        for item in (lr.get("spec") or {}).get("limits") or []:
            for o in objects:
                for problem in dict.fromkeys(_range_problems(o, item, ranges)):
                    yield Gap(
                        "limit-range",
                        (name_of(o),),
                        f"LimitRange {lr['metadata']['name']} ({item.get('type')}): {problem}",
                        "change the service's resources to fit the LimitRange, or have the LimitRange changed",
                    )


def _plural(kind: str) -> str:
    low = kind.lower()
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


def needs(objects: list[dict], facts: Facts) -> tuple[Resources, dict[str, list[str]]]:
    """The app's steady-state quota needs (resources and object counts), and who needs what."""
    scaled = _min_replicas(objects)
    nodes = [n for n in facts.nodes or () if capacity.usable(n)]
    total: Resources = {}
    why: dict[str, list[str]] = {}

    def add(key: str, amount: Decimal, who: str) -> None:
        if amount:
            total[key] = total.get(key, Decimal(0)) + amount
            why.setdefault(key, []).append(who)

    for o in objects:
        who = name_of(o)
        group = group_of(o["apiVersion"])
        add(f"count/{_plural(o['kind'])}" + (f".{group}" if group else ""), Decimal(1), who)
        if o["kind"] in ("Service", "ConfigMap", "Secret", "PersistentVolumeClaim", "ReplicationController"):
            add(_plural(o["kind"]), Decimal(1), who)
        service_type = (o.get("spec") or {}).get("type") if o["kind"] == "Service" else None
        if service_type in ("LoadBalancer", "NodePort"):
            add(f"services.{service_type.lower()}s", Decimal(1), who)
        for claim in claims(o):
            add("requests.storage", _storage(claim), who)
            if o["kind"] == "StatefulSet":
                add("persistentvolumeclaims", Decimal(1), who)
        spec = pod_spec(o)
        n = pods_of(o, scaled, len(nodes)) if spec is not None else 0
        if not n:
            continue
        add("pods", Decimal(n), who)
        defaulted = _defaulted(spec, facts.limit_ranges or ())
        for which in ("requests", "limits"):
            for k, v in capacity.pod_resources(defaulted, which).items():
                add(f"{which}.{k}", v * n, who)
                if which == "requests" and k in ("cpu", "memory"):
                    add(k, v * n, who)
    return total, why


def _defaulted(spec: dict, ranges: tuple[dict, ...]) -> dict:
    """The pod spec with LimitRange defaults filled into its containers' resources (as admission does)."""

    def fill(c: dict) -> dict:
        res = _with_defaults(c, ranges)
        return {**c, "resources": {w: {k: f"{v:f}" for k, v in res[w].items()} for w in ("requests", "limits")}}

    return {
        **spec,
        "containers": [fill(c) for c in spec.get("containers") or []],
        "initContainers": [fill(c) for c in spec.get("initContainers") or []],
    }


def _tracked(key: str) -> bool:
    """Quota keys `Facts.app_usage` covers (the app's pods); storage and object counts are not."""
    return key in ("pods", "cpu", "memory") or (
        key.startswith(("requests.", "limits.")) and key.split(".", 1)[1] != "storage"
    )


def _show(key: str, value: Decimal) -> str:
    base = key.split(".", 1)[-1] if key.startswith(("requests.", "limits.")) else key
    return capacity.fmt(value, base) if base in (*COMPUTE, "storage") else f"{value:f}"


def _unset(objects: list[dict], hard: Iterable[str], ranges: tuple[dict, ...]) -> Iterator[tuple[str, str, str]]:
    """(object, container, quota key) where a quota tracks a compute resource the container leaves unset."""
    for o in objects:
        spec = pod_spec(o)
        for c in (spec or {}).get("containers") or []:
            res = _with_defaults(c, ranges)
            for key in hard:
                which, _, resource = key.partition(".") if "." in key else ("requests", "", key)
                if which in ("requests", "limits") and resource in COMPUTE and resource not in res[which]:
                    yield name_of(o), c.get("name", ""), key


def _quotas(objects: list[dict], facts: Facts) -> Iterator[Gap]:
    if not facts.quotas:
        return
    need, why = needs(objects, facts)
    for q in facts.quotas:
        spec = q.get("spec") or {}
        if spec.get("scopes") or spec.get("scopeSelector"):
            continue  # scoped quotas apply to a subset of pods: not judged here
        hard = {k: capacity.quantity(v) for k, v in (spec.get("hard") or {}).items()}
        used = {k: capacity.quantity(v) for k, v in ((q.get("status") or {}).get("used") or {}).items()}
        name = q["metadata"]["name"]
        for key, limit in sorted(hard.items()):
            if key not in need:
                continue
            # Others' pods keep their share; this app's own pods are replaced, so theirs comes back.
            # Object counts and storage are judged for the app alone (its own objects are in `used`).
            others = used.get(key, Decimal(0)) - facts.app_usage.get(key, Decimal(0))
            room = limit - max(others, Decimal(0)) if _tracked(key) else limit
            if need[key] > room:
                yield Gap(
                    "quota",
                    tuple(dict.fromkeys(why[key])),
                    f"ResourceQuota {name}: the app needs {key}={_show(key, need[key])}, the quota leaves "
                    f"{_show(key, room)} (hard {_show(key, limit)})",
                    "raise the quota, or lower the services' replicas or resources",
                )
        for who, container, key in dict.fromkeys(_unset(objects, hard, facts.limit_ranges or ())):
            yield Gap(
                "quota",
                (who,),
                f"ResourceQuota {name} tracks {key}, so every container must set it; container {container} does not",
                f"set {key if key.startswith(('requests.', 'limits.')) else 'requests.' + key} in the service's "
                "resources (or have a LimitRange default it)",
            )


def _capacity(objects: list[dict], facts: Facts) -> Iterator[Gap]:
    if facts.nodes is None:
        return
    nodes = [n for n in facts.nodes if capacity.usable(n)]
    if capacity.autoscaled(facts.nodes):
        return  # nodes come on demand: the current ones do not bound the app
    if not nodes:
        yield Gap("capacity", (), "no schedulable node in the cluster", "add nodes, or uncordon/untaint one")
        return
    scaled = _min_replicas(objects)
    total: Resources = {}
    for o in objects:
        spec = pod_spec(o)
        if spec is None or capacity.autoscaled((), _template_annotations(o)):
            continue  # an autoscaler annotation on the pod template: nodes for it come on demand
        fits = [n for n in facts.nodes if capacity.usable(n, spec)]
        per_pod = {**capacity.pod_resources(spec), "pods": Decimal(1)}
        if not any(not capacity.short(per_pod, capacity.allocatable(n)) for n in fits):
            biggest = max(fits or facts.nodes, key=lambda n: capacity.allocatable(n).get("cpu", Decimal(0)))
            missing = capacity.short(per_pod, capacity.allocatable(biggest))
            yield Gap(
                "capacity",
                (name_of(o),),
                "one pod needs more than any node can hold"
                + (f": {capacity.describe_short(missing)} on {biggest['metadata']['name']}" if missing else "")
                + ("" if fits else " (no node matches its nodeSelector/tolerations)"),
                "lower the service's requests, or add a larger node",
            )
        n = pods_of(o, scaled, len(nodes))
        total = capacity.plus(total, capacity.times(per_pod, n))
    room: Resources = {}
    for node in nodes:
        room = capacity.plus(room, capacity.allocatable(node))
    missing = capacity.short(total, room)
    if missing:
        yield Gap(
            "capacity",
            (),
            f"the app's requests exceed what all {len(nodes)} schedulable node(s) can hold: "
            + capacity.describe_short(missing),
            "lower replicas or requests, or add nodes",
        )


def check(objects: list[dict], facts: Facts) -> list[Gap]:
    """Every gap between these objects and this cluster (empty: go ahead)."""
    return [
        *_apis(objects, facts),
        *_classes(objects, facts),
        *_limit_ranges(objects, facts),
        *_quotas(objects, facts),
        *_capacity(objects, facts),
    ]
