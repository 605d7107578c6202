"""Applying a wave of objects concurrently, and waiting for a wave to roll out.

Shared by Deploy and Rollback. Readiness comes from `shiplane.status` over objects
the watches deliver; the failure message names every workload that is not ready,
what it shows, and what its pods show.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor, as_completed

from shiplane import status
from shiplane.actions.failfast import FailFastWatch
from shiplane.errors import ApplyFailed, KubeError, RolloutFailed  # the failures: also importable from here
from shiplane.events import Applied, Event, Note, StatusChanged, Waiting
from shiplane.kube import Kube, Ref
from shiplane.kube.tracking import Seen, Tracker
from shiplane.status import failfast

WAITABLE = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1"}
APPLY_WORKERS = 8


def _immutable(err: KubeError) -> bool:
    return err.is_immutable  # classified from the Status payload (see KubeError)


def _gone(kube: Kube, ref: Ref, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while kube.get(ref) is not None:
        if time.monotonic() > deadline:
            raise ApplyFailed(f"{ref}: still being deleted after {timeout:.0f}s; cannot replace it")
        time.sleep(0.2)


def apply_one(kube: Kube, obj: dict, *, force: bool, before: dict | None) -> tuple[str, dict]:
    """Server-side apply; an immutable-field refusal becomes an explicit replace (delete, create).

    `before` is the live object (from one list per kind, not a get per object). Returns the
    action and the object as the server now holds it.
    """
    ref = Ref.of(obj)
    try:
        after = kube.apply(obj, force=force)
    except KubeError as err:
        if not _immutable(err):
            raise
        kube.delete(ref, propagation="Foreground")
        _gone(kube, ref)
        return "replace", kube.apply(obj, force=force)
    if before is None:
        return "create", after
    same = before["metadata"].get("resourceVersion") == after["metadata"].get("resourceVersion")
    return "unchanged" if same else "update", after


def live_objects(kube: Kube, namespace: str, objects: list[dict]) -> dict[Ref, dict]:
    """The live counterparts of `objects`: one list call per kind, not one get per object."""
    out: dict[Ref, dict] = {}
    wanted = {Ref.of(o) for o in objects}
    for api_version, kind in sorted({(r.api_version, r.kind) for r in wanted}):
        namespaced = any(r.namespace for r in wanted if r.kind == kind)
        if not kube.served(api_version, kind):  # a custom resource whose CRD this deploy creates first
            continue
        for item in kube.list(api_version, kind, namespace=namespace if namespaced else None):
            ref = Ref(api_version, kind, item["metadata"]["name"], item["metadata"].get("namespace"))
            if ref in wanted:
                out[ref] = item
    return out


def apply_all(
    kube: Kube, objects: list[dict], *, live: dict[Ref, dict], force: bool = False
) -> Generator[Event, None, dict[Ref, dict]]:
    """Apply independent objects concurrently; report each; fail listing every refusal.

    Returns each object as the server holds it after the apply."""
    done: dict[Ref, dict] = {}
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=APPLY_WORKERS) as pool:
        futures = {
            pool.submit(apply_one, kube, obj, force=force, before=live.get(Ref.of(obj))): Ref.of(obj) for obj in objects
        }
        for future in as_completed(futures):
            ref = futures[future]
            try:
                action, done[ref] = future.result()
            except KubeError as err:
                take_over = " (use --force-conflicts to take over)" if err.is_field_conflict else ""
                errors.append(f"{ref}: {err.message}{take_over}")
                continue
            yield Applied(str(ref), action)
    if errors:
        raise ApplyFailed(f"{len(errors)} object(s) refused by the API server:\n  " + "\n  ".join(sorted(errors)))
    return done


def _selector_matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _pod_problems(workload: dict, pods: dict[str, dict]) -> list[str]:
    selector = workload.get("spec", {}).get("selector") or {}
    if workload["kind"] == "Job":
        selector = {"matchLabels": {"job-name": workload["metadata"]["name"]}}
    out = []
    for name, pod in sorted(pods.items()):
        if not _selector_matches(selector, pod["metadata"].get("labels") or {}):
            continue
        result = status.compute(pod)
        if not result.ready and result.state is not status.State.TERMINATING:
            out.append(f"pod {name}: {result.message}")
    return out[:5]


def _recent_events(kube: Kube, namespace: str, workload: str, limit: int = 3) -> list[str]:
    """The newest Warning events about a workload or its ReplicaSets and pods (named after it)."""
    try:
        events = kube.list("v1", "Event", namespace=namespace, field_selector="type=Warning")
    except KubeError:
        return []  # events are a help for the message, never a reason to fail differently
    mine = [
        e
        for e in events
        if (e.get("involved_object") or e.get("involvedObject") or {}).get("name", "").startswith(workload)
    ]
    mine.sort(key=lambda e: str(e.get("last_timestamp") or e.get("lastTimestamp") or e.get("event_time") or ""))
    return [f"event {e.get('reason')}: {(e.get('message') or '').strip()[:200]}" for e in mine[-limit:]]


def _warning(event: dict | None, names: tuple[str, ...], told: set[str]) -> Note | None:
    """A new Warning event about a tracked workload (or its ReplicaSets/pods), once."""
    if not event or event.get("type") != "Warning":
        return None
    involved = event.get("involvedObject") or {}
    uid = (event.get("metadata") or {}).get("uid", "")
    if uid in told or not involved.get("name", "").startswith(names):
        return None
    told.add(uid)
    return Note(
        f"event {involved.get('kind')} {involved.get('name')}: {event.get('reason')}: "
        f"{(event.get('message') or '').strip()[:200]}"
    )


def wait_ready(
    kube: Kube,
    namespace: str,
    objects: list[dict],
    *,
    timeout: float,
    part_of: str | None = None,
    rules: tuple[failfast.Rule, ...] = failfast.RULES,
) -> Generator[Event]:
    """Watch the workloads among `objects` until all are ready; raise RolloutFailed otherwise.

    With fail-fast `rules` (none: wait for the deadline), a condition that will not
    fix itself fails the rollout as soon as it has held for its rule's grace period.
    """
    refs = {Ref.of(o) for o in objects if o["kind"] in WAITABLE}
    if not refs:
        return
    kinds = [*sorted({(r.api_version, r.kind) for r in refs}), ("v1", "Pod"), ("v1", "Event")]
    watch = FailFastWatch(kube, rules) if rules else None
    if watch and any(r.kind == "Deployment" for r in refs):
        kinds.append(("apps/v1", "ReplicaSet"))  # which pods are the new revision's
    names = tuple(r.name for r in refs)
    told: set[str] = set()  # event uids already shown
    latest: dict[Ref, dict | None] = {}
    pods: dict[str, dict] = {}
    shown: dict[Ref, tuple[str, str]] = {}
    started = time.monotonic()
    deadline = started + timeout
    selector = f"app.kubernetes.io/part-of={part_of}" if part_of else ""
    with Tracker(kube, namespace, kinds, selector) as tracker:
        while True:
            seen = tracker.next(timeout=1.0)
            if isinstance(seen, KubeError):
                yield Note(f"{seen.message} (retrying)")
            elif isinstance(seen, Seen):
                if seen.kind == "Event":
                    note = _warning(seen.obj, names, told)
                    if note:
                        yield note
                    if watch:
                        watch.saw_event(seen.obj, names, listed=seen.listed)
                elif seen.kind == "ReplicaSet":
                    if watch:
                        watch.saw_replicaset(seen.name, seen.obj)
                elif seen.kind == "Pod":
                    if seen.obj is None:
                        pods.pop(seen.name, None)
                    else:
                        pods[seen.name] = seen.obj
                else:
                    ref = next((r for r in refs if r.kind == seen.kind and r.name == seen.name), None)
                    if ref is not None:
                        latest[ref] = seen.obj
            results = {r: status.compute(latest.get(r)) if r in latest else None for r in refs}
            for ref, result in results.items():
                if result is not None and shown.get(ref) != (result.state, result.message):
                    shown[ref] = (result.state, result.message)
                    yield StatusChanged(str(ref), result.state, result.message)
            if all(r is not None and r.ready for r in results.values()):
                return
            failed = [r for r, res in results.items() if res is not None and res.state is status.State.FAILED]
            now = time.monotonic()
            verdicts = (yield from watch.check([o for o in latest.values() if o], pods, now)) if watch else []
            if verdicts:
                lines = "\n  ".join(str(v).replace("\n", "\n  ") for v in verdicts)
                bad = {v.workload for v in verdicts}
                raise RolloutFailed(
                    f"rollout failed fast (waiting would not help; --no-fail-fast waits for --timeout):\n  {lines}",
                    refs=sorted((r for r in refs if f"{r.kind} {r.name}" in bad), key=str),
                )
            if failed or now > deadline:
                bad = failed or [r for r, res in results.items() if res is None or not res.ready]
                lines = []
                shown_refs = sorted(bad, key=str)
                for ref in shown_refs[:10]:
                    res = results[ref]
                    lines.append(f"{ref}: {res.message if res else 'not seen yet'}")
                    if latest.get(ref):
                        lines += [f"  {p}" for p in _pod_problems(latest[ref], pods)]
                    lines += [f"  {e}" for e in _recent_events(kube, namespace, ref.name)]
                if len(shown_refs) > 10:
                    lines.append(f"... and {len(shown_refs) - 10} more")
                why = "failed" if failed else f"not ready after {timeout:.0f}s"
                raise RolloutFailed(f"rollout {why}:\n  " + "\n  ".join(lines), refs=sorted(bad, key=str))
            if seen is None:
                pending = sorted(str(r) for r, res in results.items() if res is None or not res.ready)
                yield Waiting("rollout", now - started, ", ".join(pending[:4]))
