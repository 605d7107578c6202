"""Making a new value for a generated secret, per kind.

Values are bytes handed straight to the vault; no message here ever contains one (a failing
command's stderr is shown only after redaction, with any fragment of its stdout cut out).
"""

from __future__ import annotations

import datetime as dt
import secrets as random
import string
import subprocess
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from shiplane import redaction
from shiplane.errors import EnvironmentProblem, InputError
from shiplane.secrets.timing import seconds
from shiplane.spec import StageSpec
from shiplane.spec.app import Generate

PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.~!#%+="
TOKEN_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Made:
    value: bytes
    expires: float | None = None  # certificates


def password(length: int, alphabet: str) -> bytes:
    return "".join(random.choice(alphabet) for _ in range(length)).encode()


def _private_key(gen: Generate):
    if gen.algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=gen.bits)
    if gen.algorithm == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def _pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def keypair(gen: Generate) -> bytes:
    """The private key (PKCS#8 PEM) followed by its public key (SubjectPublicKeyInfo PEM)."""
    key = _private_key(gen)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _pem(key) + public


def dns_names(stage: StageSpec, namespace: str, extra: list[str]) -> list[str]:
    """The names a service certificate answers to: every service in its cluster DNS forms, every
    `public` host, then the spec's own `hosts`."""
    names: list[str] = []
    for svc_name, svc in stage.doc.services.items():
        names += [
            svc_name,
            f"{svc_name}.{namespace}",
            f"{svc_name}.{namespace}.svc",
            f"{svc_name}.{namespace}.svc.cluster.local",
        ]
        if svc.public:
            names.append(svc.public.host)
    return list(dict.fromkeys([*names, *extra]))


def load_ca(name: str, value: bytes):
    """(private key, certificate) from a CA secret's PEM value (key and certificate, any order)."""
    try:
        key = serialization.load_pem_private_key(value, password=None)
        cert = x509.load_pem_x509_certificates(value)[0]
    except (ValueError, TypeError, IndexError):
        raise InputError(
            f"secret {name!r} is named as a CA (generate.ca) but its value is not a PEM private key and "
            "certificate (make it with `generate: {kind: tls, isCa: true}`)"
        ) from None
    return key, cert


def certificate(
    name: str, gen: Generate, stage: StageSpec, namespace: str, now: float, ca: tuple | None = None
) -> Made:
    """A private key and its certificate (PEM, key first; a CA-signed one adds the CA's certificate),
    valid from now for `duration`; self-signed unless a CA is given."""
    key = _private_key(gen)
    start = dt.datetime.fromtimestamp(now, dt.UTC) - dt.timedelta(minutes=1)
    end = dt.datetime.fromtimestamp(now + seconds(gen.duration), dt.UTC)
    names = [] if gen.is_ca else dns_names(stage, namespace, gen.hosts)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, (names[0] if names else f"{stage.doc.app.name} {name}")[:64])]
    )
    issuer_key, issuer = (key, subject) if ca is None else (ca[0], ca[1].subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=gen.is_ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(issuer_key, algorithm)
    chain = cert.public_bytes(serialization.Encoding.PEM)
    if ca is not None:
        chain += ca[1].public_bytes(serialization.Encoding.PEM)
    return Made(_pem(key) + chain, end.timestamp())


def from_command(name: str, gen: Generate, stage: StageSpec) -> bytes:
    """A program's stdout (trailing newlines dropped), run without a shell in the spec's directory."""
    where = f"secrets.{name}.generate.command"
    try:
        out = subprocess.run(
            gen.command,
            cwd=stage.base_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=gen.timeout,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(f"{where}: program {gen.command[0]!r} not found") from None
    except PermissionError:
        raise InputError(f"{where}: program {gen.command[0]!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"{where}: {gen.command[0]} did not finish within {gen.timeout:g}s") from None
    value = out.stdout.rstrip(b"\r\n")
    if out.returncode != 0 or not value:
        what = f"exited {out.returncode}" if out.returncode != 0 else "printed nothing on stdout"
        raise EnvironmentProblem(f"{where}: {gen.command[0]} {what}" + _stderr_tail(out.stderr, out.stdout))
    return value


def _stderr_tail(stderr: bytes, stdout: bytes) -> str:
    """The last lines of stderr with every line of stdout (the value, or part of it) and every
    credential-looking string redacted."""
    text = stderr.decode(errors="replace").strip()
    if not text:
        return ""
    printed = [ln.strip() for ln in stdout.decode(errors="replace").splitlines() if ln.strip()]
    tail = "\n  ".join(redaction.scrub(text, printed).splitlines()[-5:])
    return f"; its stderr ends (redacted):\n  {tail}"


def make(name: str, gen: Generate, stage: StageSpec, namespace: str, now: float, ca: tuple | None = None) -> Made:
    if gen.kind == "password":
        return Made(password(gen.length, gen.alphabet or PASSWORD_ALPHABET))
    if gen.kind == "token":
        return Made(password(gen.length, gen.alphabet or TOKEN_ALPHABET))
    if gen.kind == "keypair":
        return Made(keypair(gen))
    if gen.kind == "tls":
        return certificate(name, gen, stage, namespace, now, ca)
    return Made(from_command(name, gen, stage))
