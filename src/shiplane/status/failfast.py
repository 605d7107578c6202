"""Fail fast: rollout conditions that will not fix themselves, as data (condition → verdict).

Pure. The rollout loop hands in what its watches deliver (workloads, their pods,
ReplicaSets and events) and the time; `Watchdog` remembers since when each
condition holds and returns a `Verdict` once it has held for its rule's grace
period. A verdict names the workload, the cause and the fix; the caller fails the
rollout with it (and the deploy rolls back as on any rollout failure).

Only the *current* revision counts: pods of a Deployment's newest ReplicaSet or a
StatefulSet's update revision, and FailedCreate events newer than shiplane's last
apply of the workload, not followed by a SuccessfulCreate, from a controller that
still lacks pods. So a crash-looping
old pod, or an hour-old event from an earlier attempt, never fails a new rollout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shiplane.status import capacity

CRASH_RESTARTS = 3  # CrashLoopBackOff with at least this many restarts is a verdict
REVISION = "deployment.kubernetes.io/revision"


class On(StrEnum):
    POD = "pod"  # matched against each pod of the current revision
    EVENT = "event"  # matched against each current FailedCreate event of the workload


@dataclass(frozen=True)
class Context:
    """What a rule may look at besides the item: the workload and the nodes' free room."""

    workload: Workload
    rooms: list[capacity.NodeRoom] | None = None  # None: not read (yet), or not readable
    nodes: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    on: On
    condition: str  # what it matches, in words (docs, messages)
    grace: float  # seconds the condition must hold before it is a verdict
    cause: str
    fix: str
    match: Callable[[dict, Context], str | None] = field(repr=False)  # the item's detail if it matches


@dataclass(frozen=True)
class Workload:
    """One tracked workload as the watches show it now."""

    kind: str
    name: str
    template: dict  # its pod template (annotations are read)
    pods: tuple[dict, ...] = ()  # pods of the current revision, not being deleted
    failures: tuple[dict, ...] = ()  # current FailedCreate events

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    workload: str
    detail: str
    held: float  # seconds the condition has held

    def __str__(self) -> str:
        return (
            f"{self.workload}: {self.rule.cause}: {self.detail} "
            f"(fail-fast rule {self.rule.id}, held {self.held:.0f}s)\n  fix: {self.rule.fix}"
        )


# ---------------------------------------------------------------- time and ownership


