"""Images for the real node without a registry download: built here, imported into containerd.

The base image is a Debian root filesystem made by `mmdebstrap` from Debian's own packages (apt's
mirror is the only network it needs); the pause image is that rootfs's static busybox sleeping.
Each becomes an OCI archive (uncompressed layers, so a layer's digest is its diff_id) that
`ctr images import` loads; pods then run them with `imagePullPolicy: Never`.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import time
from collections.abc import Generator
from pathlib import Path

from shiplane.errors import BuildFailed, EnvironmentProblem
from shiplane.events import Event, Step
from shiplane.localcluster.binaries import cache_root

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
LAYER = "application/vnd.oci.image.layer.v1.tar"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _digest_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def files_layer(files: dict[str, bytes], *, mode: int = 0o755) -> bytes:
    """A deterministic uncompressed tar layer of {path: content}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mtime, info.mode = len(data), 0, mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def debian_rootfs(packages: list[str]) -> Generator[Event, None, Path]:
    """A tarball of a minimal Debian (`essential` + `packages`), cached by its package list."""
    key = hashlib.sha256(" ".join([SUITE, *sorted(packages)]).encode()).hexdigest()[:12]
    out = cache_root() / "realnode" / "rootfs" / f"{SUITE}-{key}.tar"
    if out.exists():
        return out
    if not shutil.which("mmdebstrap"):
        raise EnvironmentProblem("mmdebstrap is not installed (apt-get install mmdebstrap)")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.tar")
    title = f"build a Debian {SUITE} root filesystem with {', '.join(packages)}"
    yield Step(title)
    started = time.monotonic()
    proc = subprocess.run(
        [
            "mmdebstrap",
            "--quiet",
            "--variant=essential",
            "--include=" + ",".join(packages),
            "--skip=output/dev",  # runc gives every container its own /dev
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            SUITE,
            str(partial),
            MIRROR,
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BuildFailed(f"mmdebstrap failed (exit {proc.returncode}):\n{proc.stderr.strip()[-2000:]}")
    partial.rename(out)
    yield Step(title, done=True, seconds=time.monotonic() - started)
    return out


def busybox_from(rootfs: Path) -> bytes:
    with tarfile.open(rootfs) as tar:
        for name in ("./usr/bin/busybox", "./bin/busybox"):
            try:
                member = tar.getmember(name)
            except KeyError:
                continue
            extracted = tar.extractfile(member)
            if extracted is not None:
                return extracted.read()
    raise BuildFailed(f"{rootfs} has no busybox (include busybox-static)")


def oci_archive(
    out: Path, name: str, layers: list[Path | bytes], *, entrypoint: list[str], env=None, user: str = ""
) -> Path:
    """Write an OCI image-layout tar holding one image named `name` (for `ctr images import`)."""
    descriptors, diff_ids = [], []
    blobs: list[tuple[str, Path | bytes]] = []
    for layer in layers:
        digest = _digest_file(layer) if isinstance(layer, Path) else _digest(layer)
        size = layer.stat().st_size if isinstance(layer, Path) else len(layer)
        descriptors.append({"mediaType": LAYER, "digest": digest, "size": size})
        diff_ids.append(digest)
        blobs.append((digest, layer))
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "Env": [PATH_ENV, *(env or [])], "WorkingDir": "/", "User": user},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": descriptors,
        },
        sort_keys=True,
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name},
                }
            ],
        }
    ).encode()
    blobs += [(_digest(config), config), (_digest(manifest), manifest)]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        small = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
        for digest, blob in blobs:
            path = "blobs/sha256/" + digest.split(":", 1)[1]
            if isinstance(blob, Path):
                tar.add(blob, arcname=path)
            else:
                small[path] = blob
        for path, data in small.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    partial.rename(out)
    return out


def import_image(ctr: Path, containerd_socket: Path, archive: Path) -> None:
    """Load an OCI archive into containerd's Kubernetes namespace (and unpack it for overlayfs)."""
    proc = subprocess.run(
        [str(ctr), "--address", str(containerd_socket), "--namespace", "k8s.io", "images", "import", str(archive)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BuildFailed(f"ctr images import {archive.name} failed: {proc.stderr.strip()[-1000:]}")
