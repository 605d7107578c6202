"""Dual-credential rotation (`rotation.dual`): the state machine of `shiplane.secrets.dual`, run under
the deploy lock, its progress recorded in the vault after each phase so a killed run resumes.

    prepare   the spec's `prepare` Job creates/enables NEW_USER with NEW_PASSWORD (then the pre-flight
              check, if any, with the new credential)
    rollout   an ordinary deploy with the new credential (reason recorded); the vault promotes it
    verify    wait until no pod holds the old credential's Secret, then `grace`
    retire    the spec's `retire` Job disables OLD_USER

A failure in prepare or rollout aborts: the pending version is discarded and the state cleared;
the old credential was never touched, so the (automatic) rollback costs nothing. A failure in
verify or retire keeps the state: the next run resumes there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Mapping

from shiplane.actions import rotate
from shiplane.actions.desired import Desired
from shiplane.actions.runner import Options
from shiplane.actions.target import Target
from shiplane.errors import ShiplaneError, TimedOut
from shiplane.events import Event, Note, Step, Waiting
from shiplane.releases import Release
from shiplane.secrets import dual
from shiplane.secrets.dual import Progress
from shiplane.secrets.timing import seconds
from shiplane.spec import StageSpec

# Runs one rotation Job: (target, secret, purpose, job spec, env) → events; raises RolloutFailed.
JobRunner = Callable[..., Generator[Event, None, None]]


def is_dual(stage: StageSpec, name: str) -> bool:
    rotation = stage.doc.secrets[name].rotation
    return bool(rotation and rotation.dual)


def _secret_refs(pod: dict) -> set[str]:
    spec = pod.get("spec") or {}
    names = {(v.get("secret") or {}).get("secretName", "") for v in spec.get("volumes") or []}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for e in c.get("env") or []:
            names.add(((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name", ""))
        for e in c.get("envFrom") or []:
            names.add((e.get("secretRef") or {}).get("name", ""))
    return names - {""}


def holding(target: Target, name: str, keep: str) -> list[str]:
    """Pods (not finished) that still use a version of secret `name` other than the Secret `keep`."""
    ours = re.compile(rf"^{re.escape(name)}-[0-9a-f]{{10}}$")
    out = []
    for pod in target.kube.list("v1", "Pod", namespace=target.namespace):
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if any(ours.match(s) and s != keep for s in _secret_refs(pod)):
            out.append(pod["metadata"]["name"])
    return out


class DualRotation:
    def __init__(
        self,
        target: Target,
        stage: StageSpec,
        name: str,
        render: Callable[[Mapping[str, bytes]], Desired],
        *,
        reason: str,
        options: Options,
        run_job: JobRunner = rotate.run_job,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target, self.stage, self.name, self.render = target, stage, name, render
        self.reason, self.options, self.run_job = reason, options, run_job
        self.clock, self.sleep = clock, sleep
        self.spec = stage.doc.secrets[name].rotation.dual
        self.vault = rotate.vault(target)

    def _record(self, progress: Progress | None) -> None:
        self.vault.set_phase(self.name, None if progress is None else progress.to_json())

    def _abort(self, progress: Progress) -> None:
        self.vault.discard(self.name, progress.new)
        self._record(None)

    def _begin(self) -> Generator[Event, None, Progress]:
        found = self.vault.phases().get(self.name)
        if found is not None:
            progress = Progress.of(found)
            yield Note(f"resuming the dual rotation of {self.name} at phase {progress.phase}")
            return progress
        current = rotate.ensure(self.target, self.stage, write=True, now=self.clock())
        state = self.vault.states()[self.name]
        yield Step(f"generate a new version of {self.name}")
        made = rotate.make(self.stage, self.target.namespace, self.name, current, self.clock())
        pending = self.vault.stage_pending(self.name, made, self.clock(), self.reason)
        old_user = dual.user_of(current[self.name]) or ""
        progress = Progress(
            "prepare",
            state.current.number,
            pending.number,
            old_user,
            dual.user_of(made.value) or "",
            self.reason,
            self.clock(),
        )
        self._record(progress)
        yield Note(
            f"dual rotation of {self.name}: {old_user} v{progress.old} -> {progress.new_user} v{progress.new} "
            f"({self.reason})"
        )
        return progress

    def run_locked(self, lock) -> Generator[Event, None, tuple[Release | None, int]]:
        progress = yield from self._begin()
        release: Release | None = None
        new_value = self.vault.value(self.name, progress.new)
        while True:
            yield Step(f"{self.name}: phase {progress.phase}")
            if progress.phase == "prepare":
                env = {
                    "NEW_USER": progress.new_user.encode(),
                    "NEW_PASSWORD": dual.password_of(new_value) or b"",
                    "OLD_USER": progress.old_user.encode(),
                }
                try:
                    yield from self.run_job(
                        self.target,
                        self.name,
                        "prepare",
                        self.spec.prepare,
                        env,
                        what=f"prepare {progress.new_user} for {self.name}",
                        stage=self.stage,
                    )
                    check = self.stage.doc.secrets[self.name].rotation.preflight
                    if check:
                        yield from rotate.preflight(self.target, self.name, check, new_value, stage=self.stage)
                except ShiplaneError:
                    self._abort(progress)
                    raise
                progress = progress.next()
            elif progress.phase == "rollout":
                release = yield from self._rollout(lock, progress, new_value)
                progress = progress.next(revision=release.revision)
            elif progress.phase == "verify":
                progress = yield from self._verify(progress)
                progress = progress.next()
            else:  # retire
                env = {"OLD_USER": progress.old_user.encode(), "NEW_USER": progress.new_user.encode()}
                yield from self.run_job(
                    self.target,
                    self.name,
                    "retire",
                    self.spec.retire,
                    env,
                    what=f"retire {progress.old_user} of {self.name}",
                    stage=self.stage,
                )
                self._record(None)
                yield Step(
                    f"{self.name}: {progress.new_user} v{progress.new} serves, {progress.old_user} retired", done=True
                )
                return release, progress.new
            self._record(progress)

    def _rollout(self, lock, progress: Progress, new_value: bytes) -> Generator[Event, None, Release]:
        current = rotate.ensure(self.target, self.stage, write=True, now=self.clock())
        try:
            want = self.render({**current, self.name: new_value})
            release = yield from rotate.deploy_rotation(
                self.target, want, self.options, self.reason, {self.name: progress.new}, lock
            )
        except ShiplaneError:
            self._abort(progress)  # the engine rolled back to the old credential, which still works
            raise
        self.vault.promote(self.name, progress.new)
        return release

    def _verify(self, progress: Progress) -> Generator[Event, None, Progress]:
        """Wait until no pod holds an older version's Secret, then the grace period."""
        want = self.render(rotate.ensure(self.target, self.stage, write=True, now=self.clock()))
        keep = next(
            o["metadata"]["name"]
            for o in want.objects
            if o["kind"] == "Secret" and o["metadata"].get("labels", {}).get("shiplane.io/secret") == self.name
        )
        started = self.clock()
        while progress.drained is None:
            left = holding(self.target, self.name, keep)
            if not left:
                progress = progress.__class__(**{**progress.to_json(), "drained": self.clock()})
                self._record(progress)
                break
            if self.clock() - started > self.options.timeout:
                raise TimedOut(
                    f"{self.name}: pods still hold {progress.old_user}'s credential after "
                    f"{self.options.timeout:.0f}s: {', '.join(left[:5])}; {progress.old_user} stays enabled",
                    hint="the rotation resumes at verify with the next `secrets rotate` (or `--due`)",
                )
            yield Waiting(f"pods holding {progress.old_user}'s credential", self.clock() - started, ", ".join(left[:3]))
            self.sleep(1.0)
        grace_end = progress.drained + seconds(self.spec.grace)
        while (left := grace_end - self.clock()) > 0:
            yield Waiting(f"grace period before retiring {progress.old_user}", seconds(self.spec.grace) - left)
            self.sleep(min(left, 1.0))
        return progress
