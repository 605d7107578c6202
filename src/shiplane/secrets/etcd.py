"""etcd as a source of configuration and secrets: read at render time through etcd v3's JSON
gateway (`POST /v3/kv/range`, base64 keys), with `requests`. (The `etcd3` PyPI client has had no
release since 2020 and pins old grpc/protobuf; the gateway is part of every etcd v3 server.)

Each source is read at one revision — the first answer's, pinned for the rest of that source — and
the release records it with each key's mod revision and a keyed digest of its value (under the
stage's digest key, `shiplane.digests`: history must not let a guess of a value be checked), so:
- a later render can read the same values again (`at`: a source → revision), and
- `plan` can say which keys changed since the last release (`changes`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from shiplane import digests, redaction
from shiplane.errors import EnvironmentProblem, InputError
from shiplane.spec import StageSpec
from shiplane.spec.app import FromEtcd
from shiplane.spec.inputs import used_config, used_secrets


@dataclass(frozen=True)
class Read:
    config: dict[str, str] = field(default_factory=dict)  # env ref → value
    secrets: dict[str, bytes] = field(default_factory=dict, repr=False)
    record: dict[str, dict] = field(default_factory=dict)  # "config.NAME"/"secrets.NAME" → revision, keys


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _range_end(prefix: bytes) -> bytes:
    """The smallest key after every key starting with `prefix` (etcd's prefix convention)."""
    end = bytearray(prefix)
    while end and end[-1] == 0xFF:
        end.pop()
    if not end:
        return b"\0"
    end[-1] += 1
    return bytes(end)


def _entry(value: bytes, mod: int, key: bytes | None) -> dict:
    """A key's record: its mod revision and, with the stage's digest key, a keyed digest of its value."""
    return {"mod": mod} if key is None else {"mod": mod, "digest": digests.secret(key, value)}


def fetch(
    source: FromEtcd, where: str, base_dir: Path, *, revision: int | None = None
) -> tuple[int, dict[str, tuple[bytes, int]]]:
    """(revision read at, key → (value, mod revision)) for one source; the first endpoint that answers."""
    start = (source.key or source.prefix or "").encode()
    body: dict = {"key": _b64(start)}
    if source.prefix:
        body["range_end"] = _b64(_range_end(start))
    if revision:
        body["revision"] = str(revision)
    kwargs: dict = {"timeout": source.timeout}
    if source.tls:
        # requests raises a bare OSError for a missing file: name the spec field instead
        for field, name in (("ca", source.tls.ca), ("cert", source.tls.cert), ("key", source.tls.key)):
            if name and not (base_dir / name).is_file():
                raise InputError(f"{where}.tls.{field}: {base_dir / name} not found")
        if source.tls.ca:
            kwargs["verify"] = str(base_dir / source.tls.ca)
        if source.tls.cert and source.tls.key:
            kwargs["cert"] = (str(base_dir / source.tls.cert), str(base_dir / source.tls.key))
    failures = []
    for endpoint in source.endpoints:
        url = endpoint.rstrip("/") + "/v3/kv/range"
        try:
            answer = requests.post(url, json=body, **kwargs)
            data = answer.json()
        except (requests.RequestException, ValueError) as err:
            failures.append(f"{endpoint}: {type(err).__name__}")
            continue
        if not isinstance(data, dict):  # something else answered on that port
            failures.append(f"{endpoint}: not an etcd v3 JSON gateway (answered {type(data).__name__})")
            continue
        if answer.status_code != 200 or "header" not in data:
            message = str(data.get("message") or data.get("error") or answer.status_code)
            if "compacted" in message:
                raise EnvironmentProblem(
                    f"{where}: etcd has compacted revision {revision}; the values of that release can no "
                    "longer be read",
                    hint="deploy without --etcd-revision-of to read the current values",
                )
            failures.append(f"{endpoint}: {message}")
            continue
        kvs = {
            base64.b64decode(kv["key"]).decode(errors="replace"): (
                base64.b64decode(kv.get("value", "")),
                int(kv.get("mod_revision", 0)),
            )
            for kv in data.get("kvs") or []
        }
        # The header names the store's newest revision, not the one asked for: record what was read.
        return revision or int(data["header"]["revision"]), kvs
    # an endpoint may carry user:password@ (the spec allows it): keep the password out
    raise EnvironmentProblem(redaction.scrub(f"{where}: no etcd endpoint answered ({'; '.join(failures)})", ()))


def read(stage: StageSpec, *, at: Mapping[str, int] | None = None, digest_key: bytes | None = None) -> Read:
    """Every etcd value the stage uses: env `{config: …}` refs and `fromEtcd` secrets; `at` pins a
    source (by its record name) to a revision; `digest_key` (the stage's key, shiplane.digests) digests each value
    for the record (without it, mod revisions alone). Missing keys are listed at once (InputError)."""
    at = at or {}
    config: dict[str, str] = {}
    secrets: dict[str, bytes] = {}
    record: dict[str, dict] = {}
    missing: list[str] = []
    refs: dict[str, list[str]] = {}
    for ref in used_config(stage):
        refs.setdefault(ref.partition("/")[0], []).append(ref)
    for name, wanted in refs.items():
        src = stage.doc.config[name].from_etcd
        label = f"config.{name}"
        revision, kvs = fetch(src, label + ".fromEtcd", stage.base_dir, revision=at.get(label))
        record[label] = {
            "revision": revision,
            "keys": {k: _entry(v, m, digest_key) for k, (v, m) in kvs.items()},
        }
        for ref in wanted:
            key = src.key if src.key else src.prefix + ref.partition("/")[2]
            if key not in kvs:
                missing.append(f"{label}: key {key!r} is not in etcd (revision {revision}), used as {{config: {ref}}}")
                continue
            config[ref] = kvs[key][0].decode(errors="replace")
    for name in used_secrets(stage):
        src = stage.doc.secrets[name].from_etcd
        if src is None:
            continue
        label = f"secrets.{name}"
        revision, kvs = fetch(src, label + ".fromEtcd", stage.base_dir, revision=at.get(label))
        if src.key not in kvs:
            missing.append(f"{label}: key {src.key!r} is not in etcd (revision {revision})")
            continue
        value, mod = kvs[src.key]
        secrets[name] = value
        record[label] = {"revision": revision, "keys": {src.key: _entry(value, mod, digest_key)}}
    if missing:
        raise InputError("\n".join(missing))
    return Read(config, secrets, record)


def _differ(old: dict, new: dict) -> bool:
    """By mod revision, and by digest where both are keyed (a plain digest of an older record, or
    one made under another key, says nothing about the value)."""
    a, b = old.get("digest"), new.get("digest")
    return old.get("mod") != new.get("mod") or (digests.is_keyed(a) and digests.is_keyed(b) and a != b)


def changes(before: Mapping[str, dict], now: Mapping[str, dict]) -> list[dict]:
    """Keys added, changed or removed between two releases' etcd records (by mod revision and digest)."""
    out = []
    for source in sorted(set(before) | set(now)):
        old = (before.get(source) or {}).get("keys", {})
        new = (now.get(source) or {}).get("keys", {})
        for key in sorted(set(old) | set(new)):
            if key not in old:
                change = "added"
            elif key not in new:
                change = "removed"
            elif _differ(old[key], new[key]):
                change = "changed"
            else:
                continue
            out.append(
                {
                    "source": source,
                    "key": key,
                    "change": change,
                    "fromModRevision": (old.get(key) or {}).get("mod"),
                    "toModRevision": (new.get(key) or {}).get("mod"),
                }
            )
    return out
