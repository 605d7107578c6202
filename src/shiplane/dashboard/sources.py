"""What the dashboard reads from a stage, and the two writes `--allow-actions` enables.

Release records are decoded once per few seconds per stage, however many pages ask (a stage with
100 records of 200 services each is megabytes of gzip'd JSON); a rollback or unlock from the
dashboard drops that cache at once. The live status goes through one adapter function, `status_tree`,
so the status page can switch to another tree builder without touching the pages.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, replace

from shiplane.actions import inspect, observe
from shiplane.actions.rollback import Rollback
from shiplane.actions.runner import Options
from shiplane.actions.target import Target
from shiplane.dashboard import views
from shiplane.events import result
from shiplane.kube.tracking import Tracker
from shiplane.releases import Release
from shiplane.releases.lock import LeaseView, view

RECORDS_TTL = 3.0  # seconds a decoded history is reused
WATCHED = [
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("v1", "Pod"),
    ("v1", "Event"),
]


class CachedStore:
    """The stage's store for reading: `list()` decoded at most once per `ttl` seconds."""

    def __init__(self, target: Target, ttl: float = RECORDS_TTL) -> None:
        self.target, self.ttl = target, ttl
        self._lock = threading.Lock()
        self._at = -1e18
        self._records: list[Release] = []

    def list(self) -> list[Release]:
        with self._lock:
            if time.monotonic() - self._at > self.ttl:
                self._records = self.target.store().list()
                self._at = time.monotonic()
            return self._records

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

    def tree(self) -> views.StatusTree:
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


def status_tree(target: Target) -> views.StatusTree:
    """The adapter the status page and its event stream read: today over `inspect.workload_status`
    (the `status` command's rows) plus the namespace's pods and Events."""
    current, rows = inspect.workload_status(target)
    pods = target.kube.list(
        "v1", "Pod", namespace=target.namespace, label_selector=f"app.kubernetes.io/part-of={target.app}"
    )
    events = target.kube.list("v1", "Event", namespace=target.namespace) if current is not None else []
    return views.tree(target.app, target.stage, target.namespace, current, rows, pods, events, now=time.time())


class Changes:
    """Watches on the stage's workloads, pods and Events (not polling): `wait(timeout)` says whether
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
