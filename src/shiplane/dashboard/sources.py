"""What the dashboard reads from a stage, and the two writes `--allow-actions` enables.

Release records are decoded once each, however many pages ask (a stage with 100 records of 200
services each is megabytes of gzip'd JSON): which ones changed is read from their Secrets' metadata at
most every few seconds; a rollback or unlock from the dashboard makes the next page read it at once.
The live status is `actions.live`'s tree, re-read after each burst of changes that `Changes`' watches
report.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from shiplane import status
from shiplane.actions import inspect, live, observe
from shiplane.actions.rollback import Rollback
from shiplane.actions.runner import Options
from shiplane.actions.target import Target
from shiplane.dashboard import views
from shiplane.errors import ShiplaneError
from shiplane.events import result
from shiplane.kube import Ref
from shiplane.kube.tracking import Tracker
from shiplane.releases import ClusterStore, Release
from shiplane.releases.history import last_good
from shiplane.releases.lock import LeaseView, view
from shiplane.releases.record import CorruptRecord, decode
from shiplane.releases.store import LABEL_APP, LABEL_CHUNK, LABEL_REVISION

RECORDS_TTL = 3.0  # seconds a decoded history is reused
WATCHED = [
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "ControllerRevision"),
    ("v1", "Pod"),
    ("v1", "Event"),
]


class CachedStore:
    """The stage's records for reading, without decoding a record twice.

    Records are Secrets (`releases.store.ClusterStore`); their metadata (resourceVersions) is listed
    at most once per `ttl` seconds, and only records whose Secrets changed are fetched and decoded.
    Kept in memory: each record without its object bodies (a count instead), plus the full records
    a page asked for lately (`full`) and the last good one, whose objects the status page needs. Any
    other store (a MemoryStore in tests) is re-listed after `ttl`."""

    def __init__(self, target: Target, ttl: float = RECORDS_TTL, keep: int = 6) -> None:
        self.target, self.ttl, self.keep = target, ttl, keep
        self._lock = threading.RLock()
        self._at = -1e18
        self._records: list[Release] = []
        self._seen: dict[int, tuple[tuple[str, str], ...]] = {}  # revision -> its Secrets' (name, resourceVersion)
        self._light: dict[int, Release] = {}
        self._full: OrderedDict[int, Release] = OrderedDict()
        self.counts: dict[int, int] = {}  # revision -> objects it applied

    def list(self) -> list[Release]:
        with self._lock:
            if time.monotonic() - self._at > self.ttl:
                self._records = self._refresh()
                self._at = time.monotonic()
            return self._records

    def full(self, revision: int) -> Release | None:
        """One record with its objects (for a diff); None if the stage no longer has it."""
        with self._lock:
            if revision not in {r.revision for r in self.list()}:
                return None
            found = self._full_record(revision)
            self._full.move_to_end(revision)
            return found

    def _remember(self, release: Release) -> None:
        self._full[release.revision] = release
        self.counts[release.revision] = len(release.objects)
        self._light[release.revision] = release.with_(objects=[], managed={})
        while len(self._full) > self.keep:
            self._full.popitem(last=False)

    def _fetch(self, revision: int, bodies: dict[str, dict] | None = None) -> Release:
        """Decode one record: from `bodies` (one list of every record Secret) or one get per chunk."""
        if not isinstance(self.target.store(), ClusterStore):
            return next(r for r in self.target.store().list() if r.revision == revision)
        chunks = {}
        for name, _ in self._seen[revision]:
            found = (bodies or {}).get(name) or self.target.kube.get(Ref("v1", "Secret", name, self.target.namespace))
            labels = ((found or {}).get("metadata") or {}).get("labels") or {}
            chunks[int(labels.get(LABEL_CHUNK, "0-of-1").split("-of-")[0])] = (
                (found or {}).get("data", {}).get("record", "")
            )
        return decode([chunks[i] for i in sorted(chunks)])

    def _refresh(self) -> list[Release]:
        store = self.target.store()
        if not isinstance(store, ClusterStore):
            found = store.list()
            self._full.clear()
            for r in found:
                self._remember(r)
            return found
        selector = f"{LABEL_APP}={self.target.app},shiplane.io/stage={self.target.stage}"
        by_revision: dict[int, list[tuple[str, str]]] = {}
        totals: dict[int, int] = {}
        for meta in self.target.kube.list_metadata("v1", "Secret", namespace=self.target.namespace,
                                                   label_selector=selector):  # fmt: skip
            m = meta["metadata"]
            if m.get("deletionTimestamp"):
                continue  # retention removed it (as ClusterStore.list reads it)
            revision = int(m["labels"][LABEL_REVISION])
            by_revision.setdefault(revision, []).append((m["name"], m.get("resourceVersion", "")))
            totals[revision] = int(m["labels"][LABEL_CHUNK].split("-of-")[1])
        complete = {r: tuple(sorted(found)) for r, found in by_revision.items() if len(found) == totals[r]}
        changed = [r for r, seen in complete.items() if self._seen.get(r) != seen or r not in self._light]
        bodies = None
        if len(changed) > 3:  # the first read: one list of every record beats a get per chunk
            secrets = self.target.kube.list("v1", "Secret", namespace=self.target.namespace, label_selector=selector)
            bodies = {s["metadata"]["name"]: s for s in secrets}
        out = []
        for revision in sorted(complete):  # incomplete ones: a write in progress, its writer finishes it
            if revision in changed:
                self._seen[revision] = complete[revision]
                self._full.pop(revision, None)
                try:
                    self._remember(self._fetch(revision, bodies))
                except CorruptRecord:
                    continue
            out.append(self._light[revision])
        for gone in set(self._light) - {r.revision for r in out}:
            self._light.pop(gone, None)
            self._full.pop(gone, None)
            self._seen.pop(gone, None)
        current = last_good(out)
        if current is not None:  # the running release with its objects: the status page reads them
            if current.revision not in self._full:
                self._remember(self._fetch(current.revision, bodies))
            out = [self._full[r.revision] if r is current else r for r in out]
        return out

    def _full_record(self, revision: int) -> Release:
        if revision not in self._full:
            self._remember(self._fetch(revision))
        return self._full[revision]

    def forget(self) -> None:
        with self._lock:
            self._at = -1e18

    def put(self, release: Release) -> None:
        raise RuntimeError("the dashboard's cached store is read-only")

    def delete(self, revision: int) -> None:
        raise RuntimeError("the dashboard's cached store is read-only")


@dataclass
class Stage:
    """One stage the dashboard shows: `target` writes (actions), `reading` reads through the cache."""

    target: Target

    def __post_init__(self) -> None:
        self.cache = CachedStore(self.target)
        self.reading = replace(self.target, stores=lambda _: self.cache)

    @property
    def name(self) -> str:
        return self.target.stage

    def history(self) -> list[Release]:
        """Oldest first, outcomes as a reader sees them (a pending run whose lock is gone was interrupted)."""
        return observe.records(self.reading)

    def lock(self) -> LeaseView | None:
        lease = self.target.kube.get(self.target.lock().ref)
        held = view(lease) if lease is not None else None
        return None if held is None or held.expired(time.time()) else held

    def warm(self) -> threading.Thread:
        """Read the records once in the background, so the first page need not wait for all of them to
        be decoded (a page asking meanwhile waits for the same read; a failure shows on the pages)."""

        def read() -> None:
            with contextlib.suppress(ShiplaneError):
                self.history()

        thread = threading.Thread(target=read, name=f"records-{self.name}", daemon=True)
        thread.start()
        return thread

    def release(self, revision: int) -> Release | None:
        """One record with its objects (the history's entries leave them out)."""
        return self.cache.full(revision)

    def objects(self, revision: int) -> int:
        return self.cache.counts.get(revision, 0)

    def tree(self) -> views.StatusView:
        return status_tree(self.reading)

    def rollback(self, revision: int | None) -> Release:
        self.cache.forget()
        try:
            return result(Rollback(self.target, revision=revision, options=Options(wait_lock=False)).run())
        finally:
            self.cache.forget()

    def unlock(self) -> LeaseView | None:
        self.cache.forget()
        return inspect.unlock(self.target)


def status_tree(target: Target) -> views.StatusView:
    """What the status page and its event stream show: `actions.live`'s tree (the one `shiplane
    status` prints), each workload with its readiness computed from the same read."""
    state, now = live.read(target), time.time()
    states = {}
    for ref, obj in state.live.items():
        found = status.compute({**obj, "kind": ref.kind})
        states[(ref.kind, ref.name)] = (str(found.state), found.message)
    return views.status_view(state.tree(target, now), states, now=now)


class Changes:
    """Watches on the stage's workloads, their revisions, pods and Events (not polling): `wait(timeout)` says whether
    anything changed since the last call, after letting a burst of changes settle."""

    def __init__(self, target: Target, settle: float = 0.3) -> None:
        self.settle = settle
        selector = f"app.kubernetes.io/part-of={target.app}"
        self.tracker = Tracker(target.kube, target.namespace, WATCHED, label_selector=selector)

    def __enter__(self) -> Changes:
        self.tracker.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.tracker.__exit__(*exc)

    def wait(self, timeout: float) -> bool:
        if self.tracker.next(timeout) is None:
            return False
        deadline = time.monotonic() + self.settle
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.tracker.queue.get(timeout=left)
            except queue.Empty:
                break
        return True