def parse_time(value: object) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def event_time(event: dict) -> datetime | None:
    """When an event last happened (core/v1 events fill different fields by producer)."""
    series = event.get("series") or {}
    stamps = [
        event.get("lastTimestamp"),
        series.get("lastObservedTime"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        (event.get("metadata") or {}).get("creationTimestamp"),
    ]
    times = [t for t in map(parse_time, stamps) if t is not None]
    return max(times) if times else None


def applied_at(obj: dict) -> datetime | None:
    """When shiplane last applied this object (server clock, from managedFields)."""
    times = [
        parse_time(m.get("time"))
        for m in (obj.get("metadata") or {}).get("managedFields") or []
        if m.get("manager") == "shiplane" and m.get("operation") == "Apply"
    ]
    times = [t for t in times if t is not None]
    return max(times) if times else None


def _seconds(t: datetime) -> datetime:
    return t.replace(microsecond=0)  # core events carry whole seconds


def _owner(obj: dict) -> tuple[str, str] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("kind", ""), ref.get("name", "")
    return None


def _template(workload: dict) -> dict:
    return ((workload.get("spec") or {}).get("template")) or {}


def observe(
    workloads: Iterable[dict], pods: Iterable[dict], replicasets: Iterable[dict], events: Iterable[dict]
) -> tuple[list[Workload], frozenset[str]]:
    """Per tracked workload: its current pods and current FailedCreate events.

    Also returns the uids of pods the rollouts replace (older revisions): their
    room on the nodes comes back, so they do not count against an unschedulable pod.
    """
    pods, replicasets, events = list(pods), list(replicasets), list(events)
    by_owner: dict[tuple[str, str], list[dict]] = {}
    for pod in pods:
        owner = _owner(pod)
        if owner:
            by_owner.setdefault(owner, []).append(pod)
    out: list[Workload] = []
    leaving: set[str] = set()
    for w in workloads:
        kind, name = w["kind"], w["metadata"]["name"]
        mine: list[dict] = []
        # who emits FailedCreate for its pods, if it still lacks pods (a FailedCreate is history once it has them)
        creators: set[tuple[str, str]] = {(kind, name)} if _short(w) else set()
        if kind == "Deployment":
            revision = (w["metadata"].get("annotations") or {}).get(REVISION)
            for rs in replicasets:
                if _owner(rs) != ("Deployment", name):
                    continue
                rs_pods = by_owner.get(("ReplicaSet", rs["metadata"]["name"]), [])
                if revision and (rs["metadata"].get("annotations") or {}).get(REVISION) == revision:
                    mine += rs_pods
                    if _short(rs):
                        creators.add(("ReplicaSet", rs["metadata"]["name"]))
                else:
                    leaving.update(p["metadata"].get("uid", "") for p in rs_pods)
        else:
            update = (w.get("status") or {}).get("updateRevision") if kind == "StatefulSet" else None
            for pod in by_owner.get((kind, name), []):
                if update and (pod["metadata"].get("labels") or {}).get("controller-revision-hash") != update:
                    leaving.add(pod["metadata"].get("uid", ""))
                else:
                    mine.append(pod)
        since = applied_at(w)
        out.append(
            Workload(
                kind,
                name,
                _template(w),
                tuple(p for p in mine if not p["metadata"].get("deletionTimestamp")),
                tuple(_current_failures(events, creators, since)),
            )
        )
    return out, frozenset(leaving - {""})


def _short(creator: dict) -> bool:
    """The controller still has pods to create (so its last FailedCreate may still stand)."""
    kind, spec, st = creator.get("kind"), creator.get("spec") or {}, creator.get("status") or {}
    if kind in ("ReplicaSet", "StatefulSet"):
        return st.get("replicas", 0) < spec.get("replicas", 1)
    if kind == "DaemonSet":
        return st.get("currentNumberScheduled", 0) < st.get("desiredNumberScheduled", 0)
    if kind == "Job":
        done = any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in st.get("conditions") or []
        )
        return not done and st.get("active", 0) < spec.get("parallelism", 1)
    return kind != "Deployment"  # a Deployment creates ReplicaSets, not pods


def _current_failures(events: list[dict], creators: set[tuple[str, str]], since: datetime | None) -> list[dict]:
    """FailedCreate events of `creators` newer than `since`, not followed by a SuccessfulCreate."""
    created: dict[tuple[str, str], datetime] = {}
    failed: list[tuple[tuple[str, str], datetime, dict]] = []
    for e in events:
        involved = e.get("involvedObject") or {}
        key = (involved.get("kind", ""), involved.get("name", ""))
        when = event_time(e)
        if key not in creators or when is None:
            continue
        if e.get("reason") == "SuccessfulCreate":
            created[key] = max(created.get(key, when), when)
        elif e.get("reason") == "FailedCreate" and (since is None or _seconds(when) >= _seconds(since)):
            failed.append((key, when, e))
    return [e for key, when, e in failed if key not in created or _seconds(when) >= _seconds(created[key])]


# ---------------------------------------------------------------- the rules


def _containers(pod: dict) -> Iterable[dict]:
    st = pod.get("status") or {}
    yield from st.get("initContainerStatuses") or []
    yield from st.get("containerStatuses") or []


