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
from shiplane.actions.runner import Options, WaveRunner, open_history, plan_for, plan_ready, settle, start_release
from shiplane.actions.target import Target
from shiplane.errors import ShiplaneError
from shiplane.events import Event, Note, announce_failure
from shiplane.kube import Ref
from shiplane.planning.ordering import MIGRATION_ANNOTATION
from shiplane.releases import Outcome, Release
from shiplane.releases.history import applied, rollback_target, unsafe_migrations
from shiplane.releases.record import data_digest, key_of
from shiplane.releases.store import Store
from shiplane.secrets import digestkey
from shiplane.secrets.vault import SECRET_LABEL, Vault, versions_run

__all__ = ["Rollback", "unsafe_migrations"]


def _pruning(chosen: Release, history: list[Release], options: Options) -> planning.Pruning:
    """The prune set counts the chosen release's Secrets as wanted: they are not re-applied
    (their values are not stored), but its pods use them."""
    return planning.pruning(chosen.objects, history, prune_volumes=options.prune_volumes)


def _is_migration(obj: dict) -> bool:
    return obj["kind"] == "Job" and MIGRATION_ANNOTATION in (obj["metadata"].get("annotations") or {})


def _retained_only(obj: dict) -> bool:
    """A generated secret's previous version, kept beside the release for rollback: no pod of the
    release uses it, so the release runs without it (shiplane.secrets)."""
    return "shiplane.io/retained-secret" in (obj.get("metadata", {}).get("labels") or {})


class Rollback:
    def __init__(self, target: Target, *, revision: int | None = None, options: Options | None = None) -> None:
        self.target, self.revision, self.options = target, revision, options or Options()

    def choose(self, history: list[Release]) -> Release:
        """The requested revision, or the successful release before the current one."""
        return rollback_target(history, self.revision)

    @staticmethod
    def refuse_across_migrations(history: list[Release], chosen: Release) -> None:
        blocking = unsafe_migrations(history, after=chosen.revision)
        if blocking:
            m = blocking[0]
            raise ShiplaneError(
                f"rollback to revision {chosen.revision} refused: migration {m.name!r} ({m.compatibility}, "
                f"Job {m.job}) ran after it; its code may not work with the migrated schema",
                hint="roll forward: fix the code and deploy a new revision",
            )

    def refuse_without_secrets(self, chosen: Release) -> None:
        """Secret values are never recorded: the chosen release's Secrets must still be in the cluster."""
        secrets = [o for o in chosen.objects if o["kind"] == "Secret" and not _retained_only(o)]
        missing = [o["metadata"]["name"] for o in secrets if self.target.kube.get(Ref.of(o)) is None]
        if missing:
            raise ShiplaneError(
                f"revision {chosen.revision} needs Secret(s) {', '.join(missing)}, which no longer exist "
                "(their values are never stored in the history)",
                hint="deploy that revision's spec again instead, with its secret values",
            )

    @announce_failure
    def run(self) -> Generator[Event, None, Release]:
        t = self.target
        lock = t.lock(duration=self.options.lock_duration)
        yield from lock.acquire(wait=self.options.wait_lock, timeout=self.options.lock_timeout)
        try:
            store = t.store()
            history = open_history(store, lock.holder)
            chosen = self.choose(history)
            self.refuse_across_migrations(history, chosen)
            return (yield from self.run_locked(store, history, chosen, holder=lock.holder))
        finally:
            lock.release()

    def preview(self) -> tuple[Release, planning.Plan]:
        """What run() would do, writing nothing (no lock, no record, no object): the chosen release,
        its objects planned by server-side dry-run against what is live, and what would be pruned.
        Refuses as run() does."""
        history = self.target.store().list()
        chosen = self.choose(history)
        self.refuse_across_migrations(history, chosen)
        self.refuse_without_secrets(chosen)
        # Migrations are never re-run by a rollback (run_locked skips their wave): plan without them.
        objects = [o for o in chosen.objects if o["kind"] != "Secret" and not _is_migration(o)]
        plan = inspect.plan(self.target, objects, rules=self.options.rules, prune_volumes=self.options.prune_volumes)
        return chosen, replace(plan, pruning=_pruning(chosen, history, self.options))

    def run_locked(
        self, store: Store, history: list[Release], chosen: Release, *, holder: str = ""
    ) -> Generator[Event, None, Release]:
        """Roll back while the caller holds the lock (Deploy calls this for automatic rollback)."""
        t = self.target
        self.refuse_without_secrets(chosen)
        secrets = [o for o in chosen.objects if o["kind"] == "Secret"]
        objects = [o for o in chosen.objects if o["kind"] != "Secret"]
        release = start_release(
            store,
            history,
            t,
            holder=holder,
            spec_digest=chosen.spec_digest,
            images=chosen.images,
            pins=chosen.pins,  # the same digests run again
            objects=chosen.objects,
            rollback_of=chosen.revision,
            message=f"rollback to revision {chosen.revision}",
        )
        revision = release.revision
        plan = plan_for(objects, history, self.options)
        plan = replace(plan, pruning=_pruning(chosen, history, self.options))
        yield plan_ready(t, revision, plan, rollback_of=chosen.revision)
        yield Note(f"rollback: revision {revision} re-applies revision {chosen.revision} (migrations are not re-run)")
        runner = WaveRunner(t, self.options, run_migrations=False, applied=applied(history))
        try:
            yield from runner.run(plan.waves)
        except ShiplaneError as failure:
            store.put(release.with_(outcome=Outcome.FAILED, finished=time.time(), message=failure.message))
            raise
        # The kept Secrets were not re-applied: what shiplane owned on them is what the chosen release recorded.
        kept = {key_of(o) for o in secrets}
        managed = {k: v for k, v in chosen.managed.items() if k in kept} | runner.managed
        done = yield from settle(t, store, history, release, plan, self.options, managed=managed)
        yield from self.follow_vault(chosen)
        return done

    def follow_vault(self, chosen: Release) -> Generator[Event, None, None]:
        """The generated secrets' vault calls current what the rolled-back release runs, so `secrets
        status` reports it and the next deploy renders it (not the newer version a rotation made,
        which is kept as the previous one). Read from the vault under the lock the caller holds."""
        t = self.target
        store = Vault(t.kube, app=t.app, stage=t.stage, namespace=t.namespace)
        runs = [o for o in chosen.objects if o["kind"] == "Secret" and not _retained_only(o)]
        if not runs or not store.states():  # metadata only: most stages generate nothing
            return
        key = digestkey.stored(t.kube, app=t.app, namespace=t.namespace)
        states, values = store.read()
        found = versions_run(runs, states, values, lambda data: data_digest(key, data)) if key else {}
        rotating = store.phases()
        for name in sorted({o["metadata"].get("labels", {}).get(SECRET_LABEL) for o in runs} & set(states)):
            version = found.get(name)
            if version == states[name].current.number:
                continue
            if name in rotating:  # its dual rotation's recorded phase names the versions: leave them to it
                yield Note(
                    f"generated secret {name}: a dual rotation of it is in progress; the vault's current version "
                    f"{states[name].current.number} stays (`secrets rotate --due` resumes the rotation)"
                )
            elif version is None:
                yield Note(
                    f"generated secret {name}: cannot tell which stored version revision {chosen.revision} runs "
                    f"(its record predates keyed digests, or the version is gone); the vault's current version "
                    f"{states[name].current.number} is what the next deploy renders"
                )
            elif store.make_current(name, version):
                yield Note(
                    f"generated secret {name}: version {version} serves again (revision {chosen.revision} runs it); "
                    f"version {states[name].current.number} is kept as the previous one"
                )
