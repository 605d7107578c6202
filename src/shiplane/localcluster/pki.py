"""PKI and credentials for the local control plane, made with `cryptography`.

One CA signs the apiserver's serving certificate (127.0.0.1/localhost); one RSA key
serves all three service-account flags (as kwokctl does); the admin authenticates
with a random static bearer token (`--token-auth-file`, documented for development).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


FRONT_PROXY_CLIENT = "front-proxy-client"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str, now: dt.datetime):
    """A self-signed CA: (key, certificate)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca_cert


def make_pki(pki: Path, *, cluster: str) -> None:
    """Write ca.crt/ca.key, apiserver.crt/key, sa.key/sa.pub and the aggregation layer's
    front-proxy-ca.crt, front-proxy-client.crt/key into `pki`."""
    pki.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate small clock skew

    ca_key, ca_cert = _ca(f"shiplane-local-ca-{cluster}", now)

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kube-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes"),
                    x509.DNSName("kubernetes.default"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    # The aggregation layer: the API server proxies metrics.k8s.io to metrics-server with this client
    # certificate, from a CA of its own (the request-header CA must not sign ordinary clients).
    proxy_ca_key, proxy_ca = _ca(f"shiplane-front-proxy-ca-{cluster}", now)
    proxy_key = ec.generate_private_key(ec.SECP256R1())
    proxy_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(FRONT_PROXY_CLIENT))
        .issuer_name(proxy_ca.subject)
        .public_key(proxy_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(proxy_ca_key, hashes.SHA256())
    )
    (pki / "front-proxy-ca.crt").write_bytes(proxy_ca.public_bytes(serialization.Encoding.PEM))
    (pki / "front-proxy-client.crt").write_bytes(proxy_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki / "front-proxy-client.key", _key_pem(proxy_key))

    # Service-account tokens: RSA, since every consumer of SA keys accepts it.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    (pki / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki / "ca.key", _key_pem(ca_key))
    (pki / "apiserver.crt").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki / "apiserver.key", _key_pem(server_key))
    _write_private(pki / "sa.key", _key_pem(sa_key))
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def make_client_cert(pki: Path, name: str, *, common_name: str) -> None:
    """`<name>.crt`/`.key`: a client certificate signed by the cluster's CA (client auth only).

    The API server presents it to a real kubelet, which accepts only certificates of this CA.
    """
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (pki / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki / f"{name}.key", _key_pem(key))


def make_token_file(path: Path) -> str:
    """A fresh admin bearer token, in the apiserver's static token file format."""
    token = secrets.token_urlsafe(32)
    _write_private(path, f'{token},shiplane-admin,shiplane-admin,"system:masters"\n'.encode())
    return token


def kubeconfig(*, cluster: str, server: str, ca: Path, token: str) -> dict:
    """A kubeconfig for the admin user; the context is named `shiplane-<cluster>`."""
    name = f"shiplane-{cluster}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: Path, config: dict) -> None:
    _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
