import hashlib
import json
import os

import pytest

from shiplane.releases import MemoryStore, MigrationRun, Outcome, Release
from shiplane.releases.lock import LeaseView, view
from shiplane.releases.record import CHUNK_BYTES, DIGEST, CorruptRecord, decode, encode, strip_secret, with_digest


def test_round_trip_and_chunking_past_any_size_cap():
    # Incompressible payload, several chunks: nothing like Helm's 1 MiB limit applies.
    blob = os.urandom(1_500_000).hex()
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"x": blob}}]
    r = Release(
        "voting",
        "prod",
        7,
        1.0,
        Outcome.DEPLOYED,
        finished=3.5,
        objects=objects,
        migrations=[MigrationRun("db", "db-migrate-1", "contract", "succeeded")],
    )
    chunks = encode(r)
    assert len(chunks) > 2 and all(len(c) <= CHUNK_BYTES for c in chunks)
    assert decode(chunks) == r
    assert r.duration == 2.5


def test_damaged_or_foreign_records_are_reported_not_crashed_on():
    with pytest.raises(CorruptRecord):
        decode(["bm90IGd6aXA="])


KEY = b"k" * 32


def test_secret_values_are_stripped_from_records():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"pw": "c2VjcmV0"}}
    stripped = strip_secret(secret, KEY)
    assert "data" not in stripped and stripped["keys"] == ["pw"]
    assert "c2VjcmV0" not in str(stripped)
    assert strip_secret(secret, KEY)["metadata"]["annotations"] == stripped["metadata"]["annotations"]
    other = {**secret, "data": {"pw": "b3RoZXI="}}
    assert strip_secret(other, KEY)["metadata"]["annotations"] != stripped["metadata"]["annotations"]


def _plain_digests(values: dict) -> list[str]:
    """What the old, unkeyed digest was (and its prefixes): a guess could be checked against it."""
    full = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
    return [full[:16], full[:10], full[:8]]


def test_a_secret_digest_is_keyed_and_reveals_nothing_without_the_key():
    values = {"pw": "aHVudGVyMg=="}  # hunter2: a guess anyone would try
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": values}
    digest = strip_secret(secret, KEY)["metadata"]["annotations"][DIGEST]
    assert digest.startswith("hmac-sha256:")
    assert not any(plain in digest for plain in _plain_digests(values))
    # another stage's key gives another digest: the same value is not recognisable across stages
    assert strip_secret(secret, b"x" * 32)["metadata"]["annotations"][DIGEST] != digest
    # what rendering put on the Secret under the key is what the record keeps, with no key at hand
    assert strip_secret(with_digest(secret, KEY))["metadata"]["annotations"][DIGEST] == digest


def test_a_plain_digest_is_never_kept_and_old_records_still_load():
    values = {"pw": "aHVudGVyMg=="}
    old_digest = _plain_digests(values)[0]
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {DIGEST: old_digest}}}
    assert DIGEST not in strip_secret({**live, "data": values})["metadata"]["annotations"]
    # a record written before digests were keyed decodes as it was written
    old = Release("a", "dev", 1, 1.0, Outcome.DEPLOYED, objects=[{**live, "keys": ["pw"]}])
    assert decode(encode(old)).objects[0]["metadata"]["annotations"][DIGEST] == old_digest


def test_memory_store_lists_oldest_first():
    store = MemoryStore()
    for rev in (3, 1, 2):
        store.put(Release("a", "dev", rev, float(rev)))
    store.delete(2)
    assert [r.revision for r in store.list()] == [1, 3]


def test_lease_expiry():
    lease = {"spec": {"holderIdentity": "me", "renewTime": "2026-01-01T00:00:00.000000Z", "leaseDurationSeconds": 30}}
    seen = view(lease)
    assert seen == LeaseView("me", seen.renewed, 30)
    assert not seen.expired(seen.renewed + 29) and seen.expired(seen.renewed + 31)
    assert view({"spec": {}}).expired(0)


def _raw(body: dict) -> list[str]:
    """A record as some shiplane (older, newer) may have stored it."""
    import base64
    import gzip
    import json

    return [base64.b64encode(gzip.compress(json.dumps(body).encode())).decode()]


