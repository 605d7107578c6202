"""The stage's digest key Secret: made once, stored only by a writing run, a damaged one reported.
(Against the real API server: tests/integration/test_secret_digests.py.)"""

from __future__ import annotations

import base64

import pytest

from shiplane.errors import Conflict, CorruptRecord
from shiplane.secrets import digestkey


class Kube:
    """Just get/create, as digestkey uses them; `racing`: another run creates the key first."""

    def __init__(self, racing: bytes | None = None) -> None:
        self.objects: dict[str, dict] = {}
        self.racing = racing

    def get(self, ref):
        return self.objects.get(ref.name)

    def create(self, obj):
        if self.racing is not None:
            self.objects[obj["metadata"]["name"]] = {**obj, "data": {"key": base64.b64encode(self.racing).decode()}}
            raise Conflict("already exists")
        self.objects[obj["metadata"]["name"]] = obj
        return obj


def read(kube, *, write: bool) -> bytes:
    return digestkey.read(kube, app="shop", stage="dev", namespace="shop-dev", write=write)


def test_a_plan_makes_a_key_for_itself_and_stores_nothing():
    kube = Kube()
    one, two = read(kube, write=False), read(kube, write=False)
    assert len(one) == 32 and one != two and kube.objects == {}


def test_the_first_deploy_stores_it_immutable_and_later_runs_read_it():
    kube = Kube()
    key = read(kube, write=True)
    stored = kube.objects["shop-digest-key"]
    assert stored["immutable"] is True and stored["metadata"]["labels"]["shiplane.io/digest-key"] == "true"
    assert read(kube, write=True) == key == read(kube, write=False)
    assert digestkey.stored(kube, app="shop", namespace="shop-dev") == key


def test_when_another_run_was_first_its_key_wins():
    theirs = b"t" * 32
    assert read(Kube(racing=theirs), write=True) == theirs


@pytest.mark.parametrize("data", [{}, {"key": "not base64!"}, {"key": base64.b64encode(b"short").decode()}])
def test_a_damaged_key_is_reported_with_the_way_out(data):
    kube = Kube()
    kube.objects["shop-digest-key"] = {"metadata": {"name": "shop-digest-key"}, "data": data}
    with pytest.raises(CorruptRecord) as err:
        read(kube, write=True)
    assert "shop-digest-key" in str(err.value) and "kubectl delete secret -n shop-dev shop-digest-key" in str(err.value)


def test_a_deploy_stores_its_key_only_when_it_writes_and_loses_a_race_loudly():
    """read_later: the key to render with, and a write that a deploy makes after its gates; until
    then nothing is stored. A run whose key another run beat is refused (exit 4), since what it
    rendered would not match the stored key."""
    from shiplane.errors import LockHeld

    kube = Kube()
    key, write = digestkey.read_later(kube, app="shop", stage="dev", namespace="shop-dev")
    assert write is not None and kube.objects == {}
    write()
    assert read(kube, write=False) == key
    again, none = digestkey.read_later(kube, app="shop", stage="dev", namespace="shop-dev")
    assert (again, none) == (key, None)

    raced = Kube(racing=b"k" * 32)
    _, write = digestkey.read_later(raced, app="shop", stage="dev", namespace="shop-dev")
    with pytest.raises(LockHeld, match="another run stored the digest key of shop/dev first"):
        write()
