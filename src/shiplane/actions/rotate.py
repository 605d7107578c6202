"""Generated secrets over time: make what is missing, report what is due, rotate through the deploy engine.

A rotation holds the stage's deploy lock from the first step to the last:

    generate the new version → pre-flight Job with it (when the spec gives one) → store it as
    pending → deploy (an ordinary health-gated release, reason recorded) → promote it, or on any
    failure discard it (the engine has rolled the pods back to the previous version's Secret,
    which is still in the cluster).

No value ever reaches an event, a message or a record: values go from `secrets.generating` into
the vault, a temporary pre-flight Secret and the rendered (hash-named) Secrets, nowhere else.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, replace

from shiplane.actions.deploy import Deploy
from shiplane.actions.desired import Desired
from shiplane.actions.runner import Options
from shiplane.actions.target import Target
from shiplane.errors import InputError, LockHeld, RolloutFailed, ShiplaneError, TimedOut
from shiplane.events import Event, Note, Step, announce_failure
from shiplane.kube import Ref
from shiplane.releases import Release
from shiplane.rendering import networking
from shiplane.secrets import digestkey, dual, generating, timing
from shiplane.secrets.generating import Made
from shiplane.secrets.vault import Vault
from shiplane.spec import StageSpec
from shiplane.spec.app import Preflight, RotationJob
from shiplane.spec.inputs import generated_secrets


def vault(target: Target) -> Vault:
    return Vault(target.kube, app=target.app, stage=target.stage, namespace=target.namespace)


def _in_ca_order(stage: StageSpec, names: list[str]) -> list[str]:
    """CAs before the certificates they sign (a `ca` names a generated secret: spec checks)."""
    return sorted(names, key=lambda n: 0 if stage.doc.secrets[n].generate.is_ca else 1)


def _ca(stage: StageSpec, name: str, values: Mapping[str, bytes]) -> tuple | None:
    ca = stage.doc.secrets[name].generate.ca
    if ca is None:
        return None
    if ca not in values:
        raise InputError(f"secrets.{name}.generate.ca: CA secret {ca!r} has no value yet")
    return generating.load_ca(ca, values[ca])


def make(stage: StageSpec, namespace: str, name: str, values: Mapping[str, bytes], now: float) -> Made:
    """A new value for `name`; for a dual-credential secret `user=<the other role> password=…`."""
    made = generating.make(name, stage.doc.secrets[name].generate, stage, namespace, now, _ca(stage, name, values))
    rotation = stage.doc.secrets[name].rotation
    if rotation and rotation.dual:
        user = dual.other(rotation.dual.users, dual.user_of(values[name]) if name in values else None)
        return Made(dual.credential(user, made.value))
    return made


def ensure_later(
    target: Target, stage: StageSpec, *, now: float | None = None
) -> tuple[dict[str, bytes], Callable[[], None] | None]:
    """ensure() for a deploy: the serving values, with missing ones made in memory, and the write
    that stores those (None when nothing is missing), made once the deploy's gates have passed, so a
    refused deploy stores nothing. The write fails (exit 4) if another run stored other values first:
    what was rendered with these would not be what the vault serves."""
    now = time.time() if now is None else now
    store = vault(target)
    values = store.current()
    missing = [n for n in _in_ca_order(stage, generated_secrets(stage)) if n not in values]
    if not missing:
        return values, None
    made: dict[str, Made] = {}
    for name in missing:
        made[name] = make(stage, target.namespace, name, {**values, **{n: m.value for n, m in made.items()}}, now)

    def write() -> None:
        store.add_missing(made, now)
        stored = store.current()
        lost = sorted(n for n, m in made.items() if stored.get(n) != m.value)
        if lost:
            raise LockHeld(
                f"another run stored generated secret(s) {', '.join(lost)} of {target.app}/{target.stage} first; "
                "nothing was applied",
                hint="run the deploy again",
            )

    return {**values, **{n: m.value for n, m in made.items()}}, write


def digest_key_later(target: Target) -> tuple[bytes, Callable[[], None] | None]:
    """The stage's digest key, and the write that stores a new one (see ensure_later)."""
    return digestkey.read_later(target.kube, app=target.app, stage=target.stage, namespace=target.namespace)


