"""`shiplane gc`: list the stage's objects once per kind, select leftovers (`observing.gc`), delete them.

Reads only structure (no secret values); the selection is pure. Deletion is conditional on the
resourceVersion that was selected, so an object changed since it was listed is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

from shiplane.actions.target import Target
from shiplane.errors import Conflict
from shiplane.events import Event, Note, Pruned, Step
from shiplane.kube import Ref
from shiplane.observing.gc import Candidate, Inventory, Selection, select

KINDS = {
    "jobs": ("batch/v1", "Job"),
    "pods": ("v1", "Pod"),
    "deployments": ("apps/v1", "Deployment"),
    "replicasets": ("apps/v1", "ReplicaSet"),
    "statefulsets": ("apps/v1", "StatefulSet"),
    "configmaps": ("v1", "ConfigMap"),
    "secrets": ("v1", "Secret"),
    "leases": ("coordination.k8s.io/v1", "Lease"),
    "pvcs": ("v1", "PersistentVolumeClaim"),
}
TEMPLATES = [("apps/v1", "DaemonSet"), ("batch/v1", "CronJob")]


def inventory(target: Target) -> Inventory:
    """Every object gc looks at, one list call per kind (Secrets are listed, their values never used)."""
    kube, ns = target.kube, target.namespace
    lists = {name: kube.list(api, kind, namespace=ns) for name, (api, kind) in KINDS.items()}
    for name in ("secrets",):  # drop values at once: nothing below needs them
        lists[name] = [{k: v for k, v in s.items() if k not in ("data", "stringData")} for s in lists[name]]
    templates = [o for api, kind in TEMPLATES for o in kube.list(api, kind, namespace=ns)]
    return Inventory(ns, **lists, pvs=kube.list("v1", "PersistentVolume"), templates=templates)


@dataclass(frozen=True)
class Freed:
    selection: Selection
    deleted: tuple[Candidate, ...]
    skipped: tuple[tuple[Candidate, str], ...]  # changed or gone since selected


def plan(target: Target, *, keep: int = 20, volumes: bool = False, everything: bool = False) -> Selection:
    """What gc would free (the dry-run: reads only)."""
    history = target.store().list()
    return select(
        inventory(target), history, app=target.app, now=time.time(), keep=keep, volumes=volumes, everything=everything
    )


def run(
    target: Target, *, keep: int = 20, volumes: bool = False, everything: bool = False
) -> Generator[Event, None, Freed]:
    # Under the deploy lock: a deploy starting between our reads could apply config its record
    # names but our listing of records did not hold yet. A running deploy makes gc fail (exit 4).
    lock = target.lock()
    yield from lock.acquire(wait=False)
    try:
        return (yield from _collect(target, keep=keep, volumes=volumes, everything=everything))
    finally:
        lock.release()


def _collect(target: Target, *, keep: int, volumes: bool, everything: bool) -> Generator[Event, None, Freed]:
    listing = f"listing {target.app}/{target.stage} objects in {target.namespace}"
    yield Step(listing)
    chosen = plan(target, keep=keep, volumes=volumes, everything=everything)
    yield Step(listing, done=True)
    deleted, skipped = [], []
    for c in chosen.collect:
        ref = Ref(c.ref["apiVersion"], c.ref["kind"], c.ref["name"], c.ref.get("namespace"))
        try:
            gone = target.kube.delete(ref, propagation="Background", resource_version=c.resource_version or None)
        except Conflict:
            skipped.append((c, "changed since it was listed"))
            continue
        if gone:
            deleted.append(c)
            yield Pruned(f"{c.ref['kind']} {c.ref.get('namespace', '')}/{c.ref['name']}")
        else:
            skipped.append((c, "already gone"))
    store = target.store()
    for revision in chosen.records:
        store.delete(revision)
        yield Note(f"release record revision {revision} deleted (beyond retention {keep})")
    return Freed(chosen, tuple(deleted), tuple(skipped))
