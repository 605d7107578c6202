"""The release record: what one deploy (or rollback) of an app to a stage did.

Serialized explicitly with its own format version — JSON, gzip, then split into
chunks — so no size cap (Helm's 1 MiB Secret, helm#7126) is ever hit. Secret
*values* are never part of a record: Secret objects are kept as references plus a
digest of their data; the hashed Secrets themselves stay in the cluster for rollback.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from shiplane.errors import CorruptRecord

FORMAT = "shiplane.io/release/v1"
CHUNK_BYTES = 512 * 1024  # well under etcd's 1.5 MiB request limit, with base64 overhead


class Outcome(StrEnum):
    PENDING = "pending"  # in progress (or interrupted: the lock tells which)
    DEPLOYED = "deployed"  # rolled out; the newest such is what runs
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the run died; found and closed by a later run
    SUPERSEDED = "superseded"  # was deployed, then replaced by a newer release
    ROLLED_BACK = "rolled-back"  # failed and was replaced by a rollback


@dataclass(frozen=True)
class MigrationRun:
    name: str  # the service or app-level migration name
    job: str
    compatibility: str  # expand | contract | irreversible
    outcome: str  # succeeded | failed | skipped (already ran)


@dataclass(frozen=True)
class Release:
    app: str
    stage: str
    revision: int
    started: float
    outcome: Outcome = Outcome.PENDING
    finished: float | None = None
    user: str = ""
    ci: str = ""
    holder: str = ""  # the lock holder that wrote this record
    spec_digest: str = ""
    images: dict[str, str] = field(default_factory=dict)
    objects: list[dict] = field(default_factory=list)  # desired objects, Secret data stripped
    migrations: list[MigrationRun] = field(default_factory=list)
    overrides: list[dict] = field(default_factory=list)  # policy overrides: rule + reason
    retained: list[dict] = field(default_factory=list)  # config refs kept for rollback, pruned later
    pruned: list[dict] = field(default_factory=list)
    rollback_of: int | None = None  # set on a release that rolled back to that revision
    message: str = ""

    @property
    def duration(self) -> float | None:
        return None if self.finished is None else round(self.finished - self.started, 3)

    @property
    def inventory(self) -> list[dict]:
        """apiVersion/kind/namespace/name of every object this release applied."""
        return [ref_of(o) for o in self.objects]

    def with_(self, **changes: Any) -> Release:
        return replace(self, **changes)

    def summary(self) -> dict[str, Any]:
        """What `history -o json` shows: everything but the object bodies."""
        out = asdict(self)
        out.pop("objects")
        out["outcome"] = str(self.outcome)
        out["duration"] = self.duration
        out["objects"] = len(self.objects)
        return out


def ref_of(obj: dict) -> dict:
    meta = obj.get("metadata", {})
    ref = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"]}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return ref


def strip_secret(obj: dict) -> dict:
    """A Secret without its values: a digest shows whether they changed, never what they are."""
    if obj.get("kind") != "Secret":
        return obj
    values = {**obj.get("data", {}), **obj.get("stringData", {})}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    kept = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    meta = dict(kept.get("metadata", {}))
    meta["annotations"] = {**meta.get("annotations", {}), "shiplane.io/data-digest": digest}
    return {**kept, "metadata": meta, "keys": sorted(values)}


def encode(release: Release) -> list[str]:
    """Release → base64 chunks (each at most CHUNK_BYTES)."""
    body = {"format": FORMAT, "release": asdict(release)}
    raw = gzip.compress(json.dumps(body, separators=(",", ":"), sort_keys=True).encode(), mtime=0)
    text = base64.b64encode(raw).decode()
    return [text[i : i + CHUNK_BYTES] for i in range(0, len(text), CHUNK_BYTES)] or [""]


def decode(chunks: list[str]) -> Release:
    try:
        body = json.loads(gzip.decompress(base64.b64decode("".join(chunks))))
    except (ValueError, OSError, EOFError) as err:
        raise CorruptRecord(f"release record is damaged: {err}") from None
    if body.get("format") != FORMAT:
        raise CorruptRecord(f"release record format {body.get('format')!r} is not {FORMAT!r}")
    data = body["release"]
    data["outcome"] = Outcome(data["outcome"])
    data["migrations"] = [MigrationRun(**m) for m in data.get("migrations", [])]
    return Release(**data)
