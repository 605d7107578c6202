"""Tiny real OCI images for registry tests: gzip'd tar layers, a config, a manifest, an index.

Everything is deterministic (tar and gzip timestamps fixed), so the same inputs give the same
digests; `seed` makes images that differ. Pushed with shiplane's own client (`push`, `push_index`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

from shiplane.registry import OCI_INDEX, OCI_MANIFEST, Client, Reference

CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as out:
        out.write(data)
    return buf.getvalue()


@dataclass(frozen=True)
class Image:
    config: bytes
    layers: tuple[bytes, ...]
    manifest: bytes
    platform: str

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def blobs(self) -> dict[str, bytes]:
        return {sha256(b): b for b in (self.config, *self.layers)}


def image(layers: list[dict[str, bytes]] | None = None, *, platform: str = "linux/amd64", seed: str = "") -> Image:
    """An image of the given layers (each a {path: content}); by default one layer naming `seed`."""
    layers = layers if layers is not None else [{"etc/hello": f"hello {seed}\n".encode()}]
    tars = [layer_tar(files) for files in layers]
    blobs = tuple(gz(t) for t in tars)
    os_, arch, *variant = platform.split("/")
    config = {
        "architecture": arch,
        "os": os_,
        "config": {"Cmd": ["/bin/true"], "Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": [sha256(t) for t in tars]},
    }
    if variant:
        config["variant"] = variant[0]
    config_raw = json.dumps(config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CONFIG_TYPE, "digest": sha256(config_raw), "size": len(config_raw)},
        "layers": [{"mediaType": LAYER_TYPE, "digest": sha256(b), "size": len(b)} for b in blobs],
    }
    return Image(config_raw, blobs, json.dumps(manifest, sort_keys=True).encode(), platform)


def index_of(images: list[Image]) -> bytes:
    entries = []
    for img in images:
        os_, arch, *variant = img.platform.split("/")
        platform = {"os": os_, "architecture": arch, **({"variant": variant[0]} if variant else {})}
        entries.append(
            {"mediaType": OCI_MANIFEST, "digest": img.digest, "size": len(img.manifest), "platform": platform}
        )
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, sort_keys=True).encode()


def push(client: Client, ref: Reference | str, img: Image) -> str:
    ref = Reference.parse(str(ref))
    for digest, data in img.blobs.items():
        if not client.has_blob(ref, digest):
            client.put_blob(ref, data, digest)
    return client.put_manifest(ref, img.manifest, OCI_MANIFEST)


def push_index(client: Client, ref: Reference | str, images: list[Image]) -> str:
    """Push each image by digest, then the index under `ref`'s tag; returns the index digest."""
    ref = Reference.parse(str(ref))
    for img in images:
        push(client, Reference(ref.registry, ref.repository, None, img.digest), img)
    return client.put_manifest(ref, index_of(images), OCI_INDEX)
