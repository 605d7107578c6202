"""Generated values per kind, rotation arithmetic and the spec's new fields (pure; no cluster)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from shiplane import spec
from shiplane.errors import EnvironmentProblem, InputError
from shiplane.secrets import generating, timing
from shiplane.secrets.timing import State, Version
from shiplane.spec.app import Generate, SecretSource

SPEC = """
app: {name: shop}
defaults: {resources: {limits: {cpu: 100m, memory: 64Mi}}}
secrets:
  api-token: {generate: {kind: password, length: 40}, rotation: {every: 30d}}
  ca: {generate: {kind: tls, isCa: true, duration: 365d}}
  web-tls: {generate: {kind: tls, ca: ca, duration: 30d, renewBefore: 10d, hosts: [extra.example.org]}}
services:
  web:
    image: nginx:1.27
    ports: {http: 8080}
    public: {host: shop.example.com}
    env: {TOKEN: {secret: api-token}}
  db: {image: postgres:16}
stages: {dev: {namespace: shop-dev}}
"""


def stage_of(tmp_path: Path, text: str = SPEC):
    path = tmp_path / "shiplane.yaml"
    path.write_text(text)
    return spec.load([path]).stage("dev")


def test_durations() -> None:
    assert timing.seconds("30d") == 30 * 86400
    assert timing.seconds("1d12h") == 36 * 3600
    assert timing.seconds("90m") == 5400
    assert timing.seconds("45s") == 45


def test_passwords_have_the_length_and_alphabet_asked_for() -> None:
    values = {generating.make("p", Generate(kind="password", length=40), None, "ns", 0).value for _ in range(20)}
    assert len(values) == 20 and all(len(v) == 40 for v in values)
    token = generating.make("t", Generate(kind="token", length=16, alphabet="ab"), None, "ns", 0).value
    assert len(token) == 16 and set(token.decode()) <= {"a", "b"}


@pytest.mark.parametrize("algorithm", ["rsa", "ec", "ed25519"])
def test_keypairs_load_as_a_private_and_a_public_key(algorithm: str) -> None:
    value = generating.make("k", Generate(kind="keypair", algorithm=algorithm, bits=2048), None, "ns", 0).value
    key = serialization.load_pem_private_key(value, password=None)
    public = serialization.load_pem_public_key(value[value.index(b"-----BEGIN PUBLIC KEY") :])
    assert key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_a_certificate_names_the_services_and_public_hosts_and_is_signed_by_its_ca(tmp_path: Path) -> None:
    stage = stage_of(tmp_path)
    now = 1_800_000_000.0
    ca = generating.make("ca", stage.doc.secrets["ca"].generate, stage, "shop-dev", now)
    leaf = generating.make(
        "web-tls", stage.doc.secrets["web-tls"].generate, stage, "shop-dev", now, generating.load_ca("ca", ca.value)
    )
    cert, ca_cert = x509.load_pem_x509_certificates(leaf.value)
    names = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(
        x509.DNSName
    )
    assert {"web", "web.shop-dev.svc", "db.shop-dev.svc.cluster.local", "shop.example.com", "extra.example.org"} <= set(
        names
    )
    assert leaf.expires == pytest.approx(now + 30 * 86400)
    assert cert.issuer == ca_cert.subject
    cert.verify_directly_issued_by(ca_cert)  # raises if the CA did not sign it
    serialization.load_pem_private_key(leaf.value, password=None)


def test_a_ca_that_is_not_a_generated_ca_is_refused(tmp_path: Path) -> None:
    text = SPEC.replace("ca: {generate: {kind: tls, isCa: true, duration: 365d}}", "ca: {fromEnv: CA}")
    with pytest.raises(InputError, match="is not a generated CA"):
        stage_of(tmp_path, text)


def test_from_command_takes_stdout_and_never_repeats_it_on_failure(tmp_path: Path) -> None:
    stage = stage_of(tmp_path)
    ok = Generate(kind="from-command", command=[sys.executable, "-c", "print('s3cr3t-from-vault')"])
    assert generating.make("v", ok, stage, "ns", 0).value == b"s3cr3t-from-vault"
    leaky = Generate(
        kind="from-command",
        command=[
            sys.executable,
            "-c",
            "import sys; print('half-a-s3cr3t-value'); print('error near half-a-s3cr3t-value', file=sys.stderr); "
            "sys.exit(3)",
        ],
    )
    with pytest.raises(EnvironmentProblem) as err:
        generating.make("v", leaky, stage, "ns", 0)
    assert "exited 3" in err.value.message and "half-a-s3cr3t-value" not in str(err.value)
    with pytest.raises(InputError, match="not found"):
        generating.make("v", Generate(kind="from-command", command=["/nonexistent/vault"]), stage, "ns", 0)
    slow = Generate(kind="from-command", command=[sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5)
    with pytest.raises(EnvironmentProblem, match=r"did not finish within 0\.5s"):
        generating.make("v", slow, stage, "ns", 0)


def test_status_rows_say_when_a_rotation_or_renewal_is_due() -> None:
    source = SecretSource.model_validate({"generate": {"kind": "password"}, "rotation": {"every": "30d"}})
    day = 86400
    fresh = timing.row("t", source, State(Version(3, 0.0)), now=10 * day)
    assert (fresh.version, fresh.next_due, fresh.overdue, fresh.due) == (3, 30 * day, False, False)
    assert timing.row("t", source, State(Version(3, 0.0)), now=31 * day).overdue
    # With a window: due (rotate --due takes it) but not yet late (status exits 0) until the window ends.
    windowed = SecretSource.model_validate(
        {"generate": {"kind": "password"}, "rotation": {"every": "30d", "window": "7d"}}
    )
    inside_window = timing.row("t", windowed, State(Version(3, 0.0)), now=31 * day)
    assert (inside_window.due, inside_window.overdue, inside_window.alarm) == (True, False, False)
    late = timing.row("t", windowed, State(Version(3, 0.0)), now=38 * day)
    assert (late.due, late.overdue, late.alarm) == (True, True, True)
    assert not timing.row("t", windowed, State(Version(3, 0.0)), now=29 * day).due
    cert = SecretSource.model_validate({"generate": {"kind": "tls", "duration": "30d", "renewBefore": "10d"}})
    inside = timing.row("c", cert, State(Version(1, 0.0, expires=30 * day)), now=21 * day)
    assert inside.renew and not inside.overdue and inside.next_due == 20 * day
    assert not timing.row("c", cert, State(Version(1, 0.0, expires=30 * day)), now=19 * day).due
    assert timing.row("e", SecretSource.model_validate({"fromEnv": "X"}), None, 0).source == "fromEnv"
    assert timing.row("n", source, None, 0).note.startswith("not generated yet")


def test_rotation_needs_a_generated_secret() -> None:
    with pytest.raises(ValueError, match=r"rotation\.every needs `generate`"):
        SecretSource.model_validate({"fromEnv": "X", "rotation": {"every": "1d"}})
    with pytest.raises(ValueError, match="exactly one of"):
        SecretSource.model_validate({"fromEnv": "X", "generate": {"kind": "token"}})
