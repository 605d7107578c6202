"""Reads for `status` (the tree, `--watch`), `events` and `logs`: the I/O around `observing.tree`.

Watching is one list+watch per kind through `kube.tracking.Tracker` (never polling); the state the
watches report is kept here, and the tree is rebuilt from it after each burst of changes.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from shiplane.actions.rollout import live_objects
from shiplane.actions.target import Target
from shiplane.errors import KubeError
from shiplane.kube import Ref
from shiplane.kube.tracking import Seen, Tracker
from shiplane.observing import tree as trees
from shiplane.observing.drift import drift
from shiplane.releases import Release
from shiplane.releases.history import last_good

METRICS_API = "metrics.k8s.io/v1beta1"
CHILD_KINDS = (("apps/v1", "ReplicaSet"), ("apps/v1", "ControllerRevision"), ("batch/v1", "Job"))
SETTLE = 0.2  # seconds a burst of watch events is gathered before the tree is rebuilt


def _selector(target: Target) -> str:
    return f"app.kubernetes.io/part-of={target.app}"


@dataclass
class State:
    """What the cluster holds for a stage, as last read or watched."""

    release: Release | None
    live: dict[Ref, dict]  # the release's objects, live
    children: dict[tuple[str, str], dict]  # (kind, name) → ReplicaSet / ControllerRevision / Job
    pods: dict[str, dict]
    events: dict[str, dict]  # by uid
    usage: trees.Usage | None = None  # from metrics.k8s.io; None where it is not served

    def tree(self, target: Target, now: float | None = None) -> trees.Tree:
        objects = self.release.objects if self.release else []
        return trees.build(
            app=target.app,
            stage=target.stage,
            namespace=target.namespace,
            revision=self.release.revision if self.release else None,
            applied=objects,
            live={(r.kind, r.name): o for r, o in self.live.items()},
            children=list(self.children.values()),
            pods=list(self.pods.values()),
            events=list(self.events.values()),
            drifts=drift(objects, {Ref.of(o): self.live.get(Ref.of(o)) for o in objects}),
            now=time.time() if now is None else now,
            usage=self.usage,
        )

    def saw(self, seen: Seen) -> bool:
        """Fold one watch observation in; whether it changed anything."""
        obj = None if seen.obj is None else {**seen.obj, "kind": seen.kind}
        if seen.kind == "Pod":
            return _put(self.pods, seen.name, obj)
        if seen.kind == "Event":
            return _put(self.events, (seen.obj or {}).get("metadata", {}).get("uid") or seen.name, obj)
        changed = False
        if any(seen.kind == k for _, k in CHILD_KINDS):
            changed = _put(self.children, (seen.kind, seen.name), obj)
        for o in self.release.objects if self.release else []:
            if o["kind"] == seen.kind and o["metadata"]["name"] == seen.name:
                changed = _put(self.live, Ref.of(o), obj) or changed
        return changed


def _put(store: dict, key, obj: dict | None) -> bool:
    if obj is None:
        return store.pop(key, None) is not None
    old = store.get(key)
    store[key] = obj
    return old is None or old.get("metadata", {}).get("resourceVersion") != obj.get("metadata", {}).get(
        "resourceVersion"
    )


def read(target: Target) -> State:
    """One read of everything the tree needs: one list per kind."""
    kube, ns, sel = target.kube, target.namespace, _selector(target)
    release = last_good(target.store().list())
    if release is None:
        return State(None, {}, {}, {}, {})
    live = live_objects(kube, ns, release.objects)
    children = {}
    for api_version, kind in CHILD_KINDS:
        for o in kube.list(api_version, kind, namespace=ns, label_selector=sel):
            children[(kind, o["metadata"]["name"])] = {**o, "kind": kind}
    pods = {p["metadata"]["name"]: p for p in kube.list("v1", "Pod", namespace=ns, label_selector=sel)}
    events = {e["metadata"].get("uid") or e["metadata"]["name"]: e for e in kube.list("v1", "Event", namespace=ns)}
    return State(release, live, children, pods, events, usage(target))


def usage(target: Target) -> trees.Usage | None:
    """The app's pods' container usage from metrics.k8s.io (what `kubectl top` reads); None when the
    cluster does not serve it (no metrics-server) or refuses this user: usage is extra, never a failure."""
    try:
        items = target.kube.list(
            METRICS_API, "PodMetrics", namespace=target.namespace, label_selector=_selector(target)
        )
    except (KubeError, LookupError):
        return None
    return {
        m["metadata"]["name"]: {c["name"]: dict(c.get("usage") or {}) for c in m.get("containers") or []} for m in items
    }


def status_tree(target: Target) -> trees.Tree:
    return read(target).tree(target)


def _kinds(release: Release | None) -> list[tuple[str, str]]:
    workloads = sorted(
        {
            (o["apiVersion"], o["kind"])
            for o in (release.objects if release else [])
            if o["kind"] in trees.WORKLOAD_KINDS
        }
    )
    return [*(k for k in workloads if k[1] != "Job"), *CHILD_KINDS, ("v1", "Pod"), ("v1", "Event")]


@dataclass(frozen=True)
class Trouble:
    """A watch could not be kept (it is retried); shown, never fatal."""

    message: str


def watch(target: Target) -> Iterator[trees.Tree | Trouble]:
    """The tree, then a new tree after each burst of changes the watches report, until the caller
    stops iterating. The first tree is one read; the watches' own initial lists then catch whatever
    changed between that read and their start."""
    state = read(target)
    shown = state.tree(target)
    yield shown
    with Tracker(target.kube, target.namespace, _kinds(state.release), _selector(target)) as tracker:
        dirty, emitted = False, time.monotonic()
        while True:
            seen = tracker.next(timeout=SETTLE)
            if isinstance(seen, KubeError):
                yield Trouble(f"{seen.message} (retrying)")
                continue
            if isinstance(seen, Seen):
                dirty = state.saw(seen) or dirty
                if time.monotonic() - emitted < 1.0:
                    continue  # gather a burst (a rollout's dozens of updates) into one tree
            if dirty:
                state.usage = usage(target)  # not watchable: read again with each rebuild
                tree = state.tree(target)
                dirty, emitted = False, time.monotonic()
                if trees.lines(tree) != trees.lines(shown):  # ages alone are no change
                    shown = tree
                    yield tree


# ---- events --------------------------------------------------------------------------------------


def app_events(state: State, tree: trees.Tree) -> list[tuple[str, trees.EventNote]]:
    """(workload or "-", event) for every event about one of the app's objects, oldest first."""
    owners = tree.owners()
    for o in state.release.objects if state.release else []:
        owners.setdefault((o["kind"], o["metadata"]["name"]), "-")
    out = []
    for ev in state.events.values():
        note = trees.event_note(ev)
        if (note.kind, note.name) in owners:
            out.append((owners[(note.kind, note.name)], note))
    return sorted(out, key=lambda x: x[1].last or 0)