def _waiting(pod: dict, reasons: tuple[str, ...], min_restarts: int = 0) -> str | None:
    for cs in _containers(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in reasons and cs.get("restartCount", 0) >= min_restarts:
            what = f"pod {pod['metadata']['name']} container {cs.get('name')}: {waiting['reason']}"
            message = (waiting.get("message") or "").strip()
            return f"{what}: {message[:300]}" if message else what
    return None


def _image_pull(pod: dict, _: Context) -> str | None:
    return _waiting(pod, ("ErrImagePull", "ImagePullBackOff"))


def _invalid_image(pod: dict, _: Context) -> str | None:
    return _waiting(pod, ("InvalidImageName", "ErrImageNeverPull"))


def _config_error(pod: dict, _: Context) -> str | None:
    return _waiting(pod, ("CreateContainerConfigError",))


def _crash_loop(pod: dict, _: Context) -> str | None:
    found = _waiting(pod, ("CrashLoopBackOff",), CRASH_RESTARTS)
    if found is None:
        return None
    for cs in _containers(pod):
        last = (cs.get("lastState") or {}).get("terminated") or {}
        if last and (cs.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff":
            exit_ = f"last exit {last.get('exitCode')} {last.get('reason') or ''}".rstrip()
            return f"{found} ({cs.get('restartCount', 0)} restarts, {exit_})"
    return found


def _unschedulable(pod: dict, ctx: Context) -> str | None:
    scheduled = next(
        (c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"), None
    )
    if not scheduled or scheduled.get("status") != "False" or scheduled.get("reason") != "Unschedulable":
        return None
    if ctx.rooms is None or not ctx.rooms:
        return None  # without the nodes' room we cannot tell "never" from "not yet"
    annotations = (ctx.workload.template.get("metadata") or {}).get("annotations") or {}
    if capacity.autoscaled(ctx.nodes, annotations):
        return None  # an autoscaler may add a node that fits
    spec = pod.get("spec") or {}
    if capacity.fits_somewhere(spec, ctx.rooms):
        return None  # some node has room: not a capacity problem we can judge
    need = {**capacity.pod_resources(spec), "pods": Decimal(1)}
    best = min(
        ctx.rooms,
        key=lambda r: (not capacity.usable(r.node, spec), len(capacity.short(need, r.free)), -r.free.get("cpu", 0)),
    )
    missing = capacity.short(need, best.free)
    return (
        f"pod {pod['metadata']['name']} needs more than any node has free "
        f"(e.g. {best.name}: {capacity.describe_short(missing) or 'not usable by this pod'}); "
        f"scheduler: {(scheduled.get('message') or '').strip()[:200]}"
    )


def _event(pattern: str) -> Callable[[dict, Context], str | None]:
    regex = re.compile(pattern, re.IGNORECASE)

    def match(event: dict, _: Context) -> str | None:
        message = (event.get("message") or "").strip()
        if not regex.search(message):
            return None
        involved = event.get("involvedObject") or {}
        return f"{involved.get('kind')} {involved.get('name')}: {message[:400]}"

    return match


RULES: tuple[Rule, ...] = (
    Rule(
        "runtime-class-missing",
        On.EVENT,
        'FailedCreate: pod rejected, RuntimeClass "…" not found',
        0,
        "pods cannot be created",
        "create the RuntimeClass in the cluster, or change the service's runtimeClassName",
        _event(r"RuntimeClass .* not found"),
    ),
    Rule(
        "priority-class-missing",
        On.EVENT,
        "FailedCreate: no PriorityClass with that name",
        0,
        "pods cannot be created",
        "create the PriorityClass, or change the pod template's priorityClassName",
        _event(r"no PriorityClass with name"),
    ),
    Rule(
        "quota-exceeded",
        On.EVENT,
        "FailedCreate: exceeded quota (not cleared by a later SuccessfulCreate)",
        10,
        "the namespace's ResourceQuota refuses the pods",
        "raise the ResourceQuota, lower the service's requests/limits or replicas, or free quota in the namespace",
        _event(r"exceeded quota|must specify limits|must specify requests"),
    ),
    Rule(
        "admission-denied",
        On.EVENT,
        "FailedCreate: any other 'forbidden' (PodSecurity, LimitRange, an admission webhook or policy)",
        5,
        "an admission check refuses the pods",
        "change the pod template to satisfy the named policy, or have the policy changed",
        _event(r"forbidden|denied the request|admission webhook"),
    ),
    Rule(
        "config-error",
        On.POD,
        "a container waits in CreateContainerConfigError (a missing ConfigMap/Secret or key)",
        10,
        "a container cannot be configured",
        "create the ConfigMap/Secret and key named in the message, or stop referring to it",
        _config_error,
    ),
    Rule(
        "invalid-image",
        On.POD,
        "a container waits in InvalidImageName or ErrImageNeverPull",
        0,
        "the image reference cannot be used",
        "correct the service's image (name[:tag][@sha256:digest])",
        _invalid_image,
    ),
    Rule(
        "image-pull",
        On.POD,
        "a container waits in ErrImagePull/ImagePullBackOff",
        20,
        "the image cannot be pulled",
        "check the image name and tag exist in the registry, and the pull credentials (imagePullSecrets)",
        _image_pull,
    ),
    Rule(
        "crash-loop",
        On.POD,
        f"a container in CrashLoopBackOff with at least {CRASH_RESTARTS} restarts",
        0,
        "a container keeps crashing",
        "read its logs (kubectl logs --previous); an OOMKilled exit needs a higher memory limit",
        _crash_loop,
    ),
    Rule(
        "unschedulable",
        On.POD,
        "a pod is Unschedulable and no usable node has room for its requests, with no autoscaler",
        15,
        "pods cannot be scheduled",
        "lower the service's requests, add nodes (or larger ones), or free room on the nodes",
        _unschedulable,
    ),
)


# ---------------------------------------------------------------- the watchdog


@dataclass(frozen=True)
class Check:
    verdicts: list[Verdict]
    started: list[Verdict]  # conditions seen for the first time (held 0 s), to tell the user


class Watchdog:
    """Remembers since when each (rule, workload) condition holds; `check` is pure given `now`."""

    def __init__(self, rules: Iterable[Rule] = RULES) -> None:
        self.rules = tuple(rules)
        self.since: dict[tuple[str, str], float] = {}

    def holding(self, workload: Workload, ctx: Context) -> dict[str, tuple[Rule, str]]:
        """rule id → (rule, detail of the first item it matched); each item goes to its first rule."""
        found: dict[str, tuple[Rule, str]] = {}
        for on, items in ((On.POD, workload.pods), (On.EVENT, workload.failures)):
            for item in items:
                for rule in (r for r in self.rules if r.on is on):
                    detail = rule.match(item, ctx)
                    if detail:
                        found.setdefault(rule.id, (rule, detail))
                        break
        return found

    def check(
        self,
        workloads: Iterable[Workload],
        now: float,
        *,
        rooms: list[capacity.NodeRoom] | None = None,
        nodes: Iterable[dict] = (),
    ) -> Check:
        nodes = tuple(nodes)
        active: dict[tuple[str, str], tuple[Rule, str]] = {}
        for w in workloads:
            for rule_id, (rule, detail) in self.holding(w, Context(w, rooms, nodes)).items():
                active[(rule_id, str(w))] = (rule, detail)
        started = [Verdict(r, key[1], detail, 0.0) for key, (r, detail) in active.items() if key not in self.since]
        self.since = {key: self.since.get(key, now) for key in active}
        verdicts = []
        for key, (rule, detail) in active.items():
            held = now - self.since[key]
            if held >= rule.grace:
                verdicts.append(Verdict(rule, key[1], detail, held))
        return Check(verdicts, started)


def needs_rooms(workloads: Iterable[Workload]) -> bool:
    """Some current pod is Unschedulable: the nodes' room is worth reading."""
    return any(
        c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
        for w in workloads
        for p in w.pods
        for c in (p.get("status") or {}).get("conditions") or []
    )
