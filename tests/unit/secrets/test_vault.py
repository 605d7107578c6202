"""Which stored version of a generated secret a release runs (`vault.versions_run`): pure."""

from __future__ import annotations

import base64

from shiplane.releases.record import data_digest, strip_secret, with_digest
from shiplane.secrets.timing import State, Version
from shiplane.secrets.vault import versions_run

KEY = b"k" * 32


def rendered(name: str, value: bytes, *, retained: bool = False) -> dict:
    """A Secret as rendering makes it and the record keeps it (stripped, keyed digest)."""
    label = "shiplane.io/retained-secret" if retained else "shiplane.io/secret"
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-0123456789", "labels": {label: name}},
        "data": {"value": base64.b64encode(value).decode()},
    }
    return strip_secret(with_digest(obj, KEY))


STATES = {"api-token": State(Version(3, 3.0), Version(2, 2.0))}
VALUES = {"api-token.3": b"three", "api-token.2": b"two"}


def digest(data: dict) -> str:
    return data_digest(KEY, data)


def test_the_version_a_release_runs_is_found_by_its_recorded_digest():
    assert versions_run([rendered("api-token", b"two")], STATES, VALUES, digest) == {"api-token": 2}
    assert versions_run([rendered("api-token", b"three")], STATES, VALUES, digest) == {"api-token": 3}


def test_a_value_no_longer_stored_or_an_unkeyed_record_tells_nothing():
    assert versions_run([rendered("api-token", b"one")], STATES, VALUES, digest) == {"api-token": None}
    old = rendered("api-token", b"two")
    old["metadata"]["annotations"] = {"shiplane.io/data-digest": "0123456789abcdef"}  # a plain, older digest
    assert versions_run([old], STATES, VALUES, digest) == {"api-token": None}
    # under another key the same value does not match either
    assert versions_run([rendered("api-token", b"two")], STATES, VALUES, lambda d: data_digest(b"x" * 32, d)) == {
        "api-token": None
    }


def test_retained_secrets_and_secrets_not_generated_are_ignored():
    objects = [rendered("api-token", b"three", retained=True), rendered("from-env", b"two")]
    assert versions_run(objects, STATES, VALUES, digest) == {}
