"""What deploy and rollback share: applying waves, and executing the lifecycle's decisions.

The decisions themselves (which release is good, what an interrupted run leaves, what
retention drops, what settling a release writes) are `shiplane.releases.history`'s;
this module only writes what they return and applies objects.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field

from shiplane import planning, status
from shiplane.actions import gate
from shiplane.actions.imageaudit import ImageGate
from shiplane.actions.rollout import apply_all, live_objects, wait_ready
from shiplane.actions.signatures import SignatureGate
from shiplane.actions.target import Target, who
from shiplane.errors import MigrationFailed, RolloutFailed, ShiplaneError
from shiplane.events import Event, Note, PlannedWave, PlanReady, Pruned, Step
from shiplane.kube import Ref
from shiplane.observing.drift import taken_back
from shiplane.planning.compare import Verdict, compare, managed_digest
from shiplane.planning.ordering import MIGRATION_ANNOTATION, Wave
from shiplane.releases import MigrationRun, Outcome, Release, history
from shiplane.releases.record import key_of
from shiplane.releases.store import Store
from shiplane.status import failfast

__all__ = ["MigrationFailed", "Options", "WaveRunner", "plan_ready"]


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
    policy: gate.Policy = field(default_factory=gate.Policy)  # the gate Deploy.run() passes first
    images: ImageGate = field(default_factory=ImageGate)  # the image-audit gate (stage images.failOn)
    fail_fast: bool = True  # fail a rollout on conditions that will not fix themselves (status.failfast)
    preflight: bool = True  # check the cluster can take the objects before the first write
    signatures: SignatureGate | None = None  # the stage's images.signatures, checked with the policy gate


def _established(crd: dict | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def write(store: Store, history_: list[Release], writes: history.Writes) -> list[Release]:
    """Execute a lifecycle decision; return the history as it now stands."""
    for release in writes.put:
        store.put(release)
    for revision in writes.delete:
        store.delete(revision)
    return history.updated(history_, writes)


def open_history(store: Store, holder: str) -> list[Release]:
    """The history as a lock holder sees it: runs that died are closed as interrupted."""
    current = store.list()
    return write(store, current, history.close_interrupted(current, holder))


def prune(target: Target, refs: tuple[dict, ...]) -> Generator[Event, None, list[dict]]:
    done = []
    for ref in refs:
        if target.kube.delete(
            Ref(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace")), propagation="Background"
        ):
            yield Pruned(f"{ref['kind']} {ref.get('namespace', '')}/{ref['name']}")
        done.append(ref)
    return done


def start_release(store: Store, history_: list[Release], target: Target, **fields) -> Release:
    """The next revision, written as pending before anything changes (a killed run leaves a trace)."""
    user, ci = who()
    release = Release(
        target.app,
        target.stage,
        history.next_revision(history_),
        started=time.time(),
        user=user,
        ci=ci,
        **fields,
    )
    store.put(release)
    return release


def plan_for(objects: list[dict], history_: list[Release], options: Options) -> planning.Plan:
    """Waves and the prune set (no dry-run probes: a deploy applies directly)."""
    return planning.make(
        objects, {}, history=history_, rules=planning.rules(options.rules), prune_volumes=options.prune_volumes
    )


def plan_ready(target: Target, revision: int, plan: planning.Plan, *, rollback_of: int | None = None) -> PlanReady:
    """The PlanReady event for a plan about to run: its waves, their objects, what it prunes."""
    return PlanReady(
        target.app,
        target.stage,
        revision,
        tuple(PlannedWave(w.name, tuple(str(Ref.of(o)) for o in w.objects), w.wait) for w in plan.waves),
        tuple(f"{r['kind']} {r.get('namespace', '')}/{r['name']}" for r in plan.pruning.prune),
        rollback_of,
    )


def settle(
    target: Target,
    store: Store,
    history_: list[Release],
    release: Release,
    plan: planning.Plan,
    options: Options,
    **fields,
) -> Generator[Event, None, Release]:
    """After a successful rollout: prune, then write what `history.settle` decides."""
    for ref, why in plan.pruning.kept:
        yield Note(f"kept {ref['kind']} {ref['name']}: {why}")
    pruned = yield from prune(target, plan.pruning.prune)
    done = release.with_(
        outcome=Outcome.DEPLOYED, finished=time.time(), pruned=pruned, retained=list(plan.pruning.retain), **fields
    )
    write(store, history_, history.settle(history_, done, keep=options.retention))
    return done


class WaveRunner:
    """Applies waves and waits, recording migrations as they run (a failure keeps what ran).

    Incremental: an object the comparison with `applied` (what the last good release applied,
    see `planning.compare`) finds unchanged is not sent, and its workload is not waited for.
    `managed` collects, per object key, the digest of shiplane's fields to record.
    """

    def __init__(
        self,
        target: Target,
        options: Options,
        *,
        run_migrations: bool = True,
        applied: history.Applied | None = None,
    ) -> None:
        self.target, self.options, self.run_migrations = target, options, run_migrations
        self.applied = applied or history.Applied({}, {})
        self.migrations: list[MigrationRun] = []
        self.managed: dict[str, str] = {}

    def _check_lock(self, lock) -> None:
        if lock is not None and lock.lost.is_set():
            raise ShiplaneError("lost the deploy lock (it expired or was taken over); stopping before the next wave")

    def run(self, waves: tuple[Wave, ...], *, lock=None) -> Generator[Event]:
        kube, ns = self.target.kube, self.target.namespace
        everything = [o for w in waves for o in w.objects]
        live = live_objects(kube, ns, everything)  # once: one list per kind for all waves
        verdicts = compare(everything, self.applied, live)
        unchanged = [o for w in waves if w.name != "migrations" for o in w.objects if not verdicts[Ref.of(o)].send]
        if unchanged:
            yield Note(
                f"{len(unchanged)} of {len(everything)} object(s) unchanged since the last successful release: "
                "not sent again"
            )
        for wave in waves:
            objects = list(wave.objects)
            if wave.name == "migrations" and not self.run_migrations:
                continue
            self._check_lock(lock)
            if wave.name == "migrations":
                objects = yield from self._prepare_migrations(objects, live)
                if not objects:
                    continue
            else:
                same = [o for o in objects if not verdicts[Ref.of(o)].send]
                for obj in same:
                    self.managed[key_of(obj)] = self.applied.managed[key_of(obj)]
                objects = [o for o in objects if verdicts[Ref.of(o)].send]
                if not objects:
                    continue
                for obj in objects:
                    if verdicts[Ref.of(obj)].verdict is Verdict.DRIFTED:
                        yield Note(f"{Ref.of(obj)}: {verdicts[Ref.of(obj)].reason}: applying it again")
            yield from _take_back(objects, live, force=self.options.force_conflicts)
            step = f"wave {wave.name}: {len(objects)} object(s)"
            yield Step(step)
            started = time.monotonic()
            after = yield from apply_all(kube, objects, live=live, force=self.options.force_conflicts)
            for obj in after.values():
                digest = managed_digest(obj)
                if digest:
                    self.managed[key_of(obj)] = digest
            crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
            if crds:  # their resources come in a later wave: the API must serve them first
                for crd in crds:
                    yield from kube.wait_for(
                        Ref.of(crd), _established, timeout=self.options.timeout, describe=lambda _: "not established"
                    )
                kube.refresh_discovery()
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
            yield Step(step, done=True, seconds=time.monotonic() - started)

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


def _take_back(objects: list[dict], live: dict[Ref, dict], *, force: bool) -> Generator[Event]:
    """A Note per object whose fields another manager changed and that this apply sets again: with
    --force-conflicts it overwrites them; without, the API server refuses (and the error names them)."""
    for obj in objects:
        fields = taken_back(obj, live.get(Ref.of(obj)))
        if not fields:
            continue
        managers = sorted({m for f in fields for m in f.managers})
        paths = ", ".join(f"{f.change.path} ({f.change.new!r} -> {f.change.old!r})" for f in fields)
        verb = "takes back" if force else "would take back (conflicts without --force-conflicts)"
        yield Note(f"{Ref.of(obj)}: {verb} from {', '.join(managers)}: {paths}")
