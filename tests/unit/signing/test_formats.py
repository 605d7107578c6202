"""Keys and signature formats, pure: cosign's own files and signatures (tests/data/signing, made by cosign
v2.6.5) are read and verified; what shiplane writes verifies; tampering and wrong keys are refused."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from shiplane.errors import InputError
from shiplane.signing import formats, keys

DATA = Path(__file__).parents[2] / "data" / "signing"
LEGACY_DIGEST = "sha256:6f7ef84d64e5f4ebff2e9f5cf43c62c0aa673993a67532e39287c3ab02359753"
LEGACY_SIG = "MEUCIQCFXE8c62qrw8eKp9qPzwI1dTFtvKR2uXPsxqjnTr3lAQIgROiXF9UtswMDcziPX7sIcnkbuHdA8fnUgHxTNLIEzKg="
BUNDLE_DIGEST = "sha256:0624f62b17296698fbe4d1d895067a30e5367cd4b320261660351b66603f7d17"


def _cosign_pub() -> keys.PublicKey:
    return keys.read_public(str(DATA / "cosign.pub"))


def _fresh() -> keys.PrivateKey:
    return keys.PrivateKey(ec.generate_private_key(ec.SECP256R1()), "fresh")


def test_cosign_encrypted_key_is_opened_with_its_password():
    private = keys.read_private(str(DATA / "cosign.key"), password="pw")
    assert private.public.fingerprint == _cosign_pub().fingerprint


def test_cosign_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    assert keys.read_private(str(DATA / "cosign.key")).public.der == _cosign_pub().der


def test_wrong_or_missing_password_is_an_input_error_without_the_password(monkeypatch):
    with pytest.raises(InputError, match="wrong \\$COSIGN_PASSWORD") as err:
        keys.read_private(str(DATA / "cosign.key"), password="not-the-password-123")
    assert "not-the-password-123" not in str(err.value)
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    with pytest.raises(InputError, match="COSIGN_PASSWORD is not set"):
        keys.read_private(str(DATA / "cosign.key"))


def test_bundle_hint_is_the_key_digest_cosign_writes():
    bundle = json.loads((DATA / "bundle.json").read_bytes())
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == _cosign_pub().hint


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_openssl_keys_are_read(tmp_path):
    """PKCS#8 private and SPKI public keys as `openssl` writes them."""
    key_path, pub_path = tmp_path / "k.pem", tmp_path / "k.pub"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key_path)],
        check=True,
        capture_output=True,
    )
    subprocess.run(["openssl", "pkey", "-in", str(key_path), "-pubout", "-out", str(pub_path)], check=True)
    assert key_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    private, public = keys.read_private(str(key_path)), keys.read_public(str(pub_path))
    assert private.public.fingerprint == public.fingerprint
    payload, sig = formats.sign_simplesigning(private, "r.example/app", LEGACY_DIGEST)
    assert formats.check_simplesigning(payload, sig, LEGACY_DIGEST, [public]).ok


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"hello", "not a PEM key file"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "no PUBLIC KEY block"),
        (b"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", "cannot be read"),
    ],
)
def test_bad_public_keys_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad.pub"
    path.write_bytes(text)
    with pytest.raises(InputError, match=message) as err:
        keys.read_public(str(path))
    assert str(path) in str(err.value)


def test_private_key_given_as_public_key_is_explained():
    with pytest.raises(InputError, match="a private key where a public key is expected"):
        keys.read_public(str(DATA / "cosign.key"))


def test_non_ecdsa_keys_are_refused(tmp_path):
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(InputError, match="needs an ECDSA key"):
        keys.load_public(pem, "ed.pub")


def test_damaged_encrypted_envelope_is_an_input_error():
    body = base64.b64encode(b'{"kdf": {"name": "scrypt"}}')
    label = b"ENCRYPTED SIGSTORE PRIVATE KEY"
    pem = b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, body, label)
    with pytest.raises(InputError, match="damaged"):
        keys.load_private(pem, "x.key", password="")


def test_scrypt_work_factor_is_capped():
    env = {
        "kdf": {"name": "scrypt", "params": {"N": 1 << 30, "r": 8, "p": 1}, "salt": ""},
        "cipher": {"name": "nacl/secretbox", "nonce": ""},
        "ciphertext": "",
    }
    body = base64.b64encode(json.dumps(env).encode())
    pem = b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n" + body + b"\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n"
    with pytest.raises(InputError, match="beyond what cosign writes"):
        keys.load_private(pem, "x.key", password="")


@pytest.mark.parametrize("params", [{"N": 3, "r": 8, "p": 1}, {"N": 32768, "r": 0, "p": 1}])
def test_scrypt_parameters_scrypt_refuses_are_an_input_error(params):
    env = {
        "kdf": {"name": "scrypt", "params": params, "salt": ""},
        "cipher": {"name": "nacl/secretbox", "nonce": ""},
        "ciphertext": "",
    }
    body = base64.b64encode(json.dumps(env).encode())
    pem = b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n" + body + b"\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n"
    with pytest.raises(InputError, match="scrypt parameters"):
        keys.load_private(pem, "x.key", password="")


# --- legacy -----------------------------------------------------------------------------------------


def test_cosign_legacy_signature_verifies():
    check = formats.check_simplesigning(
        (DATA / "legacy-payload.json").read_bytes(), LEGACY_SIG, LEGACY_DIGEST, [_cosign_pub()]
    )
    assert check.ok and check.key.fingerprint == _cosign_pub().fingerprint


def test_payload_is_byte_identical_to_cosigns():
    assert (
        formats.simplesigning_payload("127.0.0.1:39367/app/web", LEGACY_DIGEST)
        == (DATA / "legacy-payload.json").read_bytes()
    )


