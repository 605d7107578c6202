"""Read-only actions: plan (server-side dry-run diff), history, status, unlock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from shiplane import planning, status
from shiplane.actions import preflight
from shiplane.actions.rollout import _immutable, _pod_problems, live_objects
from shiplane.actions.target import Target, effective_outcome
from shiplane.errors import KubeError
from shiplane.kube import Ref
from shiplane.planning.compare import compare
from shiplane.releases import Release
from shiplane.releases.history import applied, last_good
from shiplane.releases.lock import LeaseView, force_unlock


def probe(target: Target, objects: list[dict], releases: list[Release] | None = None) -> dict[Ref, planning.Probe]:
    """Pair every object with its live version and what applying it would make of it.

    Only objects that differ from what the last good release applied, or whose live fields
    drifted (`planning.compare`), are dry-run (concurrently); the rest predict themselves.
    """
    if target.kube.get(Ref("v1", "Namespace", target.namespace)) is None:
        return {Ref.of(o): planning.Probe(None, o) for o in objects}  # all new
    live = live_objects(target.kube, target.namespace, objects)
    verdicts = compare(objects, applied(releases or []), live)
    same = {ref: planning.Probe(live[ref], live[ref]) for ref, v in verdicts.items() if not v.send}

    def one(obj: dict) -> tuple[Ref, planning.Probe]:
        ref = Ref.of(obj)
        try:
            return ref, planning.Probe(live.get(ref), target.kube.apply(obj, dry_run=True))
        except KubeError as err:
            if _immutable(err):
                return ref, planning.Probe(live.get(ref), None, immutable=err.message)
            raise

    with ThreadPoolExecutor(max_workers=8) as pool:
        return same | dict(pool.map(one, [o for o in objects if Ref.of(o) not in same]))


def plan(target: Target, objects: list[dict], *, rules: list[dict] | None = None, prune_volumes: bool = False):
    history = target.store().list()
    result = planning.make(
        objects,
        probe(target, objects, history),
        history=history,
        rules=planning.rules(rules),
        prune_volumes=prune_volumes,
    )

    # Preflight: the gaps a deploy would refuse (shown with the plan).
    gaps, notes = preflight.gaps(target, objects)
    return replace(result, gaps=tuple(gaps), notes=tuple(notes))


def history(target: Target) -> list[dict]:
    out = []
    for r in target.store().list():
        row = r.summary()
        row["outcome"] = str(effective_outcome(r, target))
        out.append(row)
    return out


@dataclass(frozen=True)
class WorkloadStatus:
    kind: str
    name: str
    state: str
    message: str
    desired: int | None
    ready: int | None
    restarts: int
    problems: list[str]


def _restarts(pods: list[dict]) -> tuple[int, list[str]]:
    total, notes = 0, []
    for pod in pods:
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            total += cs.get("restartCount", 0)
            last = (cs.get("lastState") or {}).get("terminated") or {}
            if last.get("reason") == "OOMKilled":
                notes.append(
                    f"pod {pod['metadata']['name']} container {cs['name']}: OOMKilled (raise its memory limit)"
                )
    return total, notes


def pods_by_label(pods: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Pods under each of their labels, so a selector's candidates are found without scanning every pod
    (200 workloads x 200 pods was most of `status`'s time)."""
    index: dict[tuple[str, str], list[dict]] = {}
    for pod in pods:
        for item in (pod["metadata"].get("labels") or {}).items():
            index.setdefault(item, []).append(pod)
    return index


def selected(index: dict[tuple[str, str], list[dict]], pods: list[dict], match: dict[str, str]) -> list[dict]:
    """The pods `match` (a matchLabels) selects; an empty one selects all, as before."""
    if not match:
        return list(pods)
    rarest = min(match.items(), key=lambda item: len(index.get(item, ())))  # part-of=app picks every pod
    return [
        p
        for p in index.get(rarest, [])
        if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in match.items())
    ]


def workload_status(target: Target, *, pods: list[dict] | None = None) -> tuple[Release | None, list[WorkloadStatus]]:
    """`pods`: the app's pods, when the caller listed them already."""
    current = last_good(target.store().list())
    if current is None:
        return None, []
    workloads = [
        o for o in current.objects if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
    ]
    live = live_objects(target.kube, target.namespace, workloads)
    if pods is None:
        pods = target.kube.list(
            "v1", "Pod", namespace=target.namespace, label_selector=f"app.kubernetes.io/part-of={target.app}"
        )
    by_label = pods_by_label(pods)
    by_name = {p["metadata"]["name"]: p for p in pods}
    out = []
    for obj in workloads:
        ref = Ref.of(obj)
        item = live.get(ref)
        if item is not None:
            item = {**item, "kind": obj["kind"]}
        result = status.compute(item)
        mine = selected(by_label, pods, (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {})
        restarts, notes = _restarts(mine) if obj["kind"] != "CronJob" else (0, [])
        st = (item or {}).get("status", {})
        out.append(
            WorkloadStatus(
                obj["kind"],
                ref.name,
                str(result.state),
                result.message,
                (item or {}).get("spec", {}).get("replicas"),
                st.get("readyReplicas"),
                restarts,
                notes + (_pod_problems(item, by_name) if item and not result.ready else []),
            )
        )
    return current, out


def unlock(target: Target) -> LeaseView | None:
    return force_unlock(target.kube, namespace=target.namespace, app=target.lock_key)


UNDECIDED = (
    "a Secret of a spec secret still in use: the next deploy prunes it only if the value changed (not read here)"
)


def prune_only(target: Target, objects: list[dict], *, prune_volumes: bool = False) -> planning.Pruning:
    """What the next deploy would prune and keep, from the release records and the spec's structure.

    `objects` come from `desired.structure` (no secret values), so their Secret names are not the
    real ones: old Secrets of a spec secret the stage still uses are listed as kept, undecided."""
    in_use = {(o["metadata"].get("labels") or {}).get("shiplane.io/secret") for o in objects if o["kind"] == "Secret"}
    found = planning.pruning(
        [o for o in objects if o["kind"] != "Secret"], target.store().list(), prune_volumes=prune_volumes
    )
    undecided = [r for r in found.prune if r["kind"] == "Secret" and r["name"].rpartition("-")[0] in in_use]
    return planning.Pruning(
        tuple(r for r in found.prune if r not in undecided),
        found.retain,
        (*found.kept, *((r, UNDECIDED) for r in undecided)),
    )
