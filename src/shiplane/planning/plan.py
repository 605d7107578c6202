"""The plan: desired objects + what the server predicts (dry-run) + history → what a deploy does.

Pure: the `kube` probes and the release records are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shiplane.kube import Ref
from shiplane.planning.diff import FieldChange, diff
from shiplane.planning.ordering import Wave, WaveRule, waves
from shiplane.planning.preflight import Gap
from shiplane.releases.history import last_good
from shiplane.releases.record import Release, ref_of

CONFIG_KINDS = ("ConfigMap", "Secret")
KEEP_ANNOTATION = "shiplane.io/keep"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REPLACE = "replace"  # an immutable field changed: delete, then create
    PRUNE = "prune"


@dataclass(frozen=True)
class Probe:
    """The server's view of one desired object: live now, and after a dry-run apply."""

    live: dict | None
    predicted: dict | None
    immutable: str | None = None  # the server refused the change as immutable: replace it


@dataclass(frozen=True)
class Change:
    ref: Ref
    action: Action
    wave: str
    diff: tuple[FieldChange, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        r = self.ref
        out: dict[str, Any] = {"kind": r.kind, "apiVersion": r.api_version, "name": r.name, "namespace": r.namespace}
        out |= {"action": str(self.action), "wave": self.wave}
        if self.diff:
            out["diff"] = [{"path": c.path, "old": c.old, "new": c.new} for c in self.diff]
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Pruning:
    prune: tuple[dict, ...] = ()  # refs to delete after a successful rollout
    retain: tuple[dict, ...] = ()  # old config kept one more release, so rollback finds it
    kept: tuple[tuple[dict, str], ...] = ()  # (ref, why) never deleted without an explicit flag


@dataclass(frozen=True)
class Plan:
    waves: tuple[Wave, ...]
    changes: tuple[Change, ...]
    pruning: Pruning = field(default_factory=Pruning)
    gaps: tuple[Gap, ...] = ()  # what the cluster cannot take (a deploy refuses)
    notes: tuple[str, ...] = ()  # preflight facts that could not be read

    @property
    def has_changes(self) -> bool:
        return bool(self.pruning.prune) or any(c.action is not Action.UNCHANGED for c in self.changes)

    @property
    def migrations(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.wave == "migrations" and c.action is not Action.UNCHANGED)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[str(c.action)] = counts.get(str(c.action), 0) + 1
        return {
            "changed": self.has_changes,
            "counts": counts | {"prune": len(self.pruning.prune)},
            "waves": [{"name": w.name, "wait": w.wait, "objects": len(w.objects)} for w in self.waves],
            "changes": [c.to_json() for c in self.changes],
            "migrations": [c.to_json() for c in self.migrations],
            "prune": list(self.pruning.prune),
            "retain": list(self.pruning.retain),
            "kept": [{"ref": ref, "why": why} for ref, why in self.pruning.kept],
            "preflight": [g.to_json() for g in self.gaps],
        }


def _key(ref: dict) -> tuple:
    return (
        ref["apiVersion"].split("/")[0] if "/" in ref["apiVersion"] else "",
        ref["kind"],
        ref.get("namespace"),
        ref["name"],
    )


def pruning(desired: list[dict], history: list[Release], *, prune_volumes: bool = False) -> Pruning:
    """What the previous releases applied that this one no longer wants.

    Config objects (hash-named ConfigMaps/Secrets) of the last successful release
    are retained one more release, since a rollback to it needs them; PVCs and
    objects annotated `shiplane.io/keep: "true"` are only listed, never deleted,
    unless `prune_volumes` (PVCs) is given.
    """
    current = {_key(ref_of(o)) for o in desired}
    success = last_good(history)
    after = [r for r in history if success is None or r.revision > success.revision]
    candidates: dict[tuple, dict] = {}
    previous_objects: dict[tuple, dict] = {}
    for release in [*([success] if success else []), *after]:
        for obj in release.objects:
            previous_objects[_key(ref_of(obj))] = obj
    retain: list[dict] = []
    from_success = {_key(ref_of(o)) for o in success.objects} if success else set()
    for key, obj in previous_objects.items():
        if key in current:
            continue
        if obj["kind"] in CONFIG_KINDS and key in from_success:
            retain.append(ref_of(obj))
        else:
            candidates[key] = ref_of(obj)
    for ref in success.retained if success else []:
        if _key(ref) not in current:
            candidates[_key(ref)] = {k: v for k, v in ref.items() if k != "kept"}
            if ref.get("kept", "").startswith("annotated"):
                previous_objects.setdefault(_key(ref), {"metadata": {"annotations": {KEEP_ANNOTATION: "true"}}})
    prune, kept = [], []
    for key in sorted(candidates):
        ref = candidates[key]
        obj = previous_objects.get(key, {})
        if ref["kind"] == "PersistentVolumeClaim" and not prune_volumes:
            kept.append((ref, "a PersistentVolumeClaim holds data (use --prune-volumes to delete it)"))
        elif (obj.get("metadata", {}).get("annotations") or {}).get(KEEP_ANNOTATION) == "true":
            kept.append((ref, f'annotated {KEEP_ANNOTATION}: "true"'))
        else:
            prune.append(ref)
    # Kept objects stay on the books (in `retain`), so a later run can still prune them when asked.
    retain += [{**ref, "kept": why} for ref, why in kept]
    return Pruning(tuple(prune), tuple(sorted(retain, key=_key)), tuple(kept))


def make(
    desired: list[dict],
    probes: dict[Ref, Probe],
    *,
    history: list[Release] = (),  # type: ignore[assignment]
    rules: list[WaveRule] | None = None,
    prune_volumes: bool = False,
) -> Plan:
    ordered = waves(desired, rules)
    changes: list[Change] = []
    for wave in ordered:
        for obj in wave.objects:
            ref = Ref.of(obj)
            probe = probes.get(ref, Probe(None, obj))
            if probe.immutable:
                changes.append(Change(ref, Action.REPLACE, wave.name, tuple(diff(probe.live, obj)), probe.immutable))
            elif probe.live is None:
                changes.append(Change(ref, Action.CREATE, wave.name, tuple(diff(None, probe.predicted or obj))))
            else:
                delta = tuple(diff(probe.live, probe.predicted))
                changes.append(Change(ref, Action.UPDATE if delta else Action.UNCHANGED, wave.name, delta))
    return Plan(tuple(ordered), tuple(changes), pruning(desired, list(history), prune_volumes=prune_volumes))