def test_legacy_signature_for_another_digest_is_refused():
    """A valid signature copied to an image whose manifest changed: the payload names the old digest."""
    other = "sha256:" + "1" * 64
    check = formats.check_simplesigning((DATA / "legacy-payload.json").read_bytes(), LEGACY_SIG, other, [_cosign_pub()])
    assert not check.ok and "image changed after signing" in check.problem


def test_legacy_wrong_key_and_edited_payload_are_refused():
    payload = (DATA / "legacy-payload.json").read_bytes()
    wrong = formats.check_simplesigning(payload, LEGACY_SIG, LEGACY_DIGEST, [_fresh().public])
    assert not wrong.ok and "none of the trusted keys" in wrong.problem
    edited = payload.replace(b"app/web", b"app/wex")
    assert not formats.check_simplesigning(edited, LEGACY_SIG, LEGACY_DIGEST, [_cosign_pub()]).ok
    assert "not base64" in formats.check_simplesigning(payload, "%%%", LEGACY_DIGEST, [_cosign_pub()]).problem


def test_shiplane_legacy_signature_round_trips_and_picks_the_right_key():
    signer, other = _fresh(), _fresh()
    payload, sig = formats.sign_simplesigning(signer, "r.example/app", LEGACY_DIGEST)
    check = formats.check_simplesigning(payload, sig, LEGACY_DIGEST, [other.public, signer.public])
    assert check.ok and check.key.fingerprint == signer.public.fingerprint


def test_signature_manifest_lists_payloads_in_config():
    layer = formats.legacy_layer(b"{}", "c2ln")
    raw, config = formats.signature_manifest([layer])
    manifest = json.loads(raw)
    assert manifest["config"]["digest"] == formats.sha256(config)
    assert json.loads(config)["rootfs"]["diff_ids"] == [formats.sha256(b"{}")]
    assert manifest["layers"][0]["annotations"][formats.SIGNATURE_ANNOTATION] == "c2ln"


# --- bundle -----------------------------------------------------------------------------------------


def test_cosign_bundle_verifies():
    check = formats.check_bundle((DATA / "bundle.json").read_bytes(), BUNDLE_DIGEST, [_cosign_pub()])
    assert check.ok and check.layout == "bundle"


def test_cosign_bundle_for_another_image_or_key_is_refused():
    raw = (DATA / "bundle.json").read_bytes()
    other = formats.check_bundle(raw, LEGACY_DIGEST, [_cosign_pub()])
    assert not other.ok and "not this image" in other.problem
    assert "none of the trusted keys" in formats.check_bundle(raw, BUNDLE_DIGEST, [_fresh().public]).problem
    doc = json.loads(raw)
    doc["dsseEnvelope"]["payloadType"] = "text/plain"  # the type is signed too (PAE)
    assert not formats.check_bundle(json.dumps(doc).encode(), BUNDLE_DIGEST, [_cosign_pub()]).ok
    assert "not a sigstore bundle" in formats.check_bundle(b"[]", BUNDLE_DIGEST, [_cosign_pub()]).problem


def test_statement_is_byte_identical_to_cosigns():
    doc = json.loads((DATA / "bundle.json").read_bytes())
    assert formats.statement(BUNDLE_DIGEST) == base64.b64decode(doc["dsseEnvelope"]["payload"])


def test_shiplane_bundle_round_trips():
    signer = _fresh()
    raw = formats.make_bundle(signer, BUNDLE_DIGEST)
    assert formats.check_bundle(raw, BUNDLE_DIGEST, [signer.public]).ok
    manifest = json.loads(formats.bundle_manifest(raw, {"digest": BUNDLE_DIGEST}, "2026-01-01T00:00:00Z"))
    assert manifest["artifactType"] == formats.BUNDLE and manifest["subject"]["digest"] == BUNDLE_DIGEST


PEM_LABELS = ["PUBLIC KEY", "PRIVATE KEY", "EC PRIVATE KEY", *keys.ENCRYPTED_LABELS, "CERTIFICATE"]


@settings(max_examples=int(os.environ.get("SHIPLANE_FUZZ_EXAMPLES", "150")), deadline=None)
@given(label=st.sampled_from(PEM_LABELS), body=st.binary(max_size=400), raw=st.booleans())
def test_any_key_file_is_read_or_refused_as_input(label, body, raw):
    """Random key files (bare bytes, or a PEM block of any label around random base64) never crash."""
    data = (
        body
        if raw
        else b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label.encode(), base64.b64encode(body), label.encode())
    )
    for load in (keys.load_public, lambda d, s: keys.load_private(d, s, password="x")):
        with contextlib.suppress(InputError):
            load(data, "fuzz.key")


@settings(max_examples=int(os.environ.get("SHIPLANE_FUZZ_EXAMPLES", "150")), deadline=None)
@given(
    raw=st.binary(max_size=600)
    | st.builds(
        lambda d: json.dumps(d).encode(),
        st.dictionaries(
            st.sampled_from(["dsseEnvelope", "payload", "payloadType", "signatures", "critical"]),
            st.recursive(
                st.none() | st.text(max_size=20) | st.integers(),
                lambda c: st.lists(c) | st.dictionaries(st.text(max_size=10), c),
                max_leaves=8,
            ),
        ),
    )
)
def test_any_bundle_or_payload_is_a_check_never_a_crash(raw):
    pub = _cosign_pub()
    assert not formats.check_bundle(raw, BUNDLE_DIGEST, [pub]).ok
    assert not formats.check_simplesigning(raw, LEGACY_SIG, LEGACY_DIGEST, [pub]).ok
