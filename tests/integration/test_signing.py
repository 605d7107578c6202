"""Image signatures against a real registry (crane serve), cross-checked with cosign v2.6.5 itself:
what cosign signs shiplane verifies (legacy tag and sigstore bundle referrer), what shiplane signs
`cosign verify` accepts, cosign's encrypted key files sign; unsigned, tampered and wrong-key images
are refused through the CLI with exit 5, an unreachable registry is exit 3."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shiplane.cli import main
from shiplane.localcluster.processes import free_ports
from shiplane.registry import Client, Reference
from shiplane.signing import keys, remote
from tests.conftest import go_tool
from tests.ociimages import image, push

pytestmark = pytest.mark.integration
PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def cosign() -> Path:
    return go_tool("cosign")


@pytest.fixture(scope="module")
def cosign_keys(cosign: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A key pair made by `cosign generate-key-pair` (encrypted private key)."""
    where = tmp_path_factory.mktemp("cosign-keys")
    subprocess.run(
        [str(cosign), "generate-key-pair"],
        cwd=where,
        env={**os.environ, "COSIGN_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
    )
    return where / "cosign.key", where / "cosign.pub"


def _openssl_pair(where: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = where / "k.pem", where / "k.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def _pushed(registry: str, seed: str) -> tuple[str, str]:
    """(tagged reference, digest) of a fresh image."""
    ref = f"{registry}/sig/{uuid.uuid4().hex[:8]}:1.0"
    with Client(insecure={registry}) as client:
        digest = push(client, Reference.parse(ref), image(seed=seed))
    return ref, digest


def _cosign(cosign: Path, *args: str, experimental: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "COSIGN_PASSWORD": PASSWORD, "COSIGN_YES": "true"}
    if experimental:
        env["COSIGN_EXPERIMENTAL"] = "1"
    return subprocess.run([str(cosign), *args], env=env, capture_output=True, text=True, timeout=120)


def _verify_cli(capsys, ref: str, pub: Path, registry: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["images", "verify", "--key", str(pub), "--insecure-registry", registry, "-o", "json", ref])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_what_cosign_signs_shiplane_verifies(local_registry, cosign, cosign_keys, capsys):
    key, pub = cosign_keys
    ref, digest = _pushed(local_registry, "cosign-legacy")
    done = _cosign(
        cosign,
        "sign",
        "--key",
        str(key),
        "--tlog-upload=false",
        "--allow-insecure-registry",
        f"{ref.rsplit(':', 1)[0]}@{digest}",
    )
    assert done.returncode == 0, done.stderr
    code, doc = _verify_cli(capsys, ref, pub, local_registry)
    assert code == 0, doc
    found = doc["images"][0]
    assert found["digest"] == digest and found["layout"] == "legacy"
    assert found["fingerprint"] == keys.read_public(str(pub)).fingerprint


def test_cosign_bundle_referrer_is_verified(local_registry, cosign, cosign_keys, capsys):
    key, pub = cosign_keys
    ref, digest = _pushed(local_registry, "cosign-bundle")
    done = _cosign(
        cosign,
        "sign",
        "--key",
        str(key),
        "--tlog-upload=false",
        "--allow-insecure-registry",
        "--new-bundle-format",
        "--registry-referrers-mode=oci-1-1",
        f"{ref.rsplit(':', 1)[0]}@{digest}",
        experimental=True,
    )
    assert done.returncode == 0, done.stderr
    with Client(insecure={local_registry}) as client:  # only a referrer: no legacy .sig tag to fall back on
        sig_tag = f"{ref.rsplit(':', 1)[0]}:{digest.replace(':', '-')}.sig"
        assert not client.has_manifest(Reference.parse(sig_tag))
    code, doc = _verify_cli(capsys, ref, pub, local_registry)
    assert code == 0, doc
    assert doc["images"][0]["layout"] == "bundle"


def test_what_shiplane_signs_cosign_verifies(local_registry, cosign, cosign_keys, tmp_path, capsys, monkeypatch):
    """Both an openssl PKCS#8 key and cosign's own encrypted key file (password from $COSIGN_PASSWORD)."""
    private, public = _openssl_pair(tmp_path)
    cosign_key, cosign_pub = cosign_keys
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    for signer, verifier in ((private, public), (cosign_key, cosign_pub)):
        ref, digest = _pushed(local_registry, f"shiplane-{signer.name}")
        capsys.readouterr()
        code = main(["images", "sign", "--key", str(signer), "--insecure-registry", local_registry, "-o", "json", ref])
        assert code == 0
        assert json.loads(capsys.readouterr().out)["images"][0]["digest"] == digest
        done = _cosign(
            cosign, "verify", "--key", str(verifier), "--insecure-ignore-tlog", "--allow-insecure-registry", ref
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)[0]["critical"]["image"]["docker-manifest-digest"] == digest
    # cosign refuses it with another key: the check above is not vacuous
    done = _cosign(cosign, "verify", "--key", str(public), "--insecure-ignore-tlog", "--allow-insecure-registry", ref)
    assert done.returncode != 0


def test_signing_twice_adds_nothing_and_keeps_other_signers(local_registry, cosign_keys, tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    private, public = _openssl_pair(tmp_path)
    ref, digest = _pushed(local_registry, "twice")
    with Client(insecure={local_registry}) as client:
        first = remote.sign(client, ref, keys.read_private(str(private)))
        again = remote.sign(client, ref, keys.read_private(str(private)))
        other = remote.sign(client, ref, keys.read_private(str(cosign_keys[0])))
        assert first.written and not again.written and "already signed" in again.skipped and other.written
        sig = client.manifest(Reference.parse(f"{ref.rsplit(':', 1)[0]}:{digest.replace(':', '-')}.sig"))
        assert len(sig.layers) == 2
        for pub in (public, cosign_keys[1]):
            assert remote.verify(client, ref, [keys.read_public(str(pub))]).ok


def test_shiplane_bundle_referrer_alone_verifies(local_registry, tmp_path):
    private, public = _openssl_pair(tmp_path)
    ref, _ = _pushed(local_registry, "bundle-only")
    with Client(insecure={local_registry}) as client:
        remote.sign(client, ref, keys.read_private(str(private)), legacy=False, referrer=True)
        verdict = remote.verify(client, ref, [keys.read_public(str(public))])
    assert verdict.ok and verdict.layout == "bundle"


def test_dry_run_writes_nothing(local_registry, tmp_path, capsys):
    private, public = _openssl_pair(tmp_path)
    ref, _ = _pushed(local_registry, "dry")
    with Client(insecure={local_registry}) as client:
        before = client.tags(Reference.parse(ref))
    code = main(
        ["images", "sign", "--key", str(private), "--referrer", "--dry-run", "--insecure-registry", local_registry, ref]
    )
    assert code == 0 and "would write" in capsys.readouterr().out
    with Client(insecure={local_registry}) as client:
        assert client.tags(Reference.parse(ref)) == before
        assert client.referrers(Reference.parse(ref)) == []
    assert _verify_cli(capsys, ref, public, local_registry)[0] == 5


def test_unsigned_wrong_key_and_tampered_are_refused(local_registry, tmp_path, capsys):
    private, public = _openssl_pair(tmp_path)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    _, other_public = _openssl_pair(other_dir)
    unsigned, _ = _pushed(local_registry, "unsigned")
    code, doc = _verify_cli(capsys, unsigned, public, local_registry)
    assert code == 5 and "no signature" in doc["images"][0]["reason"]

    signed, digest = _pushed(local_registry, "signed")
    assert main(["images", "sign", "--key", str(private), "--insecure-registry", local_registry, signed]) == 0
    assert _verify_cli(capsys, signed, public, local_registry)[0] == 0
    code, doc = _verify_cli(capsys, signed, other_public, local_registry)
    assert code == 5 and "none of the trusted keys" in doc["images"][0]["reason"]

    # tampered: another manifest pushed under the signed tag after signing
    with Client(insecure={local_registry}) as client:
        new_digest = push(client, Reference.parse(signed), image(seed="tampered"))
    code, doc = _verify_cli(capsys, signed, public, local_registry)
    assert code == 5 and doc["images"][0]["digest"] == new_digest != digest
    # ... and the old signature copied over to the new digest's tag: it names the old digest
    with Client(insecure={local_registry}) as client:
        repo = signed.rsplit(":", 1)[0]
        old = client.manifest(Reference.parse(f"{repo}:{digest.replace(':', '-')}.sig"))
        for blob in old.blobs:
            client.put_blob(Reference.parse(repo), client.blob(Reference.parse(repo), blob["digest"]), blob["digest"])
        client.put_manifest(Reference.parse(f"{repo}:{new_digest.replace(':', '-')}.sig"), old.raw, old.media_type)
    code, doc = _verify_cli(capsys, signed, public, local_registry)
    assert code == 5 and "image changed after signing" in doc["images"][0]["reason"]


def test_registry_down_is_exit_3(tmp_path, capsys):
    _, public = _openssl_pair(tmp_path)
    port = free_ports(1)[0]
    code = main(
        [
            "images",
            "verify",
            "--key",
            str(public),
            "--insecure-registry",
            f"127.0.0.1:{port}",
            f"127.0.0.1:{port}/app/web:1",
        ]
    )
    assert code == 3
    assert f"127.0.0.1:{port}" in capsys.readouterr().err


def test_shiplane_bundle_is_accepted_by_cosign(local_registry, cosign, cosign_keys, tmp_path, monkeypatch):
    """`--referrer --no-legacy`: only the sigstore bundle; cosign's new-bundle verifier accepts it offline
    (an empty trusted root: key-based, no transparency log) and refuses it with another key."""
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    key, pub = cosign_keys
    _, other_pub = _openssl_pair(tmp_path)
    root = tmp_path / "trusted_root.json"
    root.write_text('{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}')
    ref, digest = _pushed(local_registry, "bundle-for-cosign")
    assert (
        main(
            [
                "images",
                "sign",
                "--key",
                str(key),
                "--referrer",
                "--no-legacy",
                "--insecure-registry",
                local_registry,
                ref,
            ]
        )
        == 0
    )
    pinned = f"{ref.rsplit(':', 1)[0]}@{digest}"
    args = [
        "verify",
        "--insecure-ignore-tlog",
        "--allow-insecure-registry",
        "--new-bundle-format",
        "--trusted-root",
        str(root),
    ]
    done = _cosign(cosign, *args, "--key", str(pub), pinned, experimental=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["critical"]["image"]["docker-manifest-digest"] == digest
    assert _cosign(cosign, *args, "--key", str(other_pub), pinned, experimental=True).returncode != 0


def test_multi_platform_index_signed_by_cosign_is_verified_at_the_index(local_registry, cosign, cosign_keys, capsys):
    """cosign signs what the tag names (the index digest); shiplane checks the same digest."""
    from tests.ociimages import push_index

    key, pub = cosign_keys
    ref = f"{local_registry}/sig/{uuid.uuid4().hex[:8]}:multi"
    images = [image(seed="amd", platform="linux/amd64"), image(seed="arm", platform="linux/arm64")]
    with Client(insecure={local_registry}) as client:
        index_digest = push_index(client, Reference.parse(ref), images)
    done = _cosign(cosign, "sign", "--key", str(key), "--tlog-upload=false", "--allow-insecure-registry", ref)
    assert done.returncode == 0, done.stderr
    code, doc = _verify_cli(capsys, ref, pub, local_registry)
    assert code == 0 and doc["images"][0]["digest"] == index_digest
    # one platform's manifest alone was not signed
    code, doc = _verify_cli(capsys, f"{ref.rsplit(':', 1)[0]}@{images[0].digest}", pub, local_registry)
    assert code == 5
