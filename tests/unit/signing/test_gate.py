"""The deploy path's signature gate as logic (the registry is a small in-memory stand-in here; the real
registry and cluster are in tests/integration/test_signing_deploy.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shiplane.actions import signatures
from shiplane.errors import ImageNotFound, InputError, PolicyRefused, RegistryUnreachable
from shiplane.registry import Manifest
from shiplane.signing import formats, keys

DIGEST = "sha256:" + "ab" * 32


class Registry:
    """resolve/manifest/blob/referrers over dicts: what `remote.verify` reads."""

    def __init__(self, down: bool = False) -> None:
        self.tags: dict[str, bytes] = {}
        self.blobs: dict[str, bytes] = {}
        self.down = down

    def resolve(self, ref):
        if self.down:
            raise RegistryUnreachable(f"{ref.registry}: connection refused")
        return DIGEST

    def manifest(self, ref, platform=None):
        raw = self.tags.get(ref.tag or "")
        if raw is None:
            raise ImageNotFound(f"{ref}: no such manifest")
        return Manifest.of(raw)

    def blob(self, ref, digest):
        return self.blobs[digest]

    def referrers(self, ref, artifact_type=None):
        return []

    def sign(self, key: keys.PrivateKey, repository: str) -> None:
        payload, sig = formats.sign_simplesigning(key, repository, DIGEST)
        self.blobs[formats.sha256(payload)] = payload
        raw, _ = formats.signature_manifest([formats.legacy_layer(payload, sig)])
        self.tags[formats.signature_tag(DIGEST)] = raw


def _objects(image: str) -> list[dict]:
    pod = {"spec": {"containers": [{"name": "web", "image": image}]}}
    return [{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": pod}}]


def _key(tmp_path) -> tuple[keys.PrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "k.pub"
    path.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return keys.PrivateKey(private, "k"), str(path)


def _gate(registry: Registry, pub: str, required: bool = True) -> signatures.SignatureGate:
    return signatures.SignatureGate(keys=(pub,), required=required, client=lambda: registry)


def test_no_settings_no_check():
    assert signatures.check(_objects("r.example/web:1"), None) == []
    assert signatures.check(_objects("r.example/web:1"), signatures.SignatureGate()) == []


def test_required_without_keys_is_an_input_error():
    with pytest.raises(InputError, match="no keys are listed"):
        signatures.check(_objects("r.example/web:1"), signatures.SignatureGate(required=True))


def test_signed_image_is_recorded_and_pinned(tmp_path):
    key, pub = _key(tmp_path)
    registry = Registry()
    registry.sign(key, "r.example/web")
    [record] = signatures.check(_objects("r.example/web:1"), _gate(registry, pub))
    assert record["verified"] and record["fingerprint"] == key.public.fingerprint and record["digest"] == DIGEST
    assert record["workloads"] == ["Deployment/web container web"]
    pinned = signatures.pin(_objects("r.example/web:1"), [record])
    assert pinned[0]["spec"]["template"]["spec"]["containers"][0]["image"] == f"r.example/web:1@{DIGEST}"


def test_unsigned_is_refused_when_required_and_recorded_when_not(tmp_path):
    _, pub = _key(tmp_path)
    with pytest.raises(PolicyRefused) as err:
        signatures.check(_objects("r.example/web:1"), _gate(Registry(), pub))
    assert "Deployment/web container web: image r.example/web:1" in err.value.message
    assert err.value.exit_code == 5
    [record] = signatures.check(_objects("r.example/web:1"), _gate(Registry(), pub, required=False))
    assert not record["verified"] and "no signature" in record["reason"]
    assert signatures.pin(_objects("r.example/web:1"), [record])[0] == _objects("r.example/web:1")[0]


def test_unreachable_registry_is_not_unsigned(tmp_path):
    _, pub = _key(tmp_path)
    with pytest.raises(RegistryUnreachable, match=r"cannot verify the signature of r\.example/web:1") as err:
        signatures.check(_objects("r.example/web:1"), _gate(Registry(down=True), pub))
    assert err.value.exit_code == 3
    gate = replace(_gate(Registry(down=True), pub), required=False)
    [record] = signatures.check(_objects("r.example/web:1"), gate)
    assert not record["verified"] and "connection refused" in record["reason"]


def test_oversized_payload_is_not_read(tmp_path):
    _, pub = _key(tmp_path)
    registry = Registry()
    layer = formats.legacy_layer(b"{}", "c2ln") | {"size": 1 << 40}
    registry.tags[formats.signature_tag(DIGEST)] = formats.signature_manifest([layer])[0]
    [record] = signatures.check(_objects("r.example/web:1"), _gate(registry, pub, required=False))
    assert not record["verified"] and "not read" in record["reason"]
