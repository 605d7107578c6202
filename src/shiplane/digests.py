"""The one way shiplane digests secret material: keyed, so a digest alone reveals nothing.

A plain sha256 of a Secret's data, kept in release history, lets anyone who reads history test
guesses of a weak password offline. Every digest of secret material is therefore an HMAC-SHA256
under a random per-app/stage key that lives with the secrets, in the cluster
(`shiplane.secrets.digestkey`): two digests made with the same key still tell "changed" from
"unchanged", and without the key a digest cannot be checked against a guess.

Records written before this (plain 16-hex digests) still load: comparing one with a keyed digest
shows "changed" once. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

ANNOTATION = "shiplane.io/data-digest"  # a Secret's keyed data digest, set when rendered, kept in records
PREFIX = "hmac-sha256:"  # marks the keyed form; a plain (old) digest has no prefix
KEY_BYTES = 32
# One random key per process, never stored: for digests that are only compared within one run
# (masked values in `plan`/`diff` output), where no stored key is needed and none should be.
_EPHEMERAL = secrets.token_bytes(KEY_BYTES)


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _bytes(material: Any) -> bytes:
    if isinstance(material, bytes):
        return material
    if isinstance(material, str):
        return material.encode()
    return json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(key: bytes, material: Any) -> str:
    return hmac.new(key, _bytes(material), hashlib.sha256).hexdigest()


def secret(key: bytes, material: Any) -> str:
    """`hmac-sha256:` + 16 hex digits over the material (bytes, text, or JSON with sorted keys)."""
    return PREFIX + _mac(key, material)[:16]


def suffix(key: bytes, material: Any) -> str:
    """10 hex digits, for an object name that must change with secret content (kustomize's length)."""
    return _mac(key, material)[:10]


def ephemeral(material: Any) -> str:
    """8 hex digits under this process's own key: equal within one run, meaningless outside it."""
    return _mac(_EPHEMERAL, material)[:8]


def is_keyed(digest: str | None) -> bool:
    return bool(digest) and str(digest).startswith(PREFIX)
