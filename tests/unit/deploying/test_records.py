import os

import pytest

from shiplane.releases import MemoryStore, MigrationRun, Outcome, Release
from shiplane.releases.lock import LeaseView, view
from shiplane.releases.record import CHUNK_BYTES, CorruptRecord, decode, encode, strip_secret


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


def test_secret_values_are_stripped_from_records():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"pw": "c2VjcmV0"}}
    stripped = strip_secret(secret)
    assert "data" not in stripped and stripped["keys"] == ["pw"]
    assert "c2VjcmV0" not in str(stripped)
    assert strip_secret(secret)["metadata"]["annotations"] == stripped["metadata"]["annotations"]
    other = {**secret, "data": {"pw": "b3RoZXI="}}
    assert strip_secret(other)["metadata"]["annotations"] != stripped["metadata"]["annotations"]


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
