"""Signing keys as cosign and openssl write them.

Private keys: PEM PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`), and cosign's encrypted files
(`ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY`: a JSON envelope, scrypt KDF and
NaCl secretbox around a PKCS#8 key; password from `$COSIGN_PASSWORD`). Public keys: PEM
SubjectPublicKeyInfo (`PUBLIC KEY`). Only ECDSA (P-256, P-384, P-521) is accepted: it is what cosign
generates and what its verifiers expect for key-based signing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shiplane.errors import InputError

ENCRYPTED_LABELS = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
PASSWORD_VARIABLE = "COSIGN_PASSWORD"
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)
# The hash cosign (sigstore's signature package) pairs with each curve.
_HASHES = {"secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}


@dataclass(frozen=True)
class PublicKey:
    key: ec.EllipticCurvePublicKey
    source: str  # where it was read from (a path), for messages

    @property
    def der(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint(self) -> str:
        """`sha256:<hex>` of the DER SubjectPublicKeyInfo (the bundle's key hint is the same digest, base64)."""
        return "sha256:" + hashlib.sha256(self.der).hexdigest()

    @property
    def hint(self) -> str:
        """The sigstore bundle's `verificationMaterial.publicKey.hint` for this key."""
        return base64.b64encode(hashlib.sha256(self.der).digest()).decode()

    def pem(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verifies(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data, ec.ECDSA(_hash(self.key.curve)()))
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class PrivateKey:
    key: ec.EllipticCurvePrivateKey
    source: str

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key(), self.source)

    def sign(self, data: bytes) -> bytes:
        """An ASN.1 DER ECDSA signature over `data` (what cosign writes, base64, in its annotations)."""
        return self.key.sign(data, ec.ECDSA(_hash(self.key.curve)()))


def _hash(curve: ec.EllipticCurve) -> type[hashes.HashAlgorithm]:
    return _HASHES[curve.name]


def _ecdsa(key: object, source: str, what: str) -> None:
    kind = type(key).__name__.lstrip("_").replace("PublicKey", "").replace("PrivateKey", "") or "unknown"
    if not isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        raise InputError(f"{source}: a {kind} {what}; cosign-compatible signing needs an ECDSA key (P-256)")
    if key.curve.name not in _HASHES:
        raise InputError(f"{source}: ECDSA curve {key.curve.name} is not supported (use P-256)")


def _blocks(data: bytes, source: str) -> list[tuple[str, bytes]]:
    found = [(m.group(1).decode(), m.group(0)) for m in _PEM.finditer(data)]
    if not found:
        raise InputError(f"{source}: not a PEM key file (no -----BEGIN ...----- block)")
    return found


def load_public(data: bytes, source: str) -> PublicKey:
    """A PEM SubjectPublicKeyInfo (`openssl ec -pubout`, `cosign generate-key-pair`'s cosign.pub)."""
    for label, block in _blocks(data, source):
        if label == "PUBLIC KEY":
            try:
                key = serialization.load_pem_public_key(block)
            except ValueError as err:
                raise InputError(f"{source}: the PUBLIC KEY block cannot be read: {err}") from None
            _ecdsa(key, source, "public key")
            return PublicKey(key, source)  # type: ignore[arg-type]
        if "PRIVATE KEY" in label:
            raise InputError(
                f"{source}: a private key where a public key is expected",
                hint="verify with the public half (cosign.pub, or `openssl ec -in KEY -pubout`)",
            )
    raise InputError(f"{source}: no PUBLIC KEY block (found {', '.join(label for label, _ in _blocks(data, source))})")


def load_private(data: bytes, source: str, *, password: str | None = None) -> PrivateKey:
    """A PEM private key; cosign's encrypted files are opened with `password` (default `$COSIGN_PASSWORD`)."""
    for label, block in _blocks(data, source):
        if label in ENCRYPTED_LABELS:
            if password is None:
                password = os.environ.get(PASSWORD_VARIABLE)
            if password is None:
                raise InputError(
                    f"{source}: the key is encrypted ({label}) and ${PASSWORD_VARIABLE} is not set",
                    hint=f"export {PASSWORD_VARIABLE} with the key's password (empty for a key made without one)",
                )
            der = decrypt(_PEM.fullmatch(block).group(2), password, source)  # type: ignore[union-attr]
            try:
                key = serialization.load_der_private_key(der, password=None)
            except ValueError as err:
                raise InputError(f"{source}: the decrypted key cannot be read: {err}") from None
            _ecdsa(key, source, "private key")
            return PrivateKey(key, source)  # type: ignore[arg-type]
        if label in ("PRIVATE KEY", "EC PRIVATE KEY"):
            try:
                key = serialization.load_pem_private_key(block, password=None)
            except (ValueError, TypeError) as err:
                raise InputError(f"{source}: the {label} block cannot be read: {err}") from None
            _ecdsa(key, source, "private key")
            return PrivateKey(key, source)  # type: ignore[arg-type]
        if label == "ENCRYPTED PRIVATE KEY":
            raise InputError(
                f"{source}: a password-protected PKCS#8 key (ENCRYPTED PRIVATE KEY) is not supported",
                hint="use cosign's encrypted key format (cosign import-key-pair) or an unencrypted PKCS#8 key",
            )
        if label == "PUBLIC KEY":
            raise InputError(f"{source}: a public key where a private key is expected (signing needs the private key)")
    raise InputError(f"{source}: no private key block (found {', '.join(label for label, _ in _blocks(data, source))})")


def decrypt(body: bytes, password: str, source: str) -> bytes:
    """cosign's encrypted key envelope (go-securesystemslib `encrypted`): scrypt → 32-byte key → secretbox."""
    import nacl.exceptions
    import nacl.secret

    try:
        envelope = json.loads(base64.b64decode(b"".join(body.split()), validate=True))
        kdf, cipher = envelope["kdf"], envelope["cipher"]
        if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox":
            raise InputError(
                f"{source}: encrypted with {kdf.get('name')}/{cipher.get('name')}; "
                "shiplane reads cosign's scrypt + nacl/secretbox keys"
            )
        params = kdf["params"]
        n, r, p = int(params["N"]), int(params["r"]), int(params["p"])
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(envelope["ciphertext"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise InputError(f"{source}: the encrypted key envelope is damaged ({type(err).__name__})") from None
    if n > 1 << 20 or r * p > 64:  # cosign writes N=32768..65536, r=8, p=1; refuse work factors that eat the machine
        raise InputError(f"{source}: scrypt parameters N={n} r={r} p={p} are beyond what cosign writes")
    try:  # scrypt itself refuses N not a power of 2 above 1, and r or p below 1
        secret = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * r * n + (1 << 20))
    except ValueError:
        raise InputError(f"{source}: scrypt parameters N={n} r={r} p={p} are not valid (a damaged file)") from None
    try:
        return nacl.secret.SecretBox(secret).decrypt(ciphertext, nonce)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise InputError(f"{source}: cannot decrypt the key: wrong ${PASSWORD_VARIABLE} (or a damaged file)") from None


def read_public(path: str) -> PublicKey:
    return load_public(_read(path), path)


def read_private(path: str, *, password: str | None = None) -> PrivateKey:
    return load_private(_read(path), path, password=password)


def _read(path: str) -> bytes:
    from shiplane.fileio import reading

    return reading.read_bytes(path, what="key file", limit=64 * 1024)
