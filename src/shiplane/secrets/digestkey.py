"""The stage's digest key: the Secret `<app>-digest-key` in the stage's namespace.

Every digest of secret material shiplane keeps (Secret names, a release's `shiplane.io/data-digest`,
etcd values' digests) is keyed with it (`shiplane.digests`), so history can tell changed from
unchanged but cannot be used to check guesses of a value. It lives with the secrets: whoever may
read it may read the values anyway. The first deploy that needs it creates it; read-only commands
never read it. Deleting it makes the next deploy choose a new key: every Secret is renamed once.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from shiplane import digests
from shiplane.errors import Conflict, CorruptRecord, KubeError, LockHeld
from shiplane.kube import Kube, Ref

DATA_KEY = "key"


def key_name(app: str) -> str:
    return f"{app}-digest-key"


def _decode(obj: dict, ref: Ref) -> bytes:
    try:
        key = base64.b64decode((obj.get("data") or {})[DATA_KEY], validate=True)
    except (KeyError, ValueError, TypeError):
        key = b""
    if len(key) < 16:
        raise CorruptRecord(
            f"{ref}: no usable digest key in it (data.{DATA_KEY} missing or shorter than 16 bytes)",
            hint=f"delete it (kubectl delete secret -n {ref.namespace} {ref.name}); the next deploy "
            "makes a new key and renames every Secret once",
        )
    return key


def read(kube: Kube, *, app: str, stage: str, namespace: str, write: bool) -> bytes:
    """The stored key; if there is none, a new one, stored only with `write` (a real deploy). Without
    `write` (plan, dry-runs) a missing key is made in memory for this run only: what it names is
    compared with nothing stored, so it shows as new, as the first deploy will make it."""
    ref = Ref("v1", "Secret", key_name(app), namespace)
    found = kube.get(ref)
    if found is not None:
        return _decode(found, ref)
    key = digests.new_key()
    return store(kube, app=app, stage=stage, namespace=namespace, key=key) if write else key


def read_later(kube: Kube, *, app: str, stage: str, namespace: str) -> tuple[bytes, Callable[[], None] | None]:
    """The stored key and None; or, when there is none yet, a new key and the write that stores it,
    for a deploy to make once its gates have passed (a refused deploy stores nothing). The write
    fails (exit 4) if another run stored a different key meanwhile: what was rendered with this one
    would not match."""
    ref = Ref("v1", "Secret", key_name(app), namespace)
    found = kube.get(ref)
    if found is not None:
        return _decode(found, ref), None
    key = digests.new_key()

    def write() -> None:
        if store(kube, app=app, stage=stage, namespace=namespace, key=key) != key:
            raise LockHeld(
                f"another run stored the digest key of {app}/{stage} first; nothing was applied",
                hint="run the deploy again",
            )

    return key, write


def store(kube: Kube, *, app: str, stage: str, namespace: str, key: bytes) -> bytes:
    """Store `key` as the stage's digest key (immutable); the key stored: another run's if it was first."""
    ref = Ref("v1", "Secret", key_name(app), namespace)
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": ref.name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "shiplane",
                "app.kubernetes.io/part-of": app,
                "shiplane.io/stage": stage,
                "shiplane.io/digest-key": "true",
            },
        },
        "type": "Opaque",
        "immutable": True,
        "data": {DATA_KEY: base64.b64encode(key).decode()},
    }
    try:
        kube.create(obj)
    except Conflict:  # another run was first: its key wins
        return _decode(kube.get(ref) or {}, ref)
    return key


def stored(kube: Kube, *, app: str, namespace: str) -> bytes | None:
    """The stored key, or None when there is none or it may not be read (`diff` then compares the
    digests live Secrets carry)."""
    ref = Ref("v1", "Secret", key_name(app), namespace)
    try:
        found = kube.get(ref)
    except KubeError as err:
        if err.is_forbidden:
            return None
        raise
    return None if found is None else _decode(found, ref)
