"""Benchmark: image inventory and scan on a real directory packed as an image, and advisory import.

    .venv/bin/python bench/images_bench.py [--dir /usr/local/go] [--advisories ../shared/advisories]

Packs DIR into a one-layer gzip OCI image in a temp dir (the packing is not timed), then times, in
this process: reading the image (digests verified) + inventory; matching the inventory against a
database made by importing ADVISORIES (import timed too). Prints peak RSS of the process.
Not yet here (issue 11 acceptance): the same against Syft, and an mmdebstrap Debian rootfs.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from shiplane import events
from shiplane.images import inventory, matching, open_image
from shiplane.images.database import Database


def pack(directory: Path, out: Path) -> Path:
    """A one-layer OCI layout of `directory` (mounted at its own path inside the image)."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    raw = out / "layer.tar"
    with tarfile.open(raw, "w") as tf:
        tf.add(directory, arcname=str(directory).lstrip("/"))
    diff_id = hashlib.sha256(raw.read_bytes()).hexdigest()
    blob = gzip.compress(raw.read_bytes(), compresslevel=1)
    raw.unlink()
    digest = hashlib.sha256(blob).hexdigest()
    (blobs / digest).write_bytes(blob)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]}}
    ).encode()
    (blobs / hashlib.sha256(config).hexdigest()).write_bytes(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{hashlib.sha256(config).hexdigest()}",
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{digest}",
                    "size": len(blob),
                }
            ],
        }
    ).encode()
    (blobs / hashlib.sha256(manifest).hexdigest()).write_bytes(manifest)
    (out / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (out / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": f"sha256:{hashlib.sha256(manifest).hexdigest()}",
                        "size": len(manifest),
                    }
                ],
            }
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=Path("/usr/local/go"))
    parser.add_argument(
        "--advisories", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "advisories"
    )
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)  # the measuring child process
    args = parser.parse_args()
    if args.image is None:
        with tempfile.TemporaryDirectory() as tmp:
            image = pack(args.dir, Path(tmp) / "image")
            # Measure in a fresh process, so packing does not count towards the peak memory.
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--dir",
                    str(args.dir),
                    "--advisories",
                    str(args.advisories),
                    "--image",
                    str(image),
                ],
                check=True,
            )
        return
    with tempfile.TemporaryDirectory() as tmp:
        image = args.image
        size = sum(p.stat().st_size for p in image.rglob("*") if p.is_file())
        started = time.perf_counter()
        img = open_image(image, wanted=inventory.WANTED)
        read_s = time.perf_counter() - started
        inv = inventory.take(img.fs)
        inv_s = time.perf_counter() - started
        print(
            f"image: {args.dir} -> {size / 1e6:.0f} MB compressed, {len(img.fs.entries)} entries, "
            f"{img.fs.layers[0].size / 1e6:.0f} MB of files"
        )
        print(
            f"read + verify: {read_s:.2f}s; + inventory: {inv_s:.2f}s ({len(inv.packages)} packages); "
            f"peak RSS so far {_rss()} MB"
        )
        if args.advisories.is_dir():
            db = Database(Path(tmp) / "adv.db")
            started = time.perf_counter()
            count = events.result(db.import_paths([args.advisories]))
            print(f"import {count} advisories: {time.perf_counter() - started:.2f}s; peak RSS so far {_rss()} MB")
            started = time.perf_counter()
            found = matching.match(inv.packages, db.lookup([matching.lookup_key(p) for p in inv.packages]))
            print(f"match: {time.perf_counter() - started:.2f}s ({len(found.findings)} findings)")
    print(f"peak RSS: {_rss()} MB")


def _rss() -> int:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited over fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
