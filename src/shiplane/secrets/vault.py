"""The shiplane-owned Secret `<app>-generated` in a stage's namespace: every generated value, versioned.

    data:        <secret>.<version>      the value (only the current, previous and pending versions)
    annotations: generated.shiplane.io/<secret>  {"current": 2, "previous": 1, "pending": null,
                                                  "versions": {"2": {"created", "expires", "reason"}}}

Metadata lives in annotations so `shiplane secrets status` reads it without any value leaving the
API server (a PartialObjectMetadata request). Every write is a read-modify-replace carrying the
resourceVersion it read, retried on a conflict, so two runs never lose each other's versions.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace

from shiplane.errors import Conflict, CorruptRecord
from shiplane.kube import Kube, Ref
from shiplane.releases.record import DIGEST
from shiplane.secrets.generating import Made
from shiplane.secrets.timing import State, Version

ANNOTATION = "generated.shiplane.io/"
PHASE = "rotation.shiplane.io/"  # a dual-credential rotation in progress (shiplane.secrets.dual)
LABEL = "shiplane.io/generated"


def vault_name(app: str) -> str:
    return f"{app}-generated"


def _state(name: str, text: str) -> State:
    try:
        raw = json.loads(text)
        versions = raw["versions"]

        def version(key: str) -> Version | None:
            n = raw.get(key)
            return None if n is None else Version.of(int(n), versions[str(n)])

        current = version("current")
        if current is None:
            raise KeyError("current")
        return State(current, version("previous"), version("pending"))
    except (ValueError, KeyError, TypeError) as err:
        raise CorruptRecord(f"generated secret {name!r}: its version metadata is damaged ({err!r})") from None


def _dump(state: State) -> str:
    kept = [v for v in (state.current, state.previous, state.pending) if v is not None]
    return json.dumps(
        {
            "current": state.current.number,
            "previous": state.previous.number if state.previous else None,
            "pending": state.pending.number if state.pending else None,
            "versions": {str(v.number): v.to_json() for v in kept},
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def states_of(obj: dict | None) -> dict[str, State]:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return {
        k[len(ANNOTATION) :]: _state(k[len(ANNOTATION) :], v)
        for k, v in annotations.items()
        if k.startswith(ANNOTATION)
    }


SECRET_LABEL = "shiplane.io/secret"  # a rendered Secret: which spec secret it holds (rendering.config)


def versions_run(
    objects: list[dict], states: dict[str, State], values: dict[str, bytes], digest: Callable[[dict], str]
) -> dict[str, int | None]:
    """Which stored version of each generated secret a release's (stripped) objects run: its Secret's
    recorded digest matched against `digest({"value": base64})` of the current and previous values
    (the only ones kept besides a pending one). None: the record tells nothing (a plain digest from
    before digests were keyed) or the value is no longer stored. Pure."""
    out: dict[str, int | None] = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        name = (meta.get("labels") or {}).get(SECRET_LABEL)
        if obj.get("kind") != "Secret" or name not in states:
            continue
        recorded = (meta.get("annotations") or {}).get(DIGEST)
        state = states[name]
        out[name] = None
        for v in (state.current, state.previous):
            value = values.get(f"{name}.{v.number}") if v else None
            if v and value is not None and recorded and digest({"value": base64.b64encode(value).decode()}) == recorded:
                out[name] = v.number
                break
    return out


def phases_of(obj: dict | None) -> dict[str, dict]:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    out = {}
    for key, text in annotations.items():
        if key.startswith(PHASE):
            try:
                out[key[len(PHASE) :]] = json.loads(text)
            except ValueError:
                raise CorruptRecord(f"rotation state {key!r} of the generated secrets is damaged") from None
    return out


class Vault:
    def __init__(self, kube: Kube, *, app: str, stage: str, namespace: str) -> None:
        self.kube, self.app, self.stage, self.namespace = kube, app, stage, namespace
        self.ref = Ref("v1", "Secret", vault_name(app), namespace)

    def states(self) -> dict[str, State]:
        """Every generated secret's versions: metadata only, no value is read."""
        return states_of(self.kube.get_metadata(self.ref))

    def read(self) -> tuple[dict[str, State], dict[str, bytes]]:
        """(states, values by `<secret>.<version>`)."""
        obj = self.kube.get(self.ref)
        data = (obj or {}).get("data") or {}
        return states_of(obj), {k: base64.b64decode(v) for k, v in data.items()}

    def current(self) -> dict[str, bytes]:
        states, values = self.read()
        return {
            name: values[f"{name}.{s.current.number}"]
            for name, s in states.items()
            if f"{name}.{s.current.number}" in values
        }

    def value(self, name: str, version: int) -> bytes:
        return self.read()[1][f"{name}.{version}"]

    def _empty(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.ref.name,
                "namespace": self.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "shiplane",
                    "app.kubernetes.io/part-of": self.app,
                    "shiplane.io/stage": self.stage,
                    LABEL: "true",
                },
                "annotations": {},
            },
            "type": "Opaque",
            "data": {},
        }

    def phases(self) -> dict[str, dict]:
        """Dual-credential rotations in progress, by secret (metadata only)."""
        return phases_of(self.kube.get_metadata(self.ref))

    def set_phase(self, name: str, phase: dict | None) -> None:
        """Record (or, with None, end) a dual-credential rotation's state."""

        def change(states, data, phases):
            if phase is None:
                phases.pop(name, None)
            else:
                phases[name] = phase
            return states

        self.update(change)

    def update(self, change: Callable[..., dict[str, State] | None]) -> dict[str, State]:
        """Apply `change(states, data, phases)` to the stored Secret, retrying on a concurrent change:
        it edits `data` (base64 values by key) and `phases` (rotations in progress) in place and returns
        the new states, or None for no write."""
        for _ in range(5):
            obj = self.kube.get(self.ref)
            fresh = obj is None
            obj = obj or self._empty()
            states = states_of(obj)
            data = dict(obj.get("data") or {})
            phases = phases_of(obj)
            new = change(dict(states), data, phases)
            if new is None:
                return states
            meta = obj["metadata"]
            annotations = {
                k: v
                for k, v in (meta.get("annotations") or {}).items()
                if not k.startswith(ANNOTATION) and not k.startswith(PHASE)
            }
            annotations.update({ANNOTATION + name: _dump(s) for name, s in sorted(new.items())})
            annotations.update({PHASE + name: json.dumps(p, sort_keys=True) for name, p in sorted(phases.items())})
            meta["annotations"] = annotations
            # Only the versions the states name stay stored: older values are gone for good.
            live = {f"{n}.{v.number}" for n, s in new.items() for v in (s.current, s.previous, s.pending) if v}
            obj["data"] = {k: v for k, v in data.items() if k in live}
            try:
                (self.kube.create if fresh else self.kube.replace)(obj)
                return new
            except Conflict:
                continue
        raise Conflict(f"{self.ref} kept changing while shiplane wrote it; try again")

    def add_missing(self, made: dict[str, Made], now: float, reason: str = "first deploy") -> dict[str, State]:
        """Store version 1 of each secret not stored yet (another run's version wins if it was first)."""

        def change(states: dict[str, State], data: dict[str, str], _phases: dict) -> dict[str, State] | None:
            missing = {n: m for n, m in made.items() if n not in states}
            if not missing:
                return None
            for name, m in missing.items():
                states[name] = State(Version(1, now, m.expires, reason))
                data[f"{name}.1"] = base64.b64encode(m.value).decode()
            return states

        return self.update(change)

    def stage_pending(self, name: str, made: Made, now: float, reason: str) -> Version:
        """Store a new version beside the current one, not yet serving."""
        holder: list[Version] = []

        def change(states: dict[str, State], data: dict[str, str], _phases: dict) -> dict[str, State]:
            state = states[name]
            top = max(v.number for v in (state.current, state.previous, state.pending) if v)
            new = Version(top + 1, now, made.expires, reason)
            holder.append(new)
            if state.pending:
                data.pop(f"{name}.{state.pending.number}", None)
            data[f"{name}.{new.number}"] = base64.b64encode(made.value).decode()
            states[name] = replace(state, pending=new)
            return states

        self.update(change)
        return holder[-1]

    def promote(self, name: str, version: int) -> None:
        """The pending version serves now; the one before it is kept (for rollback) until the next rotation."""

        def change(states: dict[str, State], data: dict[str, str], _phases: dict) -> dict[str, State] | None:
            state = states[name]
            if state.pending is None or state.pending.number != version:
                return None
            states[name] = State(state.pending, state.current, None)
            return states

        self.update(change)

    def make_current(self, name: str, version: int) -> bool:
        """A rollback runs `version` (the previous one) again: it serves now, and the version it
        replaces is kept as the previous one (a roll forward finds it). False: nothing to change."""
        changed: list[bool] = []

        def change(states: dict[str, State], data: dict[str, str], _phases: dict) -> dict[str, State] | None:
            state = states.get(name)
            if state is None or state.current.number == version:
                return None
            if state.previous is None or state.previous.number != version:
                return None
            states[name] = State(state.previous, state.current, state.pending)
            changed.append(True)
            return states

        self.update(change)
        return bool(changed)

    def discard(self, name: str, version: int) -> None:
        """Drop a pending version that failed: the current one keeps serving."""

        def change(states: dict[str, State], data: dict[str, str], _phases: dict) -> dict[str, State] | None:
            state = states[name]
            if state.pending is None or state.pending.number != version:
                return None
            states[name] = replace(state, pending=None)
            return states

        self.update(change)