def ensure(target: Target, stage: StageSpec, *, write: bool, now: float | None = None) -> dict[str, bytes]:
    """The serving value of every generated secret of the stage. Missing ones are made; with `write`
    they are stored (the namespace created first), else kept in memory only (plan, dry-runs)."""
    now = time.time() if now is None else now
    store = vault(target)
    values = store.current()
    missing = [n for n in _in_ca_order(stage, generated_secrets(stage)) if n not in values]
    if not missing:
        return values
    made: dict[str, Made] = {}
    for name in missing:
        made[name] = make(stage, target.namespace, name, {**values, **{n: m.value for n, m in made.items()}}, now)
    if not write:
        return {**values, **{n: m.value for n, m in made.items()}}
    target.kube.apply(target.namespace_object())
    store.add_missing(made, now)
    return store.current()  # another run may have been first: its values win


def digest_key(target: Target, *, write: bool) -> bytes:
    """The stage's digest key (`shiplane.secrets.digestkey`); a missing one is made, and stored with
    `write` (the namespace created first), else kept for this run only (plan, dry-runs)."""
    if write:
        target.kube.apply(target.namespace_object())
    return digestkey.read(target.kube, app=target.app, stage=target.stage, namespace=target.namespace, write=write)


def retained(target: Target, values: Mapping[str, bytes]) -> dict[str, bytes]:
    """The version each generated secret keeps beside `values` (what is rendered): the vault's
    current one while a rotation renders a new value, else the previous one (if any)."""
    states, stored = vault(target).read()
    out = {}
    for name, state in states.items():
        current = stored.get(f"{name}.{state.current.number}")
        if name in values and current is not None and values[name] != current:
            out[name] = current
        elif state.previous and f"{name}.{state.previous.number}" in stored:
            out[name] = stored[f"{name}.{state.previous.number}"]
    return out


def status(target: Target, stage: StageSpec, now: float | None = None) -> list[timing.Row]:
    """Every spec secret's rotation status, from metadata only (no value is read)."""
    now = time.time() if now is None else now
    store = vault(target)
    states, phases = store.states(), store.phases()
    rows = [timing.row(name, source, states.get(name), now) for name, source in stage.doc.secrets.items()]
    for i, r in enumerate(rows):
        if r.name in phases:
            p = dual.Progress.of(phases[r.name])
            note = f"dual rotation {p.old_user} v{p.old} -> {p.new_user} v{p.new} stopped before phase {p.phase}"
            rows[i] = replace(r, note=note + " (`secrets rotate --due` resumes it)", resume=True)
    return rows


@dataclass(frozen=True)
class Rotated:
    release: Release | None  # None: nothing was due
    versions: dict[str, int]


