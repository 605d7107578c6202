"""Signatures in a registry: find and check them for an image, or write them (cosign's layouts).

The I/O half of `shiplane.signing`; the formats are `formats`' pure functions. Every function takes
a `shiplane.registry.Client`, so the caller decides credentials, insecure hosts and caching.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from shiplane.errors import ImageNotFound
from shiplane.registry import Client, Manifest, Reference
from shiplane.signing import formats
from shiplane.signing.keys import PrivateKey, PublicKey

MAX_SIGNATURES = 64  # signature layers or bundles read per image: a flooded .sig tag cannot stall a deploy
MAX_PAYLOAD = 1 << 20  # a payload or bundle is a few hundred bytes; a huge one is refused unread


@dataclass(frozen=True)
class Verdict:
    """What verifying one image found: `key` is the trusted key of the first valid signature, if any."""

    image: str  # as asked for
    digest: str  # the manifest digest the signatures were checked against
    key: PublicKey | None = None
    layout: str = ""  # where the valid signature was: "legacy" or "bundle"
    problems: tuple[str, ...] = ()  # why each signature found did not count (none found: one line saying so)

    @property
    def ok(self) -> bool:
        return self.key is not None

    @property
    def reason(self) -> str:
        return "; ".join(self.problems) or "no signature"

    def to_dict(self) -> dict:
        out: dict = {"image": self.image, "digest": self.digest, "verified": self.ok}
        if self.key is not None:
            out |= {"key": self.key.source, "fingerprint": self.key.fingerprint, "layout": self.layout}
        else:
            out["reason"] = self.reason
        return out


def _pinned(client: Client, ref: Reference) -> Reference:
    """The reference with its digest: a tag is resolved now, so the check is of what would be pulled."""
    return ref if ref.digest else ref.with_digest(client.resolve(ref))


def _optional(client: Client, ref: Reference) -> Manifest | None:
    try:
        return client.manifest(ref, platform=None)
    except ImageNotFound:
        return None


def legacy_checks(client: Client, ref: Reference, keys: list[PublicKey]) -> Iterable[formats.Check]:
    """Each layer of the `sha256-<hex>.sig` manifest, checked."""
    sig = _optional(client, replace(ref, tag=formats.signature_tag(ref.digest), digest=None))
    if sig is None:
        return
    for layer in sig.layers[:MAX_SIGNATURES]:
        if layer.get("mediaType") != formats.SIMPLESIGNING:
            continue
        annotation = (layer.get("annotations") or {}).get(formats.SIGNATURE_ANNOTATION)
        if not isinstance(annotation, str):
            yield formats.Check("legacy", None, "a signature layer without its signature annotation")
            continue
        if not isinstance(layer.get("size"), int) or not 0 <= layer["size"] <= MAX_PAYLOAD:
            yield formats.Check("legacy", None, f"a signature payload of size {layer.get('size')!r} (not read)")
            continue
        payload = client.blob(ref, str(layer.get("digest")))
        yield formats.check_simplesigning(payload, annotation, ref.digest, keys)


def bundle_checks(client: Client, ref: Reference, keys: list[PublicKey]) -> Iterable[formats.Check]:
    """Each sigstore bundle stored as a referrer of the image, checked. Every referrer is looked at, not
    only those listed with the bundle's artifact type: cosign's tag-schema index lists its bundles as
    `application/vnd.oci.empty.v1+json`."""
    for desc in client.referrers(ref)[:MAX_SIGNATURES]:
        if desc.get("artifactType") not in (formats.BUNDLE, formats.OCI_EMPTY, None):
            continue
        manifest = client.manifest(replace(ref, tag=None, digest=str(desc.get("digest"))), platform=None)
        if manifest.artifact_type != formats.BUNDLE:
            continue
        for layer in manifest.layers[:1]:
            if not isinstance(layer.get("size"), int) or not 0 <= layer["size"] <= MAX_PAYLOAD:
                yield formats.Check("bundle", None, f"a bundle of size {layer.get('size')!r} (not read)")
            elif layer.get("mediaType") in formats.BUNDLE_MEDIA_TYPES:
                yield formats.check_bundle(client.blob(ref, str(layer.get("digest"))), ref.digest, keys)


def verify(client: Client, image: str | Reference, keys: list[PublicKey]) -> Verdict:
    """Check `image`'s signatures, legacy first (the common case), then referrer bundles; stop at the first
    valid one. Registry failures (unreachable, denied) propagate: "cannot check" is not "unsigned"."""
    ref = _pinned(client, Reference.parse(image) if isinstance(image, str) else image)
    problems: list[str] = []
    for layout in (legacy_checks, bundle_checks):
        for check in layout(client, ref, keys):
            if check.ok:
                return Verdict(str(image), ref.digest, check.key, check.layout)
            problems.append(f"{check.layout} signature: {check.problem}")
    if not problems:
        problems.append(
            f"no signature: neither tag {formats.signature_tag(ref.digest)} nor a sigstore bundle referrer exists"
        )
    return Verdict(str(image), ref.digest, problems=tuple(dict.fromkeys(problems)))


@dataclass(frozen=True)
class Signed:
    """What `sign` wrote (or, in a dry run, would write)."""

    image: str
    digest: str
    fingerprint: str
    written: list[str] = field(default_factory=list)  # references written: the .sig tag, the bundle's digest
    skipped: str = ""  # why nothing new was needed (already signed with this key)

    def to_dict(self) -> dict:
        out = {"image": self.image, "digest": self.digest, "fingerprint": self.fingerprint, "written": self.written}
        return out | ({"skipped": self.skipped} if self.skipped else {})


def sign(
    client: Client,
    image: str | Reference,
    key: PrivateKey,
    *,
    legacy: bool = True,
    referrer: bool = False,
    dry_run: bool = False,
) -> Signed:
    """Sign a pushed image as `cosign sign --key` does: a layer added to its `.sig` manifest (layers of other
    signers kept), and with `referrer` a sigstore bundle pushed as an OCI referrer (`--new-bundle-format`).
    Signing again with the same key adds nothing. A dry run reads the registry and writes nothing."""
    ref = _pinned(client, Reference.parse(image) if isinstance(image, str) else image)
    result = Signed(str(image), ref.digest, key.public.fingerprint)
    sig_ref = replace(ref, tag=formats.signature_tag(ref.digest), digest=None)
    existing = _optional(client, sig_ref) if legacy else None
    layers = list(existing.layers) if existing is not None else []
    mine = [c for c in legacy_checks(client, ref, [key.public]) if c.ok] if existing is not None else []
    if legacy and not mine:
        payload, signature = formats.sign_simplesigning(key, ref.name, ref.digest)
        layers.append(formats.legacy_layer(payload, signature))
        raw, config = formats.signature_manifest(layers)
        result.written.append(str(sig_ref))
        if not dry_run:
            client.put_blob(ref, payload, formats.sha256(payload))
            client.put_blob(ref, config, formats.sha256(config))
            client.put_manifest(sig_ref, raw, formats.OCI_MANIFEST)
    if referrer and not any(c.ok for c in bundle_checks(client, ref, [key.public])):
        result.written.append(f"{ref.name}@{_push_bundle(client, ref, key, dry_run=dry_run)}")
    if not result.written:
        return replace(result, skipped=f"already signed with {key.public.fingerprint}")
    return result


def _push_bundle(client: Client, ref: Reference, key: PrivateKey, *, dry_run: bool) -> str:
    image = client.manifest(ref, platform=None)
    subject = {"mediaType": image.media_type, "size": len(image.raw), "digest": image.digest}
    bundle = formats.make_bundle(key, ref.digest)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    raw = formats.bundle_manifest(bundle, subject, created)
    if dry_run:
        return formats.sha256(raw)
    client.put_blob(ref, formats.EMPTY_JSON, formats.sha256(formats.EMPTY_JSON))
    client.put_blob(ref, bundle, formats.sha256(bundle))
    return client.attach(ref, raw, formats.OCI_MANIFEST)
