"""The live status tree of a stage: workload → revision → pods, with events and drift. Pure.

`build` takes what the cluster holds (workloads, their ReplicaSets / ControllerRevisions / Jobs,
pods, events, and the drift of the release's objects) and returns typed nodes with `to_json()`.
`status`, `events`, the dashboard and `--watch` all read the same tree; only the reading (an
action) and the rendering (the CLI, the dashboard) differ.

Links follow the API's own: a ReplicaSet or Job belongs to its workload by ownerReference uid, a
pod to its ReplicaSet or Job by ownerReference, and a StatefulSet's or DaemonSet's pod to its
ControllerRevision by the `controller-revision-hash` label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shiplane.observing.drift import Drift
from shiplane.status.capacity import quantity

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
REVISION_KIND = {
    "Deployment": "ReplicaSet",
    "StatefulSet": "ControllerRevision",
    "DaemonSet": "ControllerRevision",
    "CronJob": "Job",
}
REVISION = "deployment.kubernetes.io/revision"
EVENTS_PER_OBJECT = 3  # the newest Warning events kept per object


def timestamp(value: str | None) -> float | None:
    """An API timestamp (RFC 3339, `Z` or microseconds) as epoch seconds."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class EventNote:
    type: str
    reason: str
    message: str
    count: int
    last: float | None  # epoch seconds of the last occurrence
    kind: str = ""  # the object it is about
    name: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


def event_note(ev: dict) -> EventNote:
    """A core/v1 (or events.k8s.io/v1 read through core/v1) Event, reduced to what a reader needs."""
    involved = ev.get("involvedObject") or ev.get("regarding") or {}
    series = ev.get("series") or {}
    last = (
        timestamp(ev.get("lastTimestamp"))
        or timestamp(series.get("lastObservedTime"))
        or timestamp(ev.get("eventTime"))
        or timestamp((ev.get("metadata") or {}).get("creationTimestamp"))
    )
    return EventNote(
        type=ev.get("type") or "Normal",
        reason=ev.get("reason") or "",
        message=(ev.get("message") or ev.get("note") or "").strip(),
        count=int(ev.get("count") or series.get("count") or 1),
        last=last,
        kind=involved.get("kind", ""),
        name=involved.get("name", ""),
    )


@dataclass(frozen=True)
class ContainerNode:
    name: str
    image: str
    digest: str | None  # from the status' imageID when the runtime reported one
    ready: bool
    restarts: int
    state: str  # running | waiting: <reason> | terminated: <reason> | unknown
    last_termination: str | None  # e.g. "OOMKilled (exit 137)"
    # From metrics.k8s.io (None where it is not served or has no sample for the pod yet) and the spec.
    usage: dict[str, str] | None = None  # {"cpu": "5m", "memory": "120Mi"} as reported
    limits: dict[str, str] | None = None  # the container's cpu/memory limits

    def share(self, resource: str) -> float | None:
        """Usage as a share of the limit (memory: what an OOM kill is measured against)."""
        used, limit = (self.usage or {}).get(resource), (self.limits or {}).get(resource)
        if used is None or not limit or quantity(limit) <= 0:
            return None
        return float(quantity(used) / quantity(limit))

    @property
    def near_memory_limit(self) -> bool:
        share = self.share("memory")
        return share is not None and share >= NEAR_LIMIT

    def usage_text(self) -> str:
        """`mem 120Mi/128Mi (94%)  cpu 5m/200m`; empty without usage."""
        if not self.usage:
            return ""
        parts = []
        for resource, label, shown in (("memory", "mem", _mebibytes), ("cpu", "cpu", _millicores)):
            if resource not in self.usage:
                continue
            limit = (self.limits or {}).get(resource)
            share = self.share(resource)
            text = f"{label} {shown(self.usage[resource])}" + (f"/{shown(limit)}" if limit else " (no limit)")
            parts.append(text + (f" ({share:.0%})" if share is not None else ""))
        return "  ".join(parts)

    def to_json(self) -> dict:
        return {
            **self.__dict__,
            "memory_share": self.share("memory"),
            "cpu_share": self.share("cpu"),
            "near_memory_limit": self.near_memory_limit,
        }


NEAR_LIMIT = 0.9  # memory at or past this share of its limit: the next spike is an OOM kill


