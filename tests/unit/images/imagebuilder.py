"""A small writer of real container images for tests: layer tars, gzip/zstd, OCI layouts and
`docker save` archives with correct digests and diff_ids (no Docker daemon needed).

    layer = build_layer([File("etc/os-release", b"ID=debian\\n"), Symlink("bin", "usr/bin")])
    write_oci(tmp_path / "img", [layer])                  # OCI image layout directory
    write_oci(tmp_path / "img.tar", [layer])              # ... as a tar (oci-archive)
    write_docker_archive(tmp_path / "d.tar", [layer])     # docker save (legacy manifest.json)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


@dataclass(frozen=True)
class File:
    path: str
    data: bytes = b""
    mode: int = 0o644


@dataclass(frozen=True)
class Dir:
    path: str
    mode: int = 0o755


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str


@dataclass(frozen=True)
class Hardlink:
    path: str
    target: str


@dataclass(frozen=True)
class Whiteout:
    path: str  # deletes this path of lower layers


@dataclass(frozen=True)
class Opaque:
    dir: str  # hides every lower-layer entry under this directory


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_layer(items, *, truncate_to: int | None = None) -> bytes:
    """An uncompressed layer tar; names are written exactly as given (hostile ones included)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for item in items:
            info = tarfile.TarInfo()
            data = None
            match item:
                case File(path, content, mode):
                    info.name, info.size, info.mode, data = path, len(content), mode, content
                case Dir(path, mode):
                    info.name, info.type, info.mode = path, tarfile.DIRTYPE, mode
                case Symlink(path, target):
                    info.name, info.type, info.linkname, info.mode = path, tarfile.SYMTYPE, target, 0o777
                case Hardlink(path, target):
                    info.name, info.type, info.linkname = path, tarfile.LNKTYPE, target
                case Whiteout(path):
                    parent, _, base = path.rpartition("/")
                    info.name = f"{parent}/.wh.{base}" if parent else f".wh.{base}"
                case Opaque(d):
                    info.name = f"{d}/.wh..wh..opq" if d else ".wh..wh..opq"
                case tarfile.TarInfo():
                    info = item
                case _:
                    raise TypeError(item)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    return raw[:truncate_to] if truncate_to is not None else raw


def compress(raw: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(raw, mtime=0)
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(raw)
    return raw


def config_for(diff_ids: list[str], **extra) -> dict:
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], **extra},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"layer {i}"} for i in range(len(diff_ids))],
    }


def _write(target: Path, files: dict[str, bytes]) -> Path:
    """Files into a directory, or into an uncompressed tar when `target` ends in .tar."""
    if target.suffix == ".tar":
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(target, "w") as tf:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    else:
        for name, data in files.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(data)
    return target


def write_oci(
    target: Path,
    layers: list[bytes],
    *,
    compression: str = "gzip",
    diff_ids: list[str] | None = None,
    ref_name: str = "example.test/app:1",
    platforms: list[str] | None = None,
) -> Path:
    """An OCI image layout (directory, or a tar when target ends in .tar); `diff_ids` may lie on purpose.

    With `platforms`, the same layers are written once per platform under one index."""
    return _write(target, oci_files(layers, compression, diff_ids, ref_name, platforms))


def oci_files(
    layers: list[bytes],
    compression: str = "gzip",
    diff_ids: list[str] | None = None,
    ref_name: str = "example.test/app:1",
    platforms: list[str] | None = None,
) -> dict[str, bytes]:
    files: dict[str, bytes] = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode()}
    blobs = [compress(raw, compression) for raw in layers]
    layer_desc = []
    for blob in blobs:
        files[f"blobs/sha256/{sha256(blob)[7:]}"] = blob
        layer_desc.append({"mediaType": LAYER_TYPES[compression], "digest": sha256(blob), "size": len(blob)})
    config = json.dumps(config_for(diff_ids or [sha256(raw) for raw in layers])).encode()
    files[f"blobs/sha256/{sha256(config)[7:]}"] = config
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": layer_desc,
        }
    ).encode()
    files[f"blobs/sha256/{sha256(manifest)[7:]}"] = manifest
    descs = []
    for plat in platforms or [None]:
        desc = {
            "mediaType": OCI_MANIFEST,
            "digest": sha256(manifest),
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": ref_name},
        }
        if plat:
            os_, arch = plat.split("/")
            desc["platform"] = {"os": os_, "architecture": arch}
        descs.append(desc)
    files["index.json"] = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}).encode()
    return files


def write_docker_archive(
    target: Path,
    layers: list[bytes],
    *,
    style: str = "legacy",
    tag: str = "example.test/app:1",
    diff_ids: list[str] | None = None,
) -> Path:
    """What `docker save` writes: legacy (<id>/layer.tar, <config-hex>.json) or Docker >= 25 (OCI blobs
    plus manifest.json, index.json and oci-layout)."""
    if style == "oci":
        files = oci_files(layers, "none", diff_ids, tag)
        index = json.loads(files["index.json"])
        manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
        files["manifest.json"] = json.dumps(
            [
                {
                    "Config": "blobs/sha256/" + manifest["config"]["digest"][7:],
                    "RepoTags": [tag],
                    "Layers": ["blobs/sha256/" + d["digest"][7:] for d in manifest["layers"]],
                }
            ]
        ).encode()
        return _write(target, files)
    files = {}
    paths = []
    parent = ""
    for i, raw in enumerate(layers):
        layer_id = hashlib.sha256(f"{parent}{i}".encode() + raw).hexdigest()
        files[f"{layer_id}/layer.tar"] = raw
        files[f"{layer_id}/VERSION"] = b"1.0"
        files[f"{layer_id}/json"] = json.dumps({"id": layer_id, "parent": parent or None}).encode()
        paths.append(f"{layer_id}/layer.tar")
        parent = layer_id
    config = json.dumps(config_for(diff_ids or [sha256(raw) for raw in layers])).encode()
    files[f"{sha256(config)[7:]}.json"] = config
    files["manifest.json"] = json.dumps(
        [{"Config": f"{sha256(config)[7:]}.json", "RepoTags": [tag], "Layers": paths}]
    ).encode()
    files["repositories"] = json.dumps({tag.rsplit(":", 1)[0]: {tag.rsplit(":", 1)[1]: parent}}).encode()
    return _write(target, files)


def push_oci(host: str, name: str, layers: list[bytes], **kwargs) -> str:
    """The image `oci_files` would write, pushed to a registry with shiplane's client; `host/name` back."""
    from shiplane.registry import OCI_MANIFEST, Client, Reference

    files = oci_files(layers, **kwargs)
    index = json.loads(files["index.json"])
    manifest_raw = files["blobs/sha256/" + index["manifests"][0]["digest"][7:]]
    manifest = json.loads(manifest_raw)
    ref = Reference.parse(f"{host}/{name}")
    with Client(insecure={host}) as client:
        for desc in [manifest["config"], *manifest["layers"]]:
            client.put_blob(ref, files["blobs/sha256/" + desc["digest"][7:]], desc["digest"])
        client.put_manifest(ref, manifest_raw, OCI_MANIFEST)
    return f"{host}/{name}"
