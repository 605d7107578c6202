"""The release record: what one deploy (or rollback) of an app to a stage did.

Serialized explicitly with its own format version — JSON, gzip, then split into
chunks — so no size cap (Helm's 1 MiB Secret, helm#7126) is ever hit. Secret
*values* are never part of a record: Secret objects are kept as references plus a
keyed digest of their data (`shiplane.digests`); the Secrets themselves stay in the
cluster for rollback.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from shiplane import __version__, digests
from shiplane.errors import CorruptRecord, RecordTooNew

# The format's major version: a reader reads every record up to its own version and refuses a
# newer one. Adding fields is no new version: readers ignore (and keep) fields they do not know.
VERSION = 1
FORMAT = f"shiplane.io/release/v{VERSION}"
_FORMAT = re.compile(r"shiplane\.io/release/v(\d+)")
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
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # fields of newer shiplanes


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
    signatures: list[dict] = field(default_factory=list)  # per image: digest, verifying key fingerprint, layout
    image_audit: dict[str, Any] = field(default_factory=dict)  # the image gate's scan summary, if it ran
    retained: list[dict] = field(default_factory=list)  # config refs kept for rollback, pruned later
    pruned: list[dict] = field(default_factory=list)
    rollback_of: int | None = None  # set on a release that rolled back to that revision
    message: str = ""
    # object key → digest of the fields shiplane owned right after applying it (incremental deploys)
    managed: dict[str, str] = field(default_factory=dict)
    # the git commit of the spec that was deployed, and its commit time (DORA's lead time for changes)
    commit: str = ""
    committed: float | None = None
    # kind/name/container → how its image was pinned: {"image": as the spec wrote it, "digest",
    # "reference": what was deployed, and for a relocated stage "source" (the spec's registry)}
    pins: dict[str, dict[str, str]] = field(default_factory=dict)
    # why this release was made: "" for an ordinary deploy; a secret rotation's "scheduled", "manual",
    # "compromised: …", with the versions it rolled out ({secret: version})
    reason: str = ""
    secret_versions: dict[str, int] = field(default_factory=dict)
    # etcd sources read for this release: "config.NAME"/"secrets.NAME" → {"revision", "keys": {key: {"mod",
    # "digest"}}}, so a later render can read the same values and `plan` can say which keys changed
    etcd: dict[str, dict] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # fields of newer shiplanes

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
        for key in ("objects", "managed", "extra"):
            out.pop(key)
        for m in out["migrations"]:
            m.pop("extra")
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


def key_of(obj: dict) -> str:
    """One object's identity as a string: group/kind/namespace/name (the version may change)."""
    api = obj["apiVersion"]
    group = api.split("/")[0] if "/" in api else ""
    meta = obj.get("metadata", {})
    return f"{group}/{obj['kind']}/{meta.get('namespace') or ''}/{meta['name']}"


DIGEST = digests.ANNOTATION


def data_digest(key: bytes, values: dict) -> str:
    """The keyed digest of a Secret's data (`data` and `stringData` merged), as records keep it."""
    return digests.secret(key, values)


def with_digest(obj: dict, key: bytes) -> dict:
    """A Secret carrying the keyed digest of its values (anything else as it is), so the record can
    keep it without the key and a later run with the key can tell whether the values changed."""
    if obj.get("kind") != "Secret":
        return obj
    values = {**obj.get("data", {}), **obj.get("stringData", {})}
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = {**(meta.get("annotations") or {}), DIGEST: data_digest(key, values)}
    return {**obj, "metadata": meta}


def has_digest(obj: dict) -> bool:
    """Whether a (stripped or whole) Secret carries a keyed digest of its values."""
    return digests.is_keyed(((obj.get("metadata") or {}).get("annotations") or {}).get(DIGEST))


def strip_secret(obj: dict, key: bytes | None = None) -> dict:
    """A Secret without its values: a keyed digest shows whether they changed, never what they are.

    With `key`, the digest is made from the values here; without it, the one rendering put on the
    Secret (under the stage's key) is kept if it is keyed, and any other (a plain digest read from
    a live object written by an older shiplane) is dropped: no unkeyed digest is ever kept."""
    if obj.get("kind") != "Secret":
        return obj
    values = {**obj.get("data", {}), **obj.get("stringData", {})}
    kept = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    meta = dict(kept.get("metadata", {}))
    annotations = dict(meta.get("annotations") or {})
    found = annotations.pop(DIGEST, None)
    if key is not None:
        annotations[DIGEST] = data_digest(key, values)
    elif digests.is_keyed(found):
        annotations[DIGEST] = found
    if annotations or "annotations" in meta:
        meta["annotations"] = annotations
    return {**kept, "metadata": meta, "keys": sorted(values)}


def _plain(release: Release) -> dict[str, Any]:
    """The record's JSON form: unknown fields read from a newer writer go back as they came."""
    data = asdict(release)
    data["migrations"] = [{**m.pop("extra"), **m} for m in data["migrations"]]
    return {**data.pop("extra"), **data}


def encode(release: Release) -> list[str]:
    """Release → base64 chunks (each at most CHUNK_BYTES)."""
    body = {"format": FORMAT, "writer": f"shiplane {__version__}", "release": _plain(release)}
    raw = gzip.compress(json.dumps(body, separators=(",", ":"), sort_keys=True).encode(), mtime=0)
    text = base64.b64encode(raw).decode()
    return [text[i : i + CHUNK_BYTES] for i in range(0, len(text), CHUNK_BYTES)] or [""]


def _split(cls: type, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields `cls` knows, the rest): the rest is kept, not interpreted."""
    known = {f.name for f in fields(cls)} - {"extra"}
    return {k: v for k, v in data.items() if k in known}, {k: v for k, v in data.items() if k not in known}


def _split_run(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return _split(MigrationRun, data)


def decode(chunks: list[str]) -> Release:
    try:
        body = json.loads(gzip.decompress(base64.b64decode("".join(chunks))))
    except (ValueError, OSError, EOFError) as err:
        raise CorruptRecord(f"release record is damaged: {err}") from None
    if not isinstance(body, dict) or not isinstance(body.get("release"), dict):
        raise CorruptRecord("release record is damaged: no release in it")
    data = body["release"]
    found = _FORMAT.fullmatch(str(body.get("format")))
    where = f"release record {data.get('app')}/{data.get('stage')} revision {data.get('revision')}"
    writer = body.get("writer") or "a newer shiplane"
    if found is None:
        raise CorruptRecord(f"{where}: format {body.get('format')!r} is not a shiplane release record")
    if int(found.group(1)) > VERSION:
        raise RecordTooNew(
            f"{where} was written by {writer} in record format v{found.group(1)}; "
            f"this shiplane {__version__} reads up to v{VERSION}",
            hint="upgrade shiplane to read this stage's history (it is left untouched)",
        )
    known, extra = _split(Release, data)
    try:
        known["outcome"] = Outcome(known["outcome"])
    except ValueError:
        raise RecordTooNew(
            f"{where} was written by {writer}: its outcome {known['outcome']!r} is unknown to shiplane {__version__}",
            hint="upgrade shiplane to read this stage's history (it is left untouched)",
        ) from None
    except KeyError:
        raise CorruptRecord(f"{where} is damaged: it has no outcome") from None
    try:
        known["migrations"] = [MigrationRun(**k, extra=x) for k, x in map(_split_run, known.get("migrations", []))]
        return Release(**known, extra=extra)
    except (TypeError, AttributeError) as err:  # a required field missing or mistyped: damaged, not newer
        raise CorruptRecord(f"{where} is damaged: {err}") from None
