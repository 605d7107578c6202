"""cosign's signature formats as pure functions: build what to sign, check what was signed.

Two layouts are read (and written):

- legacy: a manifest tagged `sha256-<hex>.sig` beside the image, one layer per signature, each a
  "simple signing" JSON payload (`critical.image.docker-manifest-digest` names the image) with the
  base64 ECDSA signature of the payload bytes in the layer's `dev.cosignproject.cosign/signature`
  annotation;
- sigstore bundle (`cosign sign --new-bundle-format`): an OCI artifact of type
  `application/vnd.dev.sigstore.bundle.v0.3+json` whose `subject` is the image (a referrer); the
  bundle holds a DSSE envelope around an in-toto statement whose subject digest is the image's, signed
  over DSSE's pre-authentication encoding.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from shiplane.registry.manifest import sha256
from shiplane.signing.keys import PrivateKey, PublicKey

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIMPLESIGNING_TYPE = "cosign container image signature"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_MEDIA_TYPES = (BUNDLE, "application/vnd.dev.sigstore.bundle+json;version=0.3")
IN_TOTO = "application/vnd.in-toto+json"
STATEMENT = "https://in-toto.io/Statement/v1"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"


def signature_tag(digest: str) -> str:
    """The legacy layout's tag for an image digest: `sha256:abc…` → `sha256-abc….sig`."""
    return digest.replace(":", "-") + ".sig"


def referrers_tag(digest: str) -> str:
    """The OCI referrers tag schema's fallback tag (registries without the referrers API)."""
    return digest.replace(":", "-")


@dataclass(frozen=True)
class Check:
    """One signature checked against the trusted keys: `key` is set when one verified it."""

    layout: str  # "legacy" or "bundle"
    key: PublicKey | None
    problem: str = ""  # why it does not count, when key is None

    @property
    def ok(self) -> bool:
        return self.key is not None


# --- legacy (simple signing) ---------------------------------------------------------------------


def simplesigning_payload(repository: str, digest: str) -> bytes:
    """The payload `cosign sign` writes, byte for byte (Go's encoding/json field order, no spaces)."""
    doc = {
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": SIMPLESIGNING_TYPE,
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def sign_simplesigning(key: PrivateKey, repository: str, digest: str) -> tuple[bytes, str]:
    """(payload, base64 signature) for one image digest."""
    payload = simplesigning_payload(repository, digest)
    return payload, base64.b64encode(key.sign(payload)).decode()


def check_simplesigning(payload: bytes, signature_b64: str, digest: str, keys: list[PublicKey]) -> Check:
    """Does one legacy signature layer sign `digest` with one of `keys`? The signature is checked first
    (an unsigned payload says nothing), then what it names."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return Check("legacy", None, "its signature annotation is not base64")
    key = next((k for k in keys if k.verifies(signature, payload)), None)
    if key is None:
        return Check("legacy", None, "signed by none of the trusted keys")
    try:
        doc = json.loads(payload)
        named = doc["critical"]["image"]["docker-manifest-digest"]
        kind = doc["critical"]["type"]
    except (ValueError, KeyError, TypeError):
        return Check("legacy", None, "its payload is not a cosign simple-signing document")
    if kind != SIMPLESIGNING_TYPE:
        return Check("legacy", None, f"its payload type is {kind!r}, not {SIMPLESIGNING_TYPE!r}")
    if named != digest:
        return Check("legacy", None, f"it signs {named}, not this image ({digest}): the image changed after signing")
    return Check("legacy", key)


def signature_config(layer_digests: list[str]) -> bytes:
    """The config blob cosign gives a signature manifest (an image config whose rootfs lists the payloads)."""
    doc = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": layer_digests},
        "config": {},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def signature_manifest(layers: list[dict]) -> tuple[bytes, bytes]:
    """(manifest, config) of a legacy signature manifest holding `layers` (descriptors with annotations)."""
    config = signature_config([la["digest"] for la in layers])
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha256(config)},
        "layers": layers,
    }
    return json.dumps(manifest, separators=(",", ":")).encode(), config


def legacy_layer(payload: bytes, signature_b64: str) -> dict:
    return {
        "mediaType": SIMPLESIGNING,
        "size": len(payload),
        "digest": sha256(payload),
        "annotations": {SIGNATURE_ANNOTATION: signature_b64},
    }


# --- sigstore bundle (DSSE) ----------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the envelope's signatures sign."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def statement(digest: str) -> bytes:
    """The in-toto statement cosign signs for an image (`--new-bundle-format`), as it writes it."""
    algorithm, _, hexdigest = digest.partition(":")
    doc = {"_type": STATEMENT, "subject": [{"digest": {algorithm: hexdigest}}], "predicateType": COSIGN_SIGN_PREDICATE}
    return json.dumps(doc, separators=(", ", ":")).encode()


def make_bundle(key: PrivateKey, digest: str) -> bytes:
    """A sigstore bundle v0.3 (key-based: the key's hint, no certificate, no transparency log entry)."""
    payload = statement(digest)
    doc = {
        "mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": key.public.hint}},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": base64.b64encode(key.sign(pae(IN_TOTO, payload))).decode()}],
        },
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def check_bundle(raw: bytes, digest: str, keys: list[PublicKey]) -> Check:
    """Does one bundle sign `digest` with one of `keys`?"""
    try:
        doc = json.loads(raw)
        envelope = doc["dsseEnvelope"]
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except (ValueError, KeyError, TypeError, binascii.Error):
        if isinstance(doc := _loads(raw), dict) and "messageSignature" in doc:
            return Check("bundle", None, "a message-signature bundle (shiplane reads DSSE bundles, as cosign writes)")
        return Check("bundle", None, "not a sigstore bundle with a DSSE envelope")
    signed = pae(payload_type, payload)
    key = next((k for k in keys for s in signatures if k.verifies(s, signed)), None)
    if key is None:
        return Check("bundle", None, "signed by none of the trusted keys")
    if payload_type != IN_TOTO:
        return Check("bundle", None, f"its payload type is {payload_type!r}, not {IN_TOTO!r}")
    try:
        subjects = json.loads(payload)["subject"]
        algorithm, _, hexdigest = digest.partition(":")
        named = [s["digest"].get(algorithm) for s in subjects]
    except (ValueError, KeyError, TypeError, AttributeError):
        return Check("bundle", None, "its payload is not an in-toto statement")
    if hexdigest not in named:
        return Check("bundle", None, f"its statement names {', '.join(map(str, named))}, not this image ({digest})")
    return Check("bundle", key)


def _loads(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def bundle_manifest(bundle: bytes, subject: dict, created: str) -> bytes:
    """The referrer manifest cosign writes around a bundle (subject: the image's descriptor)."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_EMPTY,
            "size": len(EMPTY_JSON),
            "digest": sha256(EMPTY_JSON),
            "artifactType": BUNDLE,
        },
        "layers": [{"mediaType": BUNDLE, "size": len(bundle), "digest": sha256(bundle)}],
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": COSIGN_SIGN_PREDICATE,
            "org.opencontainers.image.created": created,
        },
        "subject": subject,
        "artifactType": BUNDLE,
    }
    return json.dumps(manifest, separators=(",", ":")).encode()