class Rotate:
    """Rotate `names` (or, with `due`, whatever `status` finds due) of a stage."""

    def __init__(
        self,
        target: Target,
        stage: StageSpec,
        render: Callable[[Mapping[str, bytes]], Desired],
        *,
        names: list[str] | None = None,
        due: bool = False,
        reason: str = "",
        options: Options | None = None,
        clock: Callable[[], float] = time.time,
        job_runner: Callable[..., Generator[Event, None, None]] | None = None,  # dual rotations' Jobs
    ) -> None:
        self.job_runner = job_runner
        self.target, self.stage, self.render = target, stage, render
        self.names, self.due = list(names or []), due
        self.reason = reason or ("scheduled" if due else "manual")
        self.options = options or Options()
        self.clock = clock

    def chosen(self) -> list[str]:
        """The secrets this run rotates; InputError for a name that is not a generated secret."""
        generated = generated_secrets(self.stage)
        if self.due:  # what is due, and every dual-credential rotation a killed run left to resume
            rows = status(self.target, self.stage, self.clock())
            resume = [n for n in vault(self.target).phases() if n in generated]
            return list(dict.fromkeys([*resume, *(r.name for r in rows if r.due)]))
        if not self.names:
            raise InputError("name the secrets to rotate, or give --due")
        bad = [n for n in self.names if n not in generated]
        if bad:
            known = ", ".join(generated) or "none"
            raise InputError(
                f"cannot rotate {', '.join(map(repr, bad))}: only generated secrets are rotated by shiplane "
                f"(generated secrets of stage {self.stage.name}: {known})",
                hint="a fromEnv/fromFile secret rotates by changing its value and deploying",
            )
        return list(dict.fromkeys(self.names))

    @announce_failure
    def run(self) -> Generator[Event, None, Rotated]:
        names = self.chosen()
        if not names:
            yield Note(f"{self.target.app}/{self.stage.name}: no secret is due for rotation")
            return Rotated(None, {})
        t = self.target
        t.kube.apply(t.namespace_object())
        lock = t.lock(duration=self.options.lock_duration)
        yield from lock.acquire(wait=self.options.wait_lock, timeout=self.options.lock_timeout)
        try:
            return (yield from self._locked(lock, _in_ca_order(self.stage, names)))
        finally:
            lock.release()

    def _locked(self, lock, names: list[str]) -> Generator[Event, None, Rotated]:
        from shiplane.actions.dualrotate import DualRotation, is_dual

        duals = [n for n in names if is_dual(self.stage, n)]
        names = [n for n in names if n not in duals]
        done = Rotated(None, {})
        if names:
            done = yield from self._single(lock, names)
        for name in duals:  # one release each: every dual rotation is its own state machine
            release, version = yield from DualRotation(
                self.target,
                self.stage,
                name,
                self.render,
                reason=self.reason,
                options=self.options,
                clock=self.clock,
                run_job=self.job_runner or run_job,
            ).run_locked(lock)
            done = Rotated(release or done.release, {**done.versions, name: version})
        return done

    def _single(self, lock, names: list[str]) -> Generator[Event, None, Rotated]:
        t, store = self.target, vault(self.target)
        current = ensure(t, self.stage, write=True, now=self.clock())
        fresh: dict[str, Made] = {}
        for name in names:
            yield Step(f"generate a new version of {name}")
            fresh[name] = make(
                self.stage, t.namespace, name, {**current, **{n: m.value for n, m in fresh.items()}}, self.clock()
            )
            check = self.stage.doc.secrets[name].rotation
            if check and check.preflight:
                yield from preflight(t, name, check.preflight, fresh[name].value, stage=self.stage)
        versions = {name: store.stage_pending(name, fresh[name], self.clock(), self.reason).number for name in names}
        listed = ", ".join(f"{n} v{v}" for n, v in versions.items())
        yield Note(f"rotating {listed} ({self.reason})")
        try:
            want = self.render({**current, **{n: m.value for n, m in fresh.items()}})
            release = yield from deploy_rotation(t, want, self.options, self.reason, versions, lock)
        except ShiplaneError:
            for name, version in versions.items():
                store.discard(name, version)
            raise  # (killed instead: the pending versions stay, shown by `secrets status`, replaced next time)
        for name, version in versions.items():
            store.promote(name, version)
        yield Step(f"rotated {listed}", done=True)
        return Rotated(release, versions)


def deploy_rotation(
    target: Target, want: Desired, options: Options, reason: str, versions: dict[str, int], lock
) -> Generator[Event, None, Release]:
    """A rotation is an ordinary release of the engine, under the lock the rotation already holds,
    recorded with its reason and the secret versions it rolls out."""
    return (
        yield from Deploy(
            target,
            want.objects,
            spec_digest=want.spec_digest,
            options=options,
            commit=(want.commit, want.committed),
            etcd=want.etcd,
            reason=reason,
            secret_versions=versions,
        ).run_under(lock)
    )


