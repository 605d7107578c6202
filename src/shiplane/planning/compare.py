"""Which desired objects need sending at all: the comparison incremental deploys and `plan` share.

Pure. An object is left alone when three things hold:
  1. its desired body (Secret values reduced to their keyed digest) equals what the last good release
     applied, and no later run that did not finish may have applied something else;
  2. it is live;
  3. the fields shiplane owns on the live object (its `managedFields` entry) are exactly the
     ones it owned right after that apply: nobody edited or took over a field shiplane set
     (any write that changes a field moves its ownership, so a changed value shows here).
Everything else is sent (deploy) or dry-run (plan). The live objects come from one list
per kind (`rollout.live_objects`), never a get per object.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum

from shiplane.kube import Ref
from shiplane.kube.client import FIELD_MANAGER
from shiplane.releases.history import Applied
from shiplane.releases.record import has_digest, key_of, strip_secret


class Verdict(StrEnum):
    NEW = "new"  # not live: create it
    CHANGED = "changed"  # differs from what the last good release applied (or that is unknown)
    DRIFTED = "drifted"  # same as applied, but shiplane's fields on the live object changed since
    UNCHANGED = "unchanged"  # nothing to send


@dataclass(frozen=True)
class Compared:
    verdict: Verdict
    reason: str = ""

    @property
    def send(self) -> bool:
        return self.verdict is not Verdict.UNCHANGED


def _canonical(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _entry(live: dict) -> dict | None:
    """shiplane's server-side-apply entry in `managedFields` (not a subresource's)."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply" and not entry.get("subresource"):
            return entry
    return None


def managed_digest(live: dict | None) -> str | None:
    """A digest of the fields shiplane owns on `live` (None if it owns none)."""
    entry = _entry(live or {})
    if entry is None:
        return None
    owned = {"apiVersion": entry.get("apiVersion"), "fieldsV1": entry.get("fieldsV1")}
    return hashlib.sha256(_canonical(owned).encode()).hexdigest()[:16]


def _other_managers(live: dict) -> list[str]:
    entries = (live.get("metadata") or {}).get("managedFields") or []
    return sorted(
        {e.get("manager", "?") for e in entries if e.get("manager") != FIELD_MANAGER and not e.get("subresource")}
    )


def compare_one(obj: dict, applied: Applied, live: dict | None) -> Compared:
    key = key_of(obj)
    if live is None:
        return Compared(Verdict.NEW, "not in the cluster")
    before = applied.objects.get(key)
    if before is None:
        return Compared(Verdict.CHANGED, "not applied by the last successful release")
    if key in applied.unsettled:
        return Compared(Verdict.CHANGED, "a later run that did not succeed may have changed it")
    if obj.get("kind") == "Secret" and not has_digest(obj):
        return Compared(Verdict.CHANGED, "its values carry no keyed digest to compare by")
    if _canonical(strip_secret(obj)) != _canonical(before):
        return Compared(Verdict.CHANGED, "differs from what the last successful release applied")
    recorded = applied.managed.get(key)
    if recorded is None:
        return Compared(Verdict.CHANGED, "the last release did not record shiplane's fields on it")
    if managed_digest(live) != recorded:
        others = ", ".join(_other_managers(live)) or "none"
        return Compared(
            Verdict.DRIFTED, f"fields shiplane set were changed or taken over since (other managers: {others})"
        )
    return Compared(Verdict.UNCHANGED)


def compare(objects: list[dict], applied: Applied, live: dict[Ref, dict]) -> dict[Ref, Compared]:
    """Every desired object's verdict, keyed by its Ref."""
    return {Ref.of(o): compare_one(o, applied, live.get(Ref.of(o))) for o in objects}
