"""`shiplane deploy`: lock, record, apply in waves, gate on migrations, wait, prune, or roll back."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace

from shiplane import planning
from shiplane.actions import gate, imageaudit, inspect, preflight, signatures
from shiplane.actions.rollback import Rollback
from shiplane.actions.runner import (
    Options,
    WaveRunner,
    open_history,
    plan_for,
    plan_ready,
    settle,
    start_release,
)
from shiplane.actions.target import Target
from shiplane.errors import ApplyFailed, MigrationFailed, RolloutFailed, ShiplaneError
from shiplane.events import Event, Failed, Note, RolledBack, Step, announce_failure, result
from shiplane.releases import Outcome, Release
from shiplane.releases.history import applied, last_good, unsafe_migrations
from shiplane.releases.record import has_digest, strip_secret, with_digest
from shiplane.releases.store import Store
from shiplane.secrets import digestkey

__all__ = ["Deploy", "MigrationFailed", "Options", "images_of"]


def images_of(objects: list[dict]) -> dict[str, str]:
    """workload/container → image, for the record and for promotion."""
    out: dict[str, str] = {}
    for obj in objects:
        spec = obj.get("spec", {})
        pod = (spec.get("jobTemplate", {}).get("spec", {}) if obj["kind"] == "CronJob" else spec).get("template", {})
        for c in (pod.get("spec") or {}).get("containers", []):
            out[f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}"] = c["image"]
    return out


class Deploy:
    def __init__(
        self,
        target: Target,
        objects: list[dict],
        *,
        spec_digest: str = "",
        options: Options | None = None,
        commit: tuple[str, float | None] = ("", None),  # the spec's git commit and its time, for the record
        pins: dict[str, dict[str, str]] | None = None,  # how images were pinned (`desired.Desired.pins`)
        reason: str = "",  # why, when not an ordinary deploy (a secret rotation's), for the record
        secret_versions: dict[str, int] | None = None,
        etcd: dict | None = None,  # the etcd revisions the objects were rendered from, for the record
        # Writes the rendering deferred (a new digest key, newly generated secret values): made under
        # the lock once every gate has passed, so a refused deploy leaves nothing behind.
        writes: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.writes = tuple(writes)
        self.etcd = dict(etcd or {})
        self.target, self.objects, self.spec_digest = target, objects, spec_digest
        self.commit = commit
        self.pins = dict(pins or {})
        self.reason, self.secret_versions = reason, dict(secret_versions or {})
        self.options = options or Options()
        self.overrides: list[dict] = []  # the policy overrides the gate used, recorded in the release
        self.signatures: list[dict] = []  # what verified each image's signature, recorded in the release
        self.image_audit: dict = {}  # the image gate's scan summary (empty when the stage does not opt in)

    def check_policy(self) -> list[dict]:
        """The policy gate, then the signature gate: raise PolicyRefused (exit 5) before anything is
        written, else return the overrides used. Part of run(), so no caller of this action can skip it."""
        overrides = gate.enforce(self.objects, self.options.policy)
        sources = {p["reference"]: p["source"] for p in self.pins.values() if p.get("source")}
        self.signatures = signatures.check(self.objects, self.options.signatures, sources)
        self.objects = signatures.pin(self.objects, self.signatures)  # deploy the verified bytes, not the tag
        return overrides

    def check_images(self, *, dry_run: bool = False) -> Generator[Event, None, dict]:
        """The image-audit gate (the stage's images.failOn): PolicyRefused (exit 5) before anything is
        written; returns the scan summary, with the overrides it used, for the release record."""
        settings = replace(self.options.images, write_cache=False) if dry_run else self.options.images
        return (yield from imageaudit.enforce(self.objects, settings))

    def _keyed(self, *, write: bool) -> None:
        """Every Secret carries the keyed digest of its values (`shiplane.digests`), under the stage's
        key (made and stored on the first deploy that has a Secret), so the record keeps that digest
        and no other. Objects rendered with the key (the CLI's) already do: only other callers' Secrets
        are digested here, and only then is the key read."""
        if not any(o.get("kind") == "Secret" and not has_digest(o) for o in self.objects):
            return
        t = self.target
        key = digestkey.read(t.kube, app=t.app, stage=t.stage, namespace=t.namespace, write=write)
        self.objects = [o if has_digest(o) else with_digest(o, key) for o in self.objects]

    def preview(self) -> planning.Plan:
        """What run() would do, writing nothing (no namespace, lock, record or object): the gate,
        then the plan by server-side dry-run against what is live."""
        self.check_policy()
        self._keyed(write=False)
        result(self.check_images(dry_run=True))
        return inspect.plan(
            self.target, self.objects, rules=self.options.rules, prune_volumes=self.options.prune_volumes
        )

    @announce_failure
    def run(self) -> Generator[Event, None, Release]:
        self.overrides = self.check_policy()
        self.image_audit = yield from self.check_images()
        t, opts = self.target, self.options
        if verified := [s for s in self.signatures if s.get("verified")]:
            keys = sorted({s["fingerprint"] for s in verified})
            yield Note(f"signatures: {len(verified)} image(s) verified with {', '.join(keys)}")
        # Preflight: refuse what this cluster cannot take, before the first write (namespace, lock, record).
        if opts.preflight:
            yield from preflight.run(t, self.objects)
        t.kube.apply(t.namespace_object())
        self._keyed(write=True)
        lock = t.lock(duration=opts.lock_duration)
        yield from lock.acquire(wait=opts.wait_lock, timeout=opts.lock_timeout)
        try:
            for write in self.writes:
                write()
            return (yield from self._locked(lock))
        finally:
            lock.release()

    @announce_failure
    def run_under(self, lock) -> Generator[Event, None, Release]:
        """run() for a caller that already holds the stage's lock (a secret rotation holds it from its
        pre-flight check to the end of the rollout): the gate and preflight still come first."""
        self.overrides = self.check_policy()
        if self.options.preflight:
            yield from preflight.run(self.target, self.objects)
        self._keyed(write=True)
        for write in self.writes:
            write()
        return (yield from self._locked(lock))

    def _locked(self, lock) -> Generator[Event, None, Release]:
        t, opts = self.target, self.options
        store = t.store()
        history = open_history(store, lock.holder)
        release = start_release(
            store,
            history,
            t,
            holder=lock.holder,
            spec_digest=self.spec_digest,
            commit=self.commit[0],
            committed=self.commit[1],
            images=images_of(self.objects),
            objects=[strip_secret(o) for o in self.objects],
            overrides=[*self.overrides, *self.image_audit.get("overrides", [])],
            signatures=list(self.signatures),
            image_audit={k: v for k, v in self.image_audit.items() if k != "overrides"},
            pins=self.pins,
            reason=self.reason,
            secret_versions=self.secret_versions,
            etcd=self.etcd,
        )
        revision = release.revision
        plan = plan_for(self.objects, history, opts)
        yield plan_ready(t, revision, plan)
        yield Note(f"{t.app}/{t.stage} revision {revision}: {len(self.objects)} objects in {len(plan.waves)} waves")
        runner = WaveRunner(t, opts, applied=applied(history))
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
            yield Failed.of(failure)  # before rolling back: what failed, not yet what was done about it
            failed = release.with_(
                outcome=Outcome.FAILED, finished=time.time(), migrations=runner.migrations, message=failure.message
            )
            store.put(failed)
            error = yield from self._after_failure(store, [*history, failed], failed, failure)
            raise error from None
        return (
            yield from settle(
                t, store, history, release, plan, opts, migrations=runner.migrations, managed=runner.managed
            )
        )

    def _after_failure(
        self, store: Store, history: list[Release], failed: Release, failure: ShiplaneError
    ) -> Generator[Event, None, RolloutFailed]:
        head = f"deploy of {failed.app}/{failed.stage} revision {failed.revision} failed:\n{failure.message}"
        if not self.options.rollback:
            return RolloutFailed(
                f"{head}\nnot rolled back (--no-rollback)",
                hint=f"shiplane rollback --stage {failed.stage} restores the last good release",
            )
        target = last_good(history)
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