def _mebibytes(value: str) -> str:
    return f"{quantity(value) / 2**20:.0f}Mi"


def _millicores(value: str) -> str:
    return f"{quantity(value) * 1000:.0f}m"


@dataclass(frozen=True)
class PodNode:
    name: str
    phase: str
    ready: str  # "ready/containers"
    restarts: int
    node: str | None
    age: float | None  # seconds
    containers: tuple[ContainerNode, ...]
    warnings: tuple[EventNote, ...] = ()
    reason: str | None = None  # the pod's own status reason (Evicted, …)

    @property
    def healthy(self) -> bool:
        return self.phase == "Succeeded" or (self.phase == "Running" and all(c.ready for c in self.containers))

    def to_json(self) -> dict:
        return {
            **{k: v for k, v in self.__dict__.items() if k not in ("containers", "warnings")},
            "containers": [c.to_json() for c in self.containers],
            "warnings": [w.to_json() for w in self.warnings],
        }


@dataclass(frozen=True)
class RevisionNode:
    kind: str  # ReplicaSet | ControllerRevision | Job
    name: str
    revision: int | None
    current: bool
    desired: int | None
    ready: int | None
    pods: tuple[PodNode, ...]
    warnings: tuple[EventNote, ...] = ()

    def to_json(self) -> dict:
        return {
            **{k: v for k, v in self.__dict__.items() if k not in ("pods", "warnings")},
            "pods": [p.to_json() for p in self.pods],
            "warnings": [w.to_json() for w in self.warnings],
        }


@dataclass(frozen=True)
class WorkloadNode:
    kind: str
    name: str
    exists: bool
    desired: int | None
    ready: int | None
    age: float | None
    revisions: tuple[RevisionNode, ...]
    pods: tuple[PodNode, ...] = ()  # pods no revision claims (a Job's own, or orphans)
    warnings: tuple[EventNote, ...] = ()
    drift: tuple[str, ...] = ()  # "path (by manager)" per drifted field; empty: not drifted

    @property
    def drifted(self) -> bool:
        return bool(self.drift)

    def all_pods(self) -> list[PodNode]:
        return [*(p for r in self.revisions for p in r.pods), *self.pods]

    def to_json(self) -> dict:
        return {
            **{k: v for k, v in self.__dict__.items() if k not in ("revisions", "pods", "warnings", "drift")},
            "drifted": self.drifted,
            "drift": list(self.drift),
            "restarts": sum(p.restarts for p in self.all_pods()),
            "revisions": [r.to_json() for r in self.revisions],
            "pods": [p.to_json() for p in self.pods],
            "warnings": [w.to_json() for w in self.warnings],
        }


@dataclass(frozen=True)
class Tree:
    app: str
    stage: str
    namespace: str
    revision: int | None  # the release the tree is of; None: nothing deployed
    workloads: tuple[WorkloadNode, ...]
    drifted: tuple[Drift, ...] = ()  # every drifted object of the release (workloads and others)
    objects: int = 0  # objects the release applied

    def summary(self) -> str:
        if self.revision is None:
            return "nothing deployed"
        return f"{len(self.drifted)} of {self.objects} object(s) drifted" if self.drifted else "no drift"

    def to_json(self) -> dict:
        return {
            "app": self.app,
            "stage": self.stage,
            "namespace": self.namespace,
            "revision": self.revision,
            "workloads": [w.to_json() for w in self.workloads],
            "drifted": [d.to_json() for d in self.drifted],
            "drift_summary": self.summary(),
        }

    def owners(self) -> dict[tuple[str, str], str]:
        """(kind, name) of every object in the tree → the workload it belongs to."""
        out: dict[tuple[str, str], str] = {}
        for w in self.workloads:
            out[(w.kind, w.name)] = w.name
            for r in w.revisions:
                out[(r.kind, r.name)] = w.name
                for p in r.pods:
                    out[("Pod", p.name)] = w.name
            for p in w.pods:
                out[("Pod", p.name)] = w.name
        return out


# ---- building ------------------------------------------------------------------------------------


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _age(obj: dict, now: float) -> float | None:
    created = timestamp(_meta(obj).get("creationTimestamp"))
    return None if created is None else max(0.0, now - created)