def test_a_record_from_a_newer_minor_keeps_and_ignores_unknown_fields():
    body = {
        "format": "shiplane.io/release/v1",
        "writer": "shiplane 9.1.0",
        "signature": "ignored",  # a body-level field of the future
        "release": {
            "app": "shop",
            "stage": "dev",
            "revision": 4,
            "started": 1.0,
            "outcome": "deployed",
            "canary": {"weight": 10},  # a release field of the future
            "migrations": [
                {"name": "db", "job": "db-1", "compatibility": "expand", "outcome": "succeeded", "took": 3.5}
            ],
        },
    }
    r = decode(_raw(body))
    assert (r.app, r.revision, r.outcome) == ("shop", 4, Outcome.DEPLOYED)
    assert r.extra == {"canary": {"weight": 10}} and r.migrations[0].extra == {"took": 3.5}
    assert "canary" not in r.summary() and "extra" not in r.summary()["migrations"][0]
    # Rewriting it (an older shiplane superseding it) gives the newer one its fields back.
    again = decode(encode(r.with_(outcome=Outcome.SUPERSEDED)))
    assert again.extra == {"canary": {"weight": 10}} and again.migrations[0].extra == {"took": 3.5}
    assert again.outcome is Outcome.SUPERSEDED


@pytest.mark.parametrize(
    ("format_", "outcome", "says"),
    [
        ("shiplane.io/release/v2", "deployed", "written by shiplane 9.0.0 in record format v2"),
        ("shiplane.io/release/v1", "paused", "written by shiplane 9.0.0: its outcome 'paused' is unknown"),
    ],
)
def test_a_record_from_a_newer_major_is_a_clear_error_not_a_traceback(format_, outcome, says):
    from shiplane.errors import EnvironmentProblem
    from shiplane.releases.record import RecordTooNew

    body = {
        "format": format_,
        "writer": "shiplane 9.0.0",
        "release": {"app": "shop", "stage": "dev", "revision": 7, "started": 1.0, "outcome": outcome, "new": []},
    }
    with pytest.raises(RecordTooNew) as caught:
        decode(_raw(body))
    assert isinstance(caught.value, EnvironmentProblem) and caught.value.exit_code == 3
    message = str(caught.value)
    assert "release record shop/dev revision 7" in message and says in message and "upgrade shiplane" in message


def test_a_record_from_the_past_reads_with_defaults():
    # As the first shiplane wrote them: no writer, no holder/overrides/retained/rollback_of/managed.
    body = {
        "format": "shiplane.io/release/v1",
        "release": {"app": "shop", "stage": "dev", "revision": 1, "started": 1.0, "outcome": "superseded"},
    }
    r = decode(_raw(body))
    assert r.outcome is Outcome.SUPERSEDED and r.holder == "" and r.managed == {} and r.rollback_of is None
    assert r.extra == {}


def test_a_record_missing_what_every_version_has_is_damaged():
    body = {"format": "shiplane.io/release/v1", "release": {"app": "shop", "outcome": "deployed"}}
    with pytest.raises(CorruptRecord, match="damaged"):
        decode(_raw(body))
    mistyped = {"app": "shop", "stage": "dev", "revision": 1, "started": 1.0, "migrations": ["db"]}
    with pytest.raises(CorruptRecord, match="revision 1 is damaged"):
        decode(_raw({"format": "shiplane.io/release/v1", "release": mistyped}))
    with pytest.raises(CorruptRecord, match="not a shiplane release record"):
        decode(_raw({"format": "helm.sh/release/v1", "release": {}}))


def test_the_cluster_store_refuses_a_history_with_a_newer_record():
    """Skipping it would reuse its revision number and overwrite it: the store says so instead."""
    from shiplane.releases.record import RecordTooNew
    from shiplane.releases.store import ClusterStore

    class Kube:
        def list(self, *_a, **_kw):
            body = {"format": "shiplane.io/release/v3", "writer": "shiplane 9.0.0", "release": {"revision": 2}}
            labels = {"shiplane.io/revision": "2", "shiplane.io/chunk": "0-of-1"}
            return [{"metadata": {"name": "r", "labels": labels}, "data": {"record": _raw(body)[0]}}]

    with pytest.raises(RecordTooNew, match="upgrade"):
        ClusterStore(Kube(), app="shop", stage="dev", namespace="ns").list()
