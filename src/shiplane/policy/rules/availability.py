"""Replicas, disruption budgets, spreading and update strategy.

Judged only where they help: a single-replica Deployment is not told to add a PDB (a PDB
over one pod blocks node drains), and nothing here applies to Jobs or DaemonSets.
"""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.context import name
from shiplane.policy.findings import Severity
from shiplane.policy.pods import SCALABLE, pod_spec

_REPLICATED = frozenset({"Deployment", "StatefulSet"})


def replicas(obj, ctx) -> int:
    hpa = ctx.hpa_for(obj)
    if hpa:
        return int((hpa.get("spec") or {}).get("minReplicas") or 1)
    value = (obj.get("spec") or {}).get("replicas", 1)
    return value if isinstance(value, int) else 1


@rule(
    "availability-replicas",
    Group.AVAILABILITY,
    Severity.LOW,
    "single replica behind a Service",
    why="With one replica behind a Service every rollout, node drain or crash is an outage.",
    fix="Run at least 2 replicas (or an HPA with minReplicas >= 2); suppress for singletons such as databases.",
    kinds=_REPLICATED,
)
def single_replica(obj, ctx):
    # Only pods that serve a Service turn a rollout into an outage; a queue worker just pauses.
    n = replicas(obj, ctx)
    if n == 1 and ctx.selecting(obj, "Service"):
        yield Hit(("spec", "replicas") if ctx.hpa_for(obj) is None else ("spec",), f"{n} replica")


@rule(
    "availability-pdb-missing",
    Group.AVAILABILITY,
    Severity.MEDIUM,
    "no PodDisruptionBudget",
    why="Without a PDB a node drain may evict every replica at once.",
    fix="Add a PodDisruptionBudget with maxUnavailable: 1 selecting the pods.",
    kinds=_REPLICATED,
)
def pdb_missing(obj, ctx):
    if replicas(obj, ctx) >= 2 and not ctx.selecting(obj, "PodDisruptionBudget"):
        yield Hit(("metadata", "name"))


def _int_or_percent(value, total: int) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return -(-int(value[:-1]) * total // 100)  # Kubernetes rounds up
    return None


@rule(
    "availability-pdb-blocks-eviction",
    Group.AVAILABILITY,
    Severity.HIGH,
    "PodDisruptionBudget allows no disruption",
    why="A PDB that allows zero evictions blocks node drains and cluster upgrades forever.",
    fix="Use maxUnavailable: 1 (or minAvailable below the replica count).",
    kinds={"PodDisruptionBudget"},
)
def pdb_blocks(obj, ctx):
    spec = obj.get("spec") or {}
    if "maxUnavailable" in spec:
        if spec["maxUnavailable"] in (0, "0%"):
            yield Hit(("spec", "maxUnavailable"), "maxUnavailable is 0")
        return
    if "minAvailable" not in spec:
        return
    if spec["minAvailable"] == "100%":
        yield Hit(("spec", "minAvailable"), "minAvailable is 100%")
        return
    for w in ctx.selected_workloads(spec.get("selector"), obj["metadata"].get("namespace") or ""):
        total = replicas(w, ctx)
        need = _int_or_percent(spec["minAvailable"], total)
        if need is not None and w.get("kind") in SCALABLE and need >= total:
            yield Hit(("spec", "minAvailable"), f"minAvailable {spec['minAvailable']} of {total} replicas ({name(w)})")


@rule(
    "availability-pdb-selects-nothing",
    Group.AVAILABILITY,
    Severity.LOW,
    "PodDisruptionBudget selects no pods",
    why="A budget that matches no pods protects nothing: usually a label typo.",
    fix="Make spec.selector match the workload's pod template labels.",
    kinds={"PodDisruptionBudget"},
)
def pdb_dangling(obj, ctx):
    namespace = obj["metadata"].get("namespace") or ""
    if ctx.has_workloads(namespace) and not ctx.selected_workloads((obj.get("spec") or {}).get("selector"), namespace):
        yield Hit(("spec", "selector"))


@rule(
    "availability-spread",
    Group.AVAILABILITY,
    Severity.LOW,
    "replicas may land on one node",
    why="Without anti-affinity or topology spread all replicas can share one node or zone and fail together.",
    fix="Add topologySpreadConstraints on kubernetes.io/hostname (and topology.kubernetes.io/zone).",
    kinds=_REPLICATED,
)
def spread(obj, ctx):
    found = pod_spec(obj)
    if not found or replicas(obj, ctx) < 2:
        return
    base, spec = found
    if spec.get("topologySpreadConstraints") or (spec.get("affinity") or {}).get("podAntiAffinity"):
        return
    yield Hit(base)


@rule(
    "availability-recreate-strategy",
    Group.AVAILABILITY,
    Severity.LOW,
    "Recreate update strategy without a reason",
    why="Recreate stops every pod before starting new ones: each rollout is an outage.",
    fix="Use RollingUpdate; Recreate is for pods sharing a ReadWriteOnce volume (then this rule stays quiet).",
    kinds={"Deployment"},
)
def recreate(obj, ctx):
    strategy = ((obj.get("spec") or {}).get("strategy") or {}).get("type")
    found = pod_spec(obj)
    claims = found and any("persistentVolumeClaim" in v for v in found[1].get("volumes") or [])
    if strategy == "Recreate" and not claims:
        yield Hit(("spec", "strategy", "type"))


@rule(
    "availability-hpa-with-replicas",
    Group.AVAILABILITY,
    Severity.MEDIUM,
    "replicas set on a workload an HPA scales",
    why="Every apply resets spec.replicas, undoing the autoscaler: a deploy under load scales the app down.",
    fix="Remove spec.replicas from the workload; let the HPA own it.",
    kinds=SCALABLE,
)
def hpa_replicas(obj, ctx):
    hpa = ctx.hpa_for(obj)
    if hpa and "replicas" in (obj.get("spec") or {}):
        yield Hit(("spec", "replicas"), f"scaled by HorizontalPodAutoscaler {name(hpa)!r}")


@rule(
    "availability-hpa-target-missing",
    Group.AVAILABILITY,
    Severity.MEDIUM,
    "HorizontalPodAutoscaler targets nothing in the input",
    why="An HPA whose target does not exist scales nothing: usually a renamed workload.",
    fix="Point spec.scaleTargetRef at the workload's kind and name.",
    kinds={"HorizontalPodAutoscaler"},
)
def hpa_target(obj, ctx):
    ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
    namespace = obj["metadata"].get("namespace") or ""
    kind = ref.get("kind", "")
    if ctx.has(kind, namespace) and ctx.find(kind, namespace, ref.get("name", "")) is None:
        yield Hit(("spec", "scaleTargetRef", "name"), f"{kind}/{ref.get('name')}")


RULES = [single_replica, pdb_missing, pdb_blocks, pdb_dangling, spread, recreate, hpa_replicas, hpa_target]
