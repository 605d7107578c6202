"""`shiplane rollback`: re-apply a successful release's objects, aware of schema migrations.

Migrations are never re-run or undone by a rollback. A rollback across a `contract`
or `irreversible` migration is refused: the older code may not work with the
schema it left, so the way out is to roll forward.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import replace

from shiplane import planning
from shiplane.actions import inspect
from shiplane.actions.deploy import UNSAFE, Options, WaveRunner, plan_for, plan_ready, settle, start_release
from shiplane.actions.target import Target
from shiplane.errors import InputError, ShiplaneError
from shiplane.events import Event, Note, announce_failure
from shiplane.kube import Ref
from shiplane.planning.ordering import MIGRATION_ANNOTATION
from shiplane.releases import MigrationRun, Outcome, Release
from shiplane.releases.store import Store


def _pruning(chosen: Release, history: list[Release], options: Options) -> planning.Pruning:
    """The prune set counts the chosen release's Secrets as wanted: they are not re-applied
    (their values are not stored), but its pods use them."""
    return planning.pruning(chosen.objects, history, prune_volumes=options.prune_volumes)


def unsafe_migrations(history: list[Release], *, after: int) -> list[MigrationRun]:
    """Contract/irreversible migrations that ran in releases newer than revision `after`."""
    return [
        m
        for r in history
        if r.revision > after
        for m in r.migrations
        if m.compatibility in UNSAFE and m.outcome == "succeeded"
    ]


class Rollback:
    def __init__(self, target: Target, *, revision: int | None = None, options: Options | None = None) -> None:
        self.target, self.revision, self.options = target, revision, options or Options()

    def choose(self, history: list[Release]) -> Release:
        """The requested revision, or the successful release before the current one."""
        good = [r for r in history if r.outcome in (Outcome.DEPLOYED, Outcome.SUPERSEDED)]
        if self.revision is not None:
            match = next((r for r in history if r.revision == self.revision), None)
            if match is None:
                known = ", ".join(str(r.revision) for r in history) or "none"
                raise InputError(f"no revision {self.revision} in the history (revisions: {known})")
            if match not in good:
                raise InputError(
                    f"revision {self.revision} did not deploy successfully ({match.outcome}); "
                    "roll back to a successful one"
                )
            return match
        if history and history[-1].outcome is not Outcome.DEPLOYED:
            # The newest release failed or was interrupted: restore the last good one.
            older = good
        else:
            current = history[-1] if history else None
            older = [r for r in good if current is None or r.revision < current.revision]
        if not older:
            raise InputError("nothing to roll back to: no earlier successful release")
        return older[-1]

    @announce_failure
    def run(self) -> Generator[Event, None, Release]:
        t = self.target
        lock = t.lock(duration=self.options.lock_duration)
        yield from lock.acquire(wait=self.options.wait_lock, timeout=self.options.lock_timeout)
        try:
            store = t.store()
            from shiplane.actions.deploy import close_interrupted

            history = close_interrupted(store, store.list(), lock.holder)
            chosen = self.choose(history)
            blocking = unsafe_migrations(history, after=chosen.revision)
            if blocking:
                m = blocking[0]
                raise ShiplaneError(
                    f"rollback to revision {chosen.revision} refused: migration {m.name!r} ({m.compatibility}, "
                    f"Job {m.job}) ran after it; its code may not work with the migrated schema",
                    hint="roll forward: fix the code and deploy a new revision",
                )
            return (yield from self.run_locked(store, history, chosen, holder=lock.holder))
        finally:
            lock.release()

    def run_locked(
        self, store: Store, history: list[Release], chosen: Release, *, holder: str = ""
    ) -> Generator[Event, None, Release]:
        """Roll back while the caller holds the lock (Deploy calls this for automatic rollback)."""
        t = self.target
        secrets = [o for o in chosen.objects if o["kind"] == "Secret"]
        missing = [o["metadata"]["name"] for o in secrets if t.kube.get(Ref.of(o)) is None]
        if missing:
            raise ShiplaneError(
                f"revision {chosen.revision} needs Secret(s) {', '.join(missing)}, which no longer exist "
                "(their values are never stored in the history)",
                hint="deploy that revision's spec again instead, with its secret values",
            )
        objects = [o for o in chosen.objects if o["kind"] != "Secret"]
        release = start_release(
            store,
            history,
            t,
            holder=holder,
            spec_digest=chosen.spec_digest,
            images=chosen.images,
            objects=chosen.objects,
            rollback_of=chosen.revision,
            message=f"rollback to revision {chosen.revision}",
        )
        revision = release.revision
        plan = plan_for(objects, history, self.options)
        plan = replace(plan, pruning=_pruning(chosen, history, self.options))
        yield plan_ready(t, revision, plan, rollback_of=chosen.revision)
        yield Note(f"rollback: revision {revision} re-applies revision {chosen.revision} (migrations are not re-run)")
        runner = WaveRunner(t, self.options, run_migrations=False)
        try:
            yield from runner.run(plan.waves)
        except ShiplaneError as failure:
            store.put(release.with_(outcome=Outcome.FAILED, finished=time.time(), message=failure.message))
            raise
        return (yield from settle(t, store, history, release, plan, self.options))

    def preview(self) -> tuple[Release, planning.Plan]:
        """What run() would do, writing nothing (no lock, no record, no object): the chosen release,
        its objects planned by server-side dry-run against what is live, and what would be pruned.
        Refuses as run() does."""
        t = self.target
        history = t.store().list()
        chosen = self.choose(history)
        blocking = unsafe_migrations(history, after=chosen.revision)
        if blocking:
            m = blocking[0]
            raise ShiplaneError(
                f"rollback to revision {chosen.revision} refused: migration {m.name!r} ({m.compatibility}, "
                f"Job {m.job}) ran after it; its code may not work with the migrated schema",
                hint="roll forward: fix the code and deploy a new revision",
            )
        missing = [
            o["metadata"]["name"] for o in chosen.objects if o["kind"] == "Secret" and t.kube.get(Ref.of(o)) is None
        ]
        if missing:
            raise ShiplaneError(
                f"revision {chosen.revision} needs Secret(s) {', '.join(missing)}, which no longer exist "
                "(their values are never stored in the history)",
                hint="deploy that revision's spec again instead, with its secret values",
            )
        # Migrations are never re-run by a rollback (run_locked skips their wave): plan without them.
        objects = [o for o in chosen.objects if o["kind"] != "Secret" and not _is_migration(o)]
        plan = inspect.plan(t, objects, rules=self.options.rules, prune_volumes=self.options.prune_volumes)
        return chosen, replace(plan, pruning=_pruning(chosen, history, self.options))


def _is_migration(obj: dict) -> bool:
    return obj["kind"] == "Job" and MIGRATION_ANNOTATION in (obj["metadata"].get("annotations") or {})