def _job_state(job: dict | None) -> str:
    for cond in ((job or {}).get("status") or {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "succeeded"
        if cond.get("status") == "True" and cond.get("type") in ("Failed", "FailureTarget"):
            return "failed"
    return ""


def preflight(
    target: Target, name: str, check: Preflight, value: bytes, *, stage: StageSpec | None = None
) -> Generator[Event, None, None]:
    """Run the spec's pre-flight Job with the NEW value; raise RolloutFailed if it fails."""
    yield from run_job(
        target, name, "preflight", check, {check.env: value}, what=f"pre-flight check of the new {name}", stage=stage
    )


def run_job(
    target: Target,
    name: str,
    purpose: str,
    spec: Preflight | RotationJob,
    env: Mapping[str, bytes],
    *,
    what: str,
    stage: StageSpec | None = None,
) -> Generator[Event, None, None]:
    """Run a rotation Job (`purpose`: preflight, prepare, retire) that gets `env` through a temporary
    Secret; raise RolloutFailed if it fails or does not finish. The Secret is deleted whatever
    happened; the Job too when it succeeded (a failed one is kept an hour for its logs)."""
    suffix = uuid.uuid4().hex[:6]
    base = f"{target.app}-{purpose}-{name}"[:50]
    labels = {
        "app.kubernetes.io/managed-by": "shiplane",
        "app.kubernetes.io/part-of": target.app,
        "app.kubernetes.io/component": purpose,
        "shiplane.io/rotation-job": purpose,
        "shiplane.io/rotated": name,
        "shiplane.io/rotation-run": f"{base}-{suffix}",
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{base}-{suffix}", "namespace": target.namespace, "labels": labels},
        "type": "Opaque",
        "immutable": True,
        "data": {f"v{i}": base64.b64encode(v).decode() for i, v in enumerate(env.values())},
    }
    container = {
        "name": purpose,
        "image": spec.image,
        "command": list(spec.command),
        "env": [
            {"name": var, "valueFrom": {"secretKeyRef": {"name": secret["metadata"]["name"], "key": f"v{i}"}}}
            for i, var in enumerate(env)
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 65532,  # images built to run as root still start (a client needs no root)
            "runAsGroup": 65532,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Small and bounded, so namespaces with a quota or LimitRange admit the pod.
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    }
    if getattr(spec, "env_from", None):
        container["envFrom"] = [{"secretRef": {"name": n}} for n in spec.env_from]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{base}-{suffix}", "namespace": target.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "activeDeadlineSeconds": max(1, int(spec.timeout)),
            "template": {
                "metadata": {"labels": labels, "annotations": dict(spec.annotations)},
                "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False, "containers": [container]},
            },
        },
    }
    # Through the app's default-deny NetworkPolicy: egress to `connectsTo`, ingress at those services.
    policies = (
        networking.job_policies(stage, target.namespace, f"{base}-{suffix}", labels, spec.connects_to)
        if stage is not None
        else []
    )
    yield Step(f"{what} (Job {job['metadata']['name']})")
    job_ref, secret_ref = Ref.of(job), Ref.of(secret)
    passed = False
    try:
        for policy in policies:
            target.kube.create(policy)
        target.kube.create(secret)
        target.kube.create(job)
        try:
            final = yield from target.kube.wait_for(
                job_ref, lambda j: _job_state(j) != "", timeout=spec.timeout + 30, describe=lambda _: "running"
            )
        except TimedOut:
            final = None
        if _job_state(final) != "succeeded":
            raise RolloutFailed(
                f"{what} failed (Job {job_ref.name}"
                + (" did not finish in time" if final is None else " failed")
                + "); nothing was changed: the current version keeps serving",
                refs=[str(job_ref)],
                hint=f"kubectl logs -n {target.namespace} job/{job_ref.name} shows why (the Job is kept for an "
                "hour; its Secret with the values is deleted); then rotate again",
            )
        passed = True
        yield Step(f"{what} passed", done=True)
    finally:
        target.kube.delete(secret_ref, propagation="Background")  # the values: never left behind
        for policy in policies:
            target.kube.delete(Ref.of(policy), propagation="Background")
        if passed:
            target.kube.delete(job_ref, propagation="Background")