def events(target: Target) -> tuple[State, trees.Tree, list[tuple[str, trees.EventNote]]]:
    state = read(target)
    tree = state.tree(target)
    return state, tree, app_events(state, tree)


def follow_events(target: Target, state: State) -> Generator[tuple[str, trees.EventNote] | Trouble]:
    """Events about the app's objects that `state` (the listing shown) does not hold yet, as the
    watches report them (pods created later included)."""
    release = state.release
    told = {uid: e["metadata"].get("resourceVersion", "") for uid, e in state.events.items()}  # already listed
    with Tracker(target.kube, target.namespace, _kinds(release), _selector(target)) as tracker:
        while True:
            seen = tracker.next(timeout=1.0)
            if isinstance(seen, KubeError):
                yield Trouble(f"{seen.message} (retrying)")
            if not isinstance(seen, Seen):
                continue
            state.saw(seen)
            if seen.kind != "Event" or seen.obj is None:
                continue
            uid = seen.obj["metadata"].get("uid", seen.name)
            version = seen.obj["metadata"].get("resourceVersion", "")
            if told.get(uid) == version:
                continue
            tree = state.tree(target)
            found = app_events(State(release, state.live, state.children, state.pods, {uid: seen.obj}), tree)
            if found:
                told[uid] = version
                yield found[0]