def _owner_uids(obj: dict) -> set[str]:
    return {o.get("uid", "") for o in _meta(obj).get("ownerReferences") or []}


def _digest(image_id: str | None) -> str | None:
    if image_id and "@" in image_id:
        return image_id.rsplit("@", 1)[1]
    if image_id and image_id.startswith("sha256:"):
        return image_id
    return None


def _state(state: dict | None) -> str:
    state = state or {}
    if "running" in state:
        return "running"
    for key in ("waiting", "terminated"):
        if key in state:
            reason = (state[key] or {}).get("reason")
            return f"{key}: {reason}" if reason else key
    return "unknown"


def _termination(cs: dict) -> str | None:
    """The last termination (the current one if the container is terminated now)."""
    term = ((cs.get("state") or {}).get("terminated")) or ((cs.get("lastState") or {}).get("terminated"))
    if not term:
        return None
    code = term.get("exitCode")
    reason = term.get("reason") or ("Error" if code else "Completed")
    return f"{reason} (exit {code})" if code is not None else reason


def container_nodes(pod: dict, usage: dict[str, dict[str, str]] | None = None) -> tuple[ContainerNode, ...]:
    """`usage`: container name → {"cpu", "memory"} of this pod, from metrics.k8s.io."""
    spec = {c["name"]: c for c in (pod.get("spec") or {}).get("containers") or []}
    statuses = {cs["name"]: cs for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    out = []
    for name, c in spec.items():
        cs = statuses.get(name, {})
        out.append(
            ContainerNode(
                name=name,
                image=cs.get("image") or c.get("image", ""),
                digest=_digest(cs.get("imageID")) or _digest(c.get("image")),
                ready=bool(cs.get("ready")),
                restarts=int(cs.get("restartCount") or 0),
                state=_state(cs.get("state")) if cs else "waiting: not started",
                last_termination=_termination(cs) if cs else None,
                usage=(usage or {}).get(name),
                limits={
                    k: str(v)
                    for k, v in ((c.get("resources") or {}).get("limits") or {}).items()
                    if k in ("cpu", "memory")
                }
                or None,
            )
        )
    return tuple(out)


Usage = dict[str, dict[str, dict[str, str]]]  # pod name → container name → {"cpu", "memory"}


def pod_node(
    pod: dict, now: float, warnings: dict[tuple[str, str], tuple[EventNote, ...]], usage: Usage | None = None
) -> PodNode:
    containers = container_nodes(pod, (usage or {}).get(_meta(pod)["name"]))
    st = pod.get("status") or {}
    phase = st.get("phase") or "Pending"
    if _meta(pod).get("deletionTimestamp"):
        phase = "Terminating"
    return PodNode(
        name=_meta(pod)["name"],
        phase=phase,
        ready=f"{sum(c.ready for c in containers)}/{len(containers)}",
        restarts=sum(c.restarts for c in containers),
        node=(pod.get("spec") or {}).get("nodeName"),
        age=_age(pod, now),
        containers=containers,
        warnings=_unresolved(warnings.get(("Pod", _meta(pod)["name"]), ()), st),
        reason=st.get("reason"),
    )


def _unresolved(notes: tuple[EventNote, ...], status: dict) -> tuple[EventNote, ...]:
    """A Ready pod's warnings from before it became ready (FailedScheduling while its claim was
    bound, a failed probe during start-up) are resolved: shown under a healthy pod they would read
    as a fault. `shiplane events` still lists them."""
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if not notes or not ready or ready.get("status") != "True":
        return notes
    since = timestamp(ready.get("lastTransitionTime"))
    if since is None:
        return notes
    return tuple(n for n in notes if n.last is None or n.last > since)


def newest_warnings(
    events: Iterable[dict], limit: int = EVENTS_PER_OBJECT
) -> dict[tuple[str, str], tuple[EventNote, ...]]:
    """(kind, name) → its newest Warning events, newest first."""
    by: dict[tuple[str, str], list[EventNote]] = {}
    for ev in events:
        note = event_note(ev)
        if note.type == "Warning":
            by.setdefault((note.kind, note.name), []).append(note)
    return {k: tuple(sorted(v, key=lambda n: n.last or 0, reverse=True)[:limit]) for k, v in by.items()}


def _revision_number(kind: str, obj: dict) -> int | None:
    annotations = _meta(obj).get("annotations") or {}
    value = obj.get("revision") if kind == "ControllerRevision" else annotations.get(REVISION)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _current_revision(workload: dict, revisions: list[dict]) -> str | None:
    """The name of the revision the workload runs now."""
    kind, st = workload["kind"], workload.get("status") or {}
    if kind == "StatefulSet":
        return st.get("updateRevision") or st.get("currentRevision")
    if kind == "Deployment":
        want = (_meta(workload).get("annotations") or {}).get(REVISION)
        for rs in revisions:
            if (
                want is not None
                and (_meta(rs).get("annotations") or {}).get("deployment.kubernetes.io/revision") == want
            ):
                return _meta(rs)["name"]
    numbered = [(_revision_number(REVISION_KIND.get(kind, ""), r) or 0, _meta(r)["name"]) for r in revisions]
    return max(numbered)[1] if numbered else None


def _pod_revision(pod: dict, revisions: list[dict], kind: str) -> str | None:
    """The ControllerRevision a StatefulSet's or DaemonSet's pod runs (its `controller-revision-hash`)."""
    hash_ = (_meta(pod).get("labels") or {}).get("controller-revision-hash")
    for r in revisions if kind == "ControllerRevision" and hash_ else []:
        name = _meta(r)["name"]
        if name == hash_ or name.endswith("-" + hash_):
            return name
    return None


def _figures(obj: dict) -> tuple[int | None, int | None]:
    """(desired, ready) of a workload or a revision."""
    kind, spec, st = obj.get("kind"), obj.get("spec") or {}, obj.get("status") or {}
    if kind == "DaemonSet":
        return st.get("desiredNumberScheduled"), st.get("numberReady", 0)
    if kind == "Job":
        return spec.get("completions", 1), st.get("succeeded", 0)
    if kind == "CronJob":
        return None, None
    return spec.get("replicas"), st.get("readyReplicas", 0)


def _drift_lines(d: Drift | None) -> tuple[str, ...]:
    if d is None or not d.drifted:
        return ()
    if d.missing:
        return ("gone (the release applied it)",)
    return tuple(
        f"{f.change.path}" + (f" (by {', '.join(f.managers)})" if f.managers else "") for f in (*d.changed, *d.added)
    )


def owned(objects: Iterable[dict]) -> dict[str, list[dict]]:
    """Objects by the uid of each of their owners: the links a tree follows, indexed once."""
    out: dict[str, list[dict]] = {}
    for o in objects:
        for uid in _owner_uids(o):
            out.setdefault(uid, []).append(o)
    return out


def workload_node(
    workload: dict | None,
    applied: dict,
    children: dict[str, list[dict]],
    pods: dict[str, list[dict]],
    warnings: dict[tuple[str, str], tuple[EventNote, ...]],
    drift: Drift | None,
    now: float,
    usage: Usage | None = None,
) -> WorkloadNode:
    """One workload; `children` (ReplicaSets, ControllerRevisions, Jobs) and `pods` by owner uid."""
    kind, name = applied["kind"], _meta(applied)["name"]
    if workload is None:
        return WorkloadNode(kind, name, False, None, None, None, (), drift=_drift_lines(drift))
    workload = {**workload, "kind": kind}
    uid = _meta(workload).get("uid", "")
    child_kind = REVISION_KIND.get(kind)
    mine = [{**c, "kind": child_kind} for c in children.get(uid, []) if c.get("kind") == child_kind]
    current = _current_revision(workload, mine)
    claimed: dict[str, list[PodNode]] = {}
    loose: list[PodNode] = []
    if kind in ("Deployment", "CronJob"):  # pods belong to a ReplicaSet / Job of the workload
        for r in mine:
            claimed[_meta(r)["name"]] = [
                pod_node(p, now, warnings, usage) for p in pods.get(_meta(r).get("uid", ""), [])
            ]
    else:  # the workload's own pods: a StatefulSet's or DaemonSet's by revision hash, a Job's directly
        for pod in pods.get(uid, []):
            rev = _pod_revision(pod, mine, child_kind or "")
            (claimed.setdefault(rev, []) if rev is not None else loose).append(pod_node(pod, now, warnings, usage))
    revisions = []
    for r in sorted(mine, key=lambda r: (_revision_number(child_kind or "", r) or 0, _meta(r)["name"]), reverse=True):
        rname = _meta(r)["name"]
        desired, ready = _figures(r) if child_kind != "ControllerRevision" else (None, None)
        if child_kind == "ControllerRevision":
            ready = sum(1 for p in claimed.get(rname, []) if p.healthy)
            desired = len(claimed.get(rname, []))
        revisions.append(
            RevisionNode(
                kind=child_kind or "",
                name=rname,
                revision=_revision_number(child_kind or "", r),
                current=rname == current,
                desired=desired,
                ready=ready,
                pods=tuple(sorted(claimed.get(rname, []), key=lambda p: p.name)),
                warnings=warnings.get((child_kind or "", rname), ()),
            )
        )
    desired, ready = _figures(workload)
    return WorkloadNode(
        kind=kind,
        name=name,
        exists=True,
        desired=desired,
        ready=ready,
        age=_age(workload, now),
        revisions=tuple(revisions),
        pods=tuple(sorted(loose, key=lambda p: p.name)),
        warnings=warnings.get((kind, name), ()),
        drift=_drift_lines(drift),
    )


def build(
    *,
    app: str,
    stage: str,
    namespace: str,
    revision: int | None,
    applied: list[dict],
    live: dict[tuple[str, str], dict],
    children: list[dict],
    pods: list[dict],
    events: list[dict],
    drifts: list[Drift] = (),  # type: ignore[assignment]
    now: float,
    usage: Usage | None = None,
) -> Tree:
    """The tree of the release's workloads (`applied`: the objects it applied, in its order).

    `live`: (kind, name) → the live workload; `children`: ReplicaSets, ControllerRevisions and
    Jobs of the namespace (each with its `kind`); `pods`, `events`: the namespace's; `usage`: the
    pods' containers' usage from metrics.k8s.io, where it is served."""
    warnings = newest_warnings(events)
    by_ref = {(d.ref.kind, d.ref.name): d for d in drifts}
    kids, owned_pods = owned(children), owned(pods)
    workloads = tuple(
        workload_node(
            live.get((o["kind"], _meta(o)["name"])),
            o,
            kids,
            owned_pods,
            warnings,
            by_ref.get((o["kind"], _meta(o)["name"])),
            now,
            usage,
        )
        for o in applied
        if o.get("kind") in WORKLOAD_KINDS
    )
    return Tree(
        app=app,
        stage=stage,
        namespace=namespace,
        revision=revision,
        workloads=workloads,
        drifted=tuple(d for d in drifts if d.drifted),
        objects=len(applied),
    )


def lines(tree: Tree) -> dict[str, str]:
    """The tree flattened to one line per node, keyed by a stable path: what `--watch` compares
    between two trees to print only what changed."""
    out: dict[str, str] = {}
    for w in tree.workloads:
        key = f"{w.kind}/{w.name}"
        if not w.exists:
            out[key] = f"{key}: missing"
            continue
        figures = f" {w.ready}/{w.desired} ready" if w.desired is not None else ""
        out[key] = f"{key}:{figures}" + (" DRIFTED" if w.drifted else "")
        for r in w.revisions:
            rkey = f"{key}/{r.kind}/{r.name}"
            if r.pods or r.current:
                out[rkey] = (
                    f"{rkey}: revision {r.revision}{' (current)' if r.current else ''} {r.ready}/{r.desired} ready"
                )
            for p in r.pods:
                out[f"{rkey}/{p.name}"] = pod_line(f"{rkey}/{p.name}", p)
        for p in w.pods:
            out[f"{key}/Pod/{p.name}"] = pod_line(f"{key}/Pod/{p.name}", p)
        for ev in w.warnings:
            out[f"{key}/event/{ev.reason}/{ev.message}"] = f"{key}: Warning {ev.reason} x{ev.count}: {ev.message}"
    out["drift"] = f"drift: {tree.summary()}"
    return out


def pod_line(key: str, p: PodNode) -> str:
    last = ", ".join(f"{c.name} last {c.last_termination}" for c in p.containers if c.last_termination)
    return f"{key}: {p.phase} {p.ready} ready, restarts {p.restarts}" + (f", {last}" if last else "")
