"""Reads for `metrics` and `diff`: a stage's records and live objects, handed to `observing`'s pure functions."""

from __future__ import annotations

import time

from shiplane.actions import inspect
from shiplane.actions.rollout import live_objects
from shiplane.actions.target import Target
from shiplane.kube import Ref
from shiplane.observing.drift import Drift, drift
from shiplane.observing.metrics import StageFigures, Workload, oom_kills
from shiplane.releases import Release, history
from shiplane.releases.lock import view
from shiplane.secrets import digestkey


def records(target: Target) -> list[Release]:
    """The stage's records, oldest first, with outcomes as a reader sees them (a pending run whose
    lock is gone was interrupted); the lock is read once."""
    found = target.store().list()
    lease = target.kube.get(target.lock().ref) if any(r.outcome == "pending" for r in found) else None
    held = view(lease) if lease is not None else None
    expired = held is None or held.expired(time.time())
    return [r.with_(outcome=history.effective_outcome(r, held.holder if held else None, expired)) for r in found]


def figures(target: Target) -> StageFigures:
    """Records and the current release's workloads (ready/desired, restarts, OOM kills)."""
    current, rows = inspect.workload_status(target)
    workloads = []
    if current is not None:
        pods = target.kube.list(
            "v1", "Pod", namespace=target.namespace, label_selector=f"app.kubernetes.io/part-of={target.app}"
        )
        selectors = {
            (o["kind"], o["metadata"]["name"]): ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            for o in current.objects
        }
        for r in rows:
            ooms = oom_kills(pods, selectors.get((r.kind, r.name), {})) if r.kind != "CronJob" else 0
            workloads.append(Workload(r.kind, r.name, r.desired, r.ready, r.restarts, ooms))
    return StageFigures(target.app, target.stage, records(target), workloads)


def drifted(target: Target) -> tuple[Release | None, list[Drift]]:
    """The last good release, and how each object it applied differs live (one list per kind)."""
    current = history.last_good(target.store().list())
    if current is None:
        return None, []
    live = live_objects(target.kube, target.namespace, current.objects)
    # The digest key lets a live Secret's values be digested as the record's were; without it (not
    # there, or not readable) the digest each live Secret carries from rendering stands for them.
    key = None
    if any(o.get("kind") == "Secret" for o in current.objects):
        key = digestkey.stored(target.kube, app=target.app, namespace=target.namespace)
    return current, drift(current.objects, {Ref.of(o): live.get(Ref.of(o)) for o in current.objects}, key)
