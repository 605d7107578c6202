"""Readiness of Kubernetes objects as pure functions (after cli-utils' kstatus).

`compute(obj)` runs the generic checks (deletion, observedGeneration), then the
kind's own function. No I/O and no clock reads: callers pass objects in, and the
wait loops in `kube` drive it from watches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    CURRENT = "Current"  # reconciled and ready
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Result:
    state: State
    message: str

    @property
    def ready(self) -> bool:
        return self.state is State.CURRENT


def _cond(obj: dict, kind: str) -> dict | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def _deployment(obj: dict) -> Result:
    spec, st = obj.get("spec", {}), obj.get("status", {})
    want = spec.get("replicas", 1)
    updated, ready, available = (st.get(k, 0) for k in ("updatedReplicas", "readyReplicas", "availableReplicas"))
    total = st.get("replicas", 0)
    progressing = _cond(obj, "Progressing")
    counts = f"{updated}/{want} updated, {ready} ready, {available} available"
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Result(State.FAILED, f"progress deadline exceeded: {counts}")
    if spec.get("paused"):
        return Result(State.IN_PROGRESS, f"paused: {counts}")
    if updated < want:
        return Result(State.IN_PROGRESS, counts)
    if total > updated:
        return Result(State.IN_PROGRESS, f"{total - updated} old replicas pending termination; {counts}")
    if available < updated or ready < updated:
        return Result(State.IN_PROGRESS, counts)
    return Result(State.CURRENT, counts)


def _statefulset(obj: dict) -> Result:
    spec, st = obj.get("spec", {}), obj.get("status", {})
    want = spec.get("replicas", 1)
    ready = st.get("readyReplicas", 0)
    counts = f"{ready}/{want} ready"
    if spec.get("updateStrategy", {}).get("type", "RollingUpdate") == "RollingUpdate":
        partition = spec.get("updateStrategy", {}).get("rollingUpdate", {}).get("partition", 0)
        if st.get("updatedReplicas", 0) < want - partition:
            return Result(State.IN_PROGRESS, f"{st.get('updatedReplicas', 0)}/{want} updated, {counts}")
        if partition == 0 and st.get("updateRevision") != st.get("currentRevision"):
            return Result(State.IN_PROGRESS, f"revision {st.get('updateRevision')} rolling out, {counts}")
    if ready < want or st.get("replicas", 0) != want:
        return Result(State.IN_PROGRESS, counts)
    return Result(State.CURRENT, counts)


def _daemonset(obj: dict) -> Result:
    st = obj.get("status", {})
    want = st.get("desiredNumberScheduled", 0)
    updated, available = st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0)
    counts = f"{updated}/{want} updated, {available} available"
    if updated < want or available < want:
        return Result(State.IN_PROGRESS, counts)
    return Result(State.CURRENT, counts)


def _job(obj: dict) -> Result:
    st = obj.get("status", {})
    for kind, state in (("Failed", State.FAILED), ("Complete", State.CURRENT)):
        c = _cond(obj, kind)
        if c and c.get("status") == "True":
            return Result(state, f"{kind.lower()}: {c.get('reason') or ''} {c.get('message') or ''}".strip())
    return Result(
        State.IN_PROGRESS,
        f"{st.get('active', 0)} active, {st.get('succeeded', 0)} succeeded, {st.get('failed', 0)} failed",
    )


def _pvc(obj: dict) -> Result:
    phase = obj.get("status", {}).get("phase", "Pending")
    if phase == "Bound":
        return Result(State.CURRENT, "Bound")
    if phase == "Lost":
        return Result(State.FAILED, "volume lost")
    return Result(State.IN_PROGRESS, phase)


def _pod(obj: dict) -> Result:
    st = obj.get("status", {})
    phase = st.get("phase", "Pending")
    if phase == "Succeeded":
        return Result(State.CURRENT, "Succeeded")
    if phase == "Failed":
        return Result(State.FAILED, st.get("message") or st.get("reason") or "Failed")
    for cs in st.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"):
            return Result(State.FAILED, f"container {cs['name']}: {waiting['reason']}")
    ready = _cond(obj, "Ready")
    if ready and ready.get("status") == "True":
        return Result(State.CURRENT, "Ready")
    scheduled = _cond(obj, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        return Result(State.IN_PROGRESS, f"unschedulable: {scheduled.get('message', '')}")
    return Result(State.IN_PROGRESS, f"{phase}, not ready")


def _node(obj: dict) -> Result:
    ready = _cond(obj, "Ready")
    if ready and ready.get("status") == "True":
        return Result(State.CURRENT, "Ready")
    return Result(State.IN_PROGRESS, "not Ready")


KINDS: dict[str, Callable[[dict], Result]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "Job": _job,
    "PersistentVolumeClaim": _pvc,
    "Pod": _pod,
    "Node": _node,
}


def compute(obj: dict | None) -> Result:
    """The readiness of `obj` (None means it does not exist)."""
    if obj is None:
        return Result(State.NOT_FOUND, "not found")
    meta = obj.get("metadata", {})
    if meta.get("deletionTimestamp"):
        return Result(State.TERMINATING, "being deleted")
    observed = obj.get("status", {}).get("observedGeneration")
    if observed is not None and observed < meta.get("generation", 0):
        return Result(State.IN_PROGRESS, "the controller has not seen the latest change yet")
    check = KINDS.get(obj.get("kind", ""))
    return check(obj) if check else Result(State.CURRENT, "exists")
