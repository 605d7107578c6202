"""Manifests as the registry sent them: raw bytes (their digest is what pins an image) plus a parsed view."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from shiplane.errors import RegistryError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((*INDEX_TYPES, *IMAGE_TYPES))


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_of(descriptor: dict) -> str:
    """An index entry's platform as `os/arch[/variant]` (empty when it has none, e.g. an attestation)."""
    p = descriptor.get("platform") or {}
    if not isinstance(p, dict) or not p.get("os"):
        return ""
    parts = [str(p.get("os")), str(p.get("architecture") or "")]
    if p.get("variant"):
        parts.append(str(p["variant"]))
    return "/".join(parts)


@dataclass(frozen=True)
class Manifest:
    """A manifest or index: `raw` bytes as stored, `digest` of those bytes, `media_type`, parsed `json`."""

    media_type: str
    digest: str
    raw: bytes = field(repr=False)
    reference: str = ""  # what was asked for, for messages

    @classmethod
    def of(cls, raw: bytes, media_type: str | None = None, *, reference: str = "") -> Manifest:
        manifest = cls(media_type or "", sha256(raw), raw, reference)
        if not manifest.media_type:  # the header is optional; the body's own mediaType decides then
            object.__setattr__(manifest, "media_type", str(manifest.json.get("mediaType") or OCI_MANIFEST))
        return manifest

    @cached_property
    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.raw)
        except ValueError as err:
            raise RegistryError(f"{self.reference or self.digest}: the manifest is not JSON ({err})") from None
        if not isinstance(data, dict):
            raise RegistryError(f"{self.reference or self.digest}: the manifest is not a JSON object")
        return data

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or (
            self.media_type not in IMAGE_TYPES and isinstance(self.json.get("manifests"), list)
        )

    @property
    def manifests(self) -> list[dict]:
        """An index's entries (descriptors with `platform`); empty for an image manifest."""
        entries = self.json.get("manifests") if self.is_index else None
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    @property
    def config(self) -> dict | None:
        config = self.json.get("config")
        return config if isinstance(config, dict) else None

    @property
    def layers(self) -> list[dict]:
        layers = self.json.get("layers")
        return [e for e in layers if isinstance(e, dict)] if isinstance(layers, list) else []

    @property
    def blobs(self) -> list[dict]:
        """Every blob an image manifest needs: config first, then the layers (an index has none)."""
        if self.is_index:
            return []
        return [d for d in (self.config, *self.layers) if d]

    @property
    def subject(self) -> dict | None:
        subject = self.json.get("subject")
        return subject if isinstance(subject, dict) else None

    @property
    def artifact_type(self) -> str:
        config = self.config or {}
        return str(self.json.get("artifactType") or config.get("mediaType") or "")

    def descriptor(self) -> dict:
        """This manifest as an entry of an index or a referrers list."""
        desc = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.raw)}
        if self.artifact_type and not self.is_index:
            desc["artifactType"] = self.artifact_type
        if annotations := self.json.get("annotations"):
            desc["annotations"] = annotations
        return desc
