"""`shiplane deploy`: lock, record, apply in waves, gate on migrations, wait, prune, or roll back."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field

from shiplane import planning, status
from shiplane.actions import preflight
from shiplane.actions.rollout import ApplyFailed, RolloutFailed, apply_all, live_objects, wait_ready
from shiplane.actions.target import Target, last_success, who
from shiplane.errors import ShiplaneError
from shiplane.events import Event, Note, Pruned, RolledBack, Step
from shiplane.kube import Ref
from shiplane.planning.ordering import MIGRATION_ANNOTATION, Wave
from shiplane.releases import MigrationRun, Outcome, Release
from shiplane.releases.record import strip_secret
from shiplane.releases.store import Store
from shiplane.status import failfast

UNSAFE = ("contract", "irreversible")


class MigrationFailed(RolloutFailed):
    """A migration Job failed; the deploy stopped before any workload changed."""


@dataclass(frozen=True)
class Options:
    timeout: float = 300.0
    rollback: bool = True
    force_conflicts: bool = False
    wait_lock: bool = True
    lock_timeout: float = 600.0
    lock_duration: int = 30
    prune_volumes: bool = False
    retention: int = 20
    rules: list[dict] | None = None
    overrides: list[dict] = field(default_factory=list)  # policy overrides (rule, reason), recorded
    fail_fast: bool = True  # fail a rollout on conditions that will not fix themselves (status.failfast)
    preflight: bool = True  # check the cluster can take the objects before the first write


def images_of(objects: list[dict]) -> dict[str, str]:
    """workload/container → image, for the record and for promotion."""
    out: dict[str, str] = {}
    for obj in objects:
        spec = obj.get("spec", {})
        pod = (spec.get("jobTemplate", {}).get("spec", {}) if obj["kind"] == "CronJob" else spec).get("template", {})
        for c in (pod.get("spec") or {}).get("containers", []):
            out[f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}"] = c["image"]
    return out


def close_interrupted(store: Store, history: list[Release], holder: str) -> list[Release]:
    """We hold the lock, so any other pending record belongs to a run that died: say so."""
    out = []
    for r in history:
        if r.outcome is Outcome.PENDING and r.holder != holder:
            r = r.with_(outcome=Outcome.INTERRUPTED, message="the run that wrote it ended without finishing")
            store.put(r)
        out.append(r)
    return out


def apply_retention(store: Store, history: list[Release], keep: int) -> None:
    """Keep the newest `keep` records, and the last successful one whatever its age."""
    success = last_success(history)
    for r in history[:-keep] if keep > 0 else []:
        if success is None or r.revision != success.revision:
            store.delete(r.revision)


def prune(target: Target, refs: tuple[dict, ...]) -> Generator[Event, None, list[dict]]:
    done = []
    for ref in refs:
        if target.kube.delete(
            Ref(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace")), propagation="Background"
        ):
            yield Pruned(f"{ref['kind']} {ref.get('namespace', '')}/{ref['name']}")
        done.append(ref)
    return done


def start_release(store: Store, history: list[Release], target: Target, **fields) -> Release:
    """The next revision, written as pending before anything changes (a killed run leaves a trace)."""
    user, ci = who()
    release = Release(
        target.app,
        target.stage,
        max((r.revision for r in history), default=0) + 1,
        started=time.time(),
        user=user,
        ci=ci,
        **fields,
    )
    store.put(release)
    return release


def plan_for(objects: list[dict], history: list[Release], options: Options) -> planning.Plan:
    """Waves and the prune set (no dry-run probes: a deploy applies directly)."""
    return planning.make(
        objects, {}, history=history, rules=planning.rules(options.rules), prune_volumes=options.prune_volumes
    )


def settle(
    target: Target,
    store: Store,
    history: list[Release],
    release: Release,
    plan: planning.Plan,
    options: Options,
    **fields,
) -> Generator[Event, None, Release]:
    """After a successful rollout: prune, record it as deployed, supersede the previous one,
    mark failures it rolled back over, and apply retention."""
    for ref, why in plan.pruning.kept:
        yield Note(f"kept {ref['kind']} {ref['name']}: {why}")
    pruned = yield from prune(target, plan.pruning.prune)
    done = release.with_(
        outcome=Outcome.DEPLOYED, finished=time.time(), pruned=pruned, retained=list(plan.pruning.retain), **fields
    )
    store.put(done)
    for r in history:
        if r.outcome is Outcome.DEPLOYED:
            store.put(r.with_(outcome=Outcome.SUPERSEDED))
        elif r.outcome is Outcome.FAILED and done.rollback_of is not None and r.revision > done.rollback_of:
            store.put(r.with_(outcome=Outcome.ROLLED_BACK))
    apply_retention(store, [*history, done], options.retention)
    return done


class WaveRunner:
    """Applies waves and waits, recording migrations as they run (a failure keeps what ran)."""

    def __init__(self, target: Target, options: Options, *, run_migrations: bool = True) -> None:
        self.target, self.options, self.run_migrations = target, options, run_migrations
        self.migrations: list[MigrationRun] = []

    def _check_lock(self, lock) -> None:
        if lock is not None and lock.lost.is_set():
            raise ShiplaneError("lost the deploy lock (it expired or was taken over); stopping before the next wave")

    def run(self, waves: tuple[Wave, ...], *, lock=None) -> Generator[Event]:
        kube, ns = self.target.kube, self.target.namespace
        for wave in waves:
            objects = list(wave.objects)
            if wave.name == "migrations" and not self.run_migrations:
                continue
            self._check_lock(lock)
            live = live_objects(kube, ns, objects)
            if wave.name == "migrations":
                objects = yield from self._prepare_migrations(objects, live)
                if not objects:
                    continue
            yield Step(f"wave {wave.name}: {len(objects)} object(s)")
            started = time.monotonic()
            yield from apply_all(kube, objects, live=live, force=self.options.force_conflicts)
            if wave.wait:
                try:
                    rules = failfast.RULES if self.options.fail_fast else ()
                    yield from wait_ready(
                        kube, ns, objects, timeout=self.options.timeout, part_of=self.target.app, rules=rules
                    )
                except RolloutFailed as failure:
                    if wave.name == "migrations":
                        self._record_migrations(objects, failure)
                        raise MigrationFailed(f"migration failed: {failure.message}") from None
                    raise
            if wave.name == "migrations":
                self._record_migrations(objects, None)
            yield Step(f"wave {wave.name}: {len(objects)} object(s)", done=True, seconds=time.monotonic() - started)

    def _prepare_migrations(self, jobs: list[dict], live: dict) -> Generator[Event, None, list[dict]]:
        """Skip migrations that already succeeded (same content, same Job name); retry failed ones."""
        todo = []
        for job in jobs:
            current = live.get(Ref.of(job))
            state = status.compute(current).state if current else None
            if state is status.State.CURRENT:
                yield Note(f"migration {job['metadata']['name']} already ran: skipped")
                self.migrations.append(self._run(job, "skipped"))
                continue
            if state is status.State.FAILED:
                # The same migration failed before: delete the old Job so it runs again.
                self.target.kube.delete(Ref.of(job), propagation="Foreground")
                live.pop(Ref.of(job), None)
            todo.append(job)
        return todo

    @staticmethod
    def _run(job: dict, outcome: str) -> MigrationRun:
        annotations = job["metadata"].get("annotations") or {}
        return MigrationRun(
            name=annotations.get("shiplane.io/migration-for", job["metadata"]["name"]),
            job=job["metadata"]["name"],
            compatibility=annotations.get(MIGRATION_ANNOTATION, "expand"),
            outcome=outcome,
        )

    def _record_migrations(self, jobs: list[dict], failure: RolloutFailed | None) -> None:
        failed = {r.name for r in (failure.refs if failure else [])}
        for job in jobs:
            self.migrations.append(self._run(job, "failed" if job["metadata"]["name"] in failed else "succeeded"))


class Deploy:
    def __init__(
        self, target: Target, objects: list[dict], *, spec_digest: str = "", options: Options | None = None
    ) -> None:
        self.target, self.objects, self.spec_digest = target, objects, spec_digest
        self.options = options or Options()

    def run(self) -> Generator[Event, None, Release]:
        t, opts = self.target, self.options
        # Preflight: refuse what this cluster cannot take, before the first write (namespace, lock, record).
        if opts.preflight:
            yield from preflight.run(t, self.objects)

        t.kube.apply(t.namespace_object())
        lock = t.lock(duration=opts.lock_duration)
        yield from lock.acquire(wait=opts.wait_lock, timeout=opts.lock_timeout)
        try:
            return (yield from self._locked(lock))
        finally:
            lock.release()

    def _locked(self, lock) -> Generator[Event, None, Release]:
        t, opts = self.target, self.options
        store = t.store()
        history = close_interrupted(store, store.list(), lock.holder)
        release = start_release(
            store,
            history,
            t,
            holder=lock.holder,
            spec_digest=self.spec_digest,
            images=images_of(self.objects),
            objects=[strip_secret(o) for o in self.objects],
            overrides=list(opts.overrides),
        )
        revision = release.revision
        plan = plan_for(self.objects, history, opts)
        yield Note(f"{t.app}/{t.stage} revision {revision}: {len(self.objects)} objects in {len(plan.waves)} waves")
        runner = WaveRunner(t, opts)
        try:
            yield from runner.run(plan.waves, lock=lock)
        except MigrationFailed as failure:
            store.put(
                release.with_(
                    outcome=Outcome.FAILED, finished=time.time(), migrations=runner.migrations, message=failure.message
                )
            )
            raise MigrationFailed(
                f"{failure.message}\nno workload was changed: the deploy stopped before the workload waves "
                f"(revision {revision} is marked failed)",
                refs=failure.refs,
                hint="fix the migration and deploy again; the failed Job is re-run on the next deploy",
            ) from None
        except (RolloutFailed, ApplyFailed) as failure:
            failed = release.with_(
                outcome=Outcome.FAILED, finished=time.time(), migrations=runner.migrations, message=failure.message
            )
            store.put(failed)
            error = yield from self._after_failure(store, [*history, failed], failed, failure)
            raise error from None
        return (yield from settle(t, store, history, release, plan, opts, migrations=runner.migrations))

    def _after_failure(
        self, store: Store, history: list[Release], failed: Release, failure: ShiplaneError
    ) -> Generator[Event, None, RolloutFailed]:
        from shiplane.actions.rollback import Rollback, unsafe_migrations

        head = f"deploy of {failed.app}/{failed.stage} revision {failed.revision} failed:\n{failure.message}"
        if not self.options.rollback:
            return RolloutFailed(
                f"{head}\nnot rolled back (--no-rollback)",
                hint=f"shiplane rollback --stage {failed.stage} restores the last good release",
            )
        target = last_success(history)
        if target is None:
            return RolloutFailed(
                f"{head}\nnothing to roll back to: this app has no successful release in {failed.stage} yet"
            )
        blocking = unsafe_migrations(history, after=target.revision)
        if blocking:
            m = blocking[0]
            return RolloutFailed(
                f"{head}\nautomatic rollback to revision {target.revision} refused: migration {m.name!r} "
                f"({m.compatibility}, Job {m.job}) ran in this deploy, and the code of revision "
                f"{target.revision} may not work with the migrated schema",
                hint="roll forward: fix the code and deploy a new revision (expand migrations are safe to keep)",
            )
        yield Step(f"roll back to revision {target.revision}")
        try:
            rolled = yield from Rollback(self.target, options=self.options).run_locked(store, history, target)
        except ShiplaneError as err:
            yield RolledBack(target.revision, False, err.message)
            return RolloutFailed(f"{head}\nautomatic rollback to revision {target.revision} failed too:\n{err.message}")
        yield RolledBack(target.revision, True, f"revision {rolled.revision} restores revision {target.revision}")
        return RolloutFailed(
            f"{head}\nrolled back automatically: revision {rolled.revision} restores revision {target.revision}, "
            "which is running again"
        )
