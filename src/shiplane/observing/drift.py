"""Drift: how live objects differ from what the last release applied, and which manager did it. Pure.

Only fields the release set are compared (the live object is projected onto the applied one, list
items matched by `name`), so the server's defaults are not drift. Both sides go through
`planning.diff` (server noise dropped, Secret values masked before comparing); a Secret's values are
compared by the keyed digest its record keeps (`shiplane.digests`), never shown. Who changed a field comes from the live
object's `managedFields`: every manager but shiplane's own apply (and the status subresource's
writers) that owns the changed field, or a field the release did not set at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shiplane import digests
from shiplane.kube import Ref
from shiplane.kube.client import FIELD_MANAGER
from shiplane.planning.diff import MASK, NOISE_ANNOTATIONS, FieldChange, diff
from shiplane.releases.record import DIGEST, strip_secret


@dataclass(frozen=True)
class FieldDrift:
    change: FieldChange  # old: what the release applied; new: what is live
    managers: tuple[str, ...] = ()  # who owns the field now, other than shiplane (e.g. "kubectl-edit (Update)")

    def to_json(self) -> dict:
        return {
            "path": self.change.path,
            "applied": self.change.old,
            "live": self.change.new,
            "managers": list(self.managers),
        }

    def render(self) -> str:
        who = f"  (by {', '.join(self.managers)})" if self.managers else ""
        return self.change.render() + who


@dataclass(frozen=True)
class Drift:
    ref: Ref
    missing: bool = False  # the release applied it; it is gone
    changed: tuple[FieldDrift, ...] = ()  # fields the release set, now different
    added: tuple[FieldDrift, ...] = ()  # fields the release did not set, set by another manager

    @property
    def drifted(self) -> bool:
        return self.missing or bool(self.changed or self.added)

    def to_json(self) -> dict:
        return {
            "kind": self.ref.kind,
            "name": self.ref.name,
            "namespace": self.ref.namespace,
            "missing": self.missing,
            "changed": [f.to_json() for f in self.changed],
            "added": [f.to_json() for f in self.added],
        }


def _named(item: Any) -> str | None:
    return item.get("name") if isinstance(item, dict) and isinstance(item.get("name"), str) else None


def project(applied: Any, live: Any) -> Any:
    """`live` cut down to the shape of `applied`: its keys, its list items (matched by name)."""
    if isinstance(applied, dict):
        live = live if isinstance(live, dict) else {}
        return {k: project(v, live.get(k)) for k, v in applied.items() if k in live}
    if isinstance(applied, list) and isinstance(live, list):
        if applied and all(_named(a) for a in applied) and all(_named(x) for x in live):
            by_name = {_named(x): x for x in live}
            if set(by_name) == {_named(a) for a in applied}:
                return [project(a, by_name[_named(a)]) for a in applied]
            return live  # items added or removed: the whole list differs
        if len(applied) == len(live):
            return [project(a, x) for a, x in zip(applied, live, strict=True)]
    return live


def _key_match(item: Any, fields: dict) -> bool:
    return isinstance(item, dict) and all(item.get(k) == v for k, v in fields.items())


def owned_paths(fields: dict, applied: Any, prefix: str = "") -> list[tuple[str, bool]]:
    """(path in `planning.diff`'s notation, whether `applied` has it) for every leaf of a
    managedFields `fieldsV1` tree. Keyed list items resolve to their index in `applied`."""
    return [(path, present) for path, present, _ in _owned(fields, applied, None, prefix)]


def _item(items: Any, kind: str, name: str) -> tuple[int | None, Any]:
    """(index, item) of the list item a `k:`/`v:` key names."""
    if not isinstance(items, list):
        return None, None
    wanted = json.loads(name)
    for i, item in enumerate(items):
        if _key_match(item, wanted) if kind == "k" else item == wanted:
            return i, item
    return None, None


def _owned(fields: dict, applied: Any, live: Any, prefix: str) -> list[tuple[str, bool, Any]]:
    """`owned_paths`, walking `live` alongside to give each leaf's live value."""
    out: list[tuple[str, bool, Any]] = []
    keys = [k for k in fields if k != "."]
    if not keys:
        return [(prefix, True, live)]
    for key in keys:
        sub = fields[key]
        kind, _, name = key.partition(":")
        if kind == "f":
            here = applied.get(name) if isinstance(applied, dict) else None
            there = live.get(name) if isinstance(live, dict) else None
            path = f"{prefix}.{name}" if prefix else name
            present = isinstance(applied, dict) and name in applied
        elif kind in ("k", "v"):
            index, here = _item(applied, kind, name)
            live_index, there = _item(live, kind, name)
            present = index is not None
            path = f"{prefix}[{index if present else (live_index if live_index is not None else name)}]"
        else:
            here, there, path, present = None, None, f"{prefix}[{name}]", False
        if not present:
            out.append((path, False, there))
        elif isinstance(sub, dict) and any(k != "." for k in sub):
            out.extend(_owned(sub, here, there, path))
        else:
            out.append((path, True, there))
    return out


def _others(live: dict) -> list[tuple[str, dict]]:
    """(manager label, fieldsV1) of every writer that is not shiplane's apply nor a status writer."""
    out = []
    for e in (live.get("metadata") or {}).get("managedFields") or []:
        if e.get("subresource") == "status" or (e.get("manager") == FIELD_MANAGER and e.get("operation") == "Apply"):
            continue
        sub = f" {e['subresource']}" if e.get("subresource") else ""
        out.append((f"{e.get('manager', '?')} ({e.get('operation', '?')}{sub})", e.get("fieldsV1") or {}))
    return out


def _noise(path: str) -> bool:
    return path.startswith(("status", "metadata.managedFields", "metadata.resourceVersion")) or any(
        path == f"metadata.annotations.{a}" for a in (*NOISE_ANNOTATIONS, DIGEST)
    )


def _owns(owned: str, path: str) -> bool:
    return path == owned or path.startswith((owned + ".", owned + "["))


def drift_one(applied: dict, live: dict | None, *, scaled: bool = False, key: bytes | None = None) -> Drift:
    """`scaled`: the release applied an HorizontalPodAutoscaler for this workload, so the replica
    count it owns is expected, not drift (a foreign autoscaler still shows). `key`: the stage's
    digest key, to digest a live Secret's values as the record did; without it the digest the
    live Secret carries (set when it was rendered) stands for them."""
    ref = Ref.of(applied)
    if live is None:
        return Drift(ref, missing=True)
    live = {**live, "apiVersion": applied.get("apiVersion"), "kind": applied.get("kind")}  # lists omit these
    if applied.get("kind") == "Secret":
        live = strip_secret(live, key)  # values are dropped here, before anything compares or keeps them
    changes = diff(applied, project(applied, live))
    managers = _others(live)
    changed = []
    for change in changes:
        if _noise(change.path):
            continue
        who = tuple(m for m, fields in managers if any(_owns(p, change.path) for p, _ in owned_paths(fields, applied)))
        changed.append(FieldDrift(change, who))
    old = (applied.get("metadata", {}).get("annotations") or {}).get(DIGEST)
    new = (live.get("metadata", {}).get("annotations") or {}).get(DIGEST)
    # a record written before digests were keyed holds a plain one: no claim either way
    if old != new and digests.is_keyed(old):
        changed.append(FieldDrift(FieldChange("data", MASK, f"{MASK} (values changed)")))
    added = []
    for manager, fields in managers:
        for path, present, value in _owned(fields, applied, live, ""):
            if not present and not _noise(path) and not (scaled and path == "spec.replicas"):
                added.append(FieldDrift(FieldChange(path, None, value), (manager,)))
    return Drift(ref, changed=tuple(changed), added=tuple(added))


def drift(applied: list[dict], live: dict[Ref, dict | None], key: bytes | None = None) -> list[Drift]:
    """Every applied object's drift, in the release's order."""
    scaled = {
        ((o.get("spec") or {}).get("scaleTargetRef") or {}).get("kind", "")
        + "/"
        + ((o.get("spec") or {}).get("scaleTargetRef") or {}).get("name", "")
        for o in applied
        if o.get("kind") == "HorizontalPodAutoscaler"
    }
    return [
        drift_one(o, live.get(Ref.of(o)), scaled=f"{o.get('kind')}/{o['metadata']['name']}" in scaled, key=key)
        for o in applied
    ]


def taken_back(desired: dict, live: dict | None) -> tuple[FieldDrift, ...]:
    """The fields applying `desired` takes back: it sets them, another manager owns them now (a
    `kubectl edit`, a scale, another tool's apply) and their live value differs. Each names its
    managers. Secrets are left out (hash-named, immutable: a new value is a new object)."""
    if live is None or desired.get("kind") == "Secret":
        return ()
    return tuple(f for f in drift_one(desired, live).changed if f.managers)
