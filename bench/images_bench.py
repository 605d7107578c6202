"""Benchmark: image inventory (shiplane vs Syft, same image, same run), advisory import and matching.

    .venv/bin/python bench/images_bench.py                    # the mmdebstrap Debian rootfs (built once)
    .venv/bin/python bench/images_bench.py --dir /usr/local/go  # any directory, mounted at its own path

The image: a Debian bookworm rootfs made by `mmdebstrap --variant=minbase` with python3, git, curl
(cached in ~/.cache/shiplane/bench/debian-rootfs; needs root and mmdebstrap), with planted language
packages (an old urllib3 wheel in site-packages, npm packages, a Go program built with an old
golang.org/x/text), packed into a one-layer gzip OCI layout in a temp dir (not timed). Then, each in a
fresh process: shiplane reading the image (digests verified) + inventory, the advisory import and
matching (in-process timings and peak RSS); and side by side `shiplane images inventory -o json` and
`syft scan oci-dir:… -o json` as whole commands (wall time and peak RSS from wait4), with the ratio.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from shiplane import events  # noqa: E402
from shiplane.images import inventory, matching, open_image  # noqa: E402
from shiplane.images.database import Database  # noqa: E402

ROOTFS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shiplane" / "bench" / "debian-rootfs"
MMDEBSTRAP = [
    "mmdebstrap",
    "--variant=minbase",
    "--include=python3,python3-urllib3,python3-requests,ca-certificates,curl,git,openssl",
    "bookworm",
]


def rootfs() -> Path:
    """The Debian rootfs, built once with mmdebstrap (root needed) into the cache."""
    if ROOTFS.is_dir():
        return ROOTFS
    if not shutil.which("mmdebstrap"):
        sys.exit("mmdebstrap is not installed (apt-get install mmdebstrap), or pass --dir DIR")
    tmp = ROOTFS.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {ROOTFS} with {' '.join(MMDEBSTRAP)} (once)", flush=True)
    subprocess.run([*MMDEBSTRAP, str(tmp)], check=True)
    tmp.rename(ROOTFS)
    return ROOTFS


def planted() -> list[tuple[str, bytes, int]]:
    """Language packages a real app image carries: a PyPI wheel, npm packages, a Go program."""
    import zipfile

    from tests.unit.images import realdata

    out = []
    with zipfile.ZipFile(realdata.wheel("urllib3==1.24.1")) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                out.append((f"usr/local/lib/python3.11/site-packages/{info.filename}", zf.read(info), 0o644))
    for name, version in (("express", "4.17.1"), ("lodash", "4.17.20"), ("@types/node", "20.1.0")):
        doc = json.dumps({"name": name, "version": version}).encode()
        out.append((f"srv/app/node_modules/{name}/package.json", doc, 0o644))
    out.append(("usr/local/bin/textdemo", realdata.go_binary("v0.3.5").read_bytes(), 0o755))
    return out


def pack(directory: Path, out: Path, *, at_root: bool, extra: list[tuple[str, bytes, int]] = ()) -> Path:
    """A one-layer OCI layout of `directory` (at the image root, or at its own path) plus `extra` files."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    raw = out / "layer.tar"
    with tarfile.open(raw, "w") as tf:
        tf.add(directory, arcname="." if at_root else str(directory).lstrip("/"))
        for path, data, mode in extra:
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tf.addfile(info, io.BytesIO(data))
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


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, int, bytes]:
    """(wall s, CPU s, peak RSS MB, stdout) of one command. CPU time is the child's own (wait4); the
    peak is its VmHWM, sampled while it runs (ru_maxrss would inherit this process's high-water mark)."""
    started = time.perf_counter()
    peak = 0
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        status_file = Path(f"/proc/{proc.pid}/status")
        while True:
            try:
                for line in status_file.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        took = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"{cmd[0]} failed with exit {proc.returncode}")
        out.seek(0)
        return took, usage.ru_utime + usage.ru_stime, round(peak / 1024), out.read()


def _key(purl: str) -> str:
    """A purl compared as both tools mean it: decoded (Syft encodes an epoch's ':'), without `distro`
    (Syft takes the point release from /etc/debian_version: debian-12.15; shiplane os-release's 12)."""
    from packageurl import PackageURL

    p = PackageURL.from_string(purl)
    qualifiers = {k: v for k, v in (p.qualifiers or {}).items() if k != "distro"}
    return PackageURL(p.type, p.namespace, p.name, p.version, qualifiers, p.subpath).to_string()


def side_by_side(image: Path, syft: Path | None, runs: int) -> None:
    shiplane = [sys.executable, "-m", "shiplane", "images", "inventory", str(image), "-o", "json"]
    ours_run = min((timed(shiplane) for _ in range(runs)), key=lambda r: r[0])
    ours = {_key(p["purl"]) for p in json.loads(ours_run[3])["packages"]}
    print(
        f"shiplane images inventory: {ours_run[0]:.2f}s wall, {ours_run[1]:.2f}s CPU, "
        f"peak RSS {ours_run[2]} MB, {len(ours)} distinct purls"
    )
    if syft is None:
        print("syft: not built (shiplane cluster build --tool syft); no comparison")
        return
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    cmd = [str(syft), "scan", f"oci-dir:{image}", "-o", "json", "-q"]
    theirs_run = min((timed(cmd, env) for _ in range(runs)), key=lambda r: r[0])
    theirs = {_key(a["purl"]) for a in json.loads(theirs_run[3])["artifacts"] if a.get("purl")}
    print(
        f"syft scan oci-dir (1.57.1): {theirs_run[0]:.2f}s wall, {theirs_run[1]:.2f}s CPU, "
        f"peak RSS {theirs_run[2]} MB, {len(theirs)} distinct purls"
    )
    print(
        f"ratio (Syft / shiplane, best of {runs}): wall {theirs_run[0] / ours_run[0]:.1f}x, "
        f"CPU {theirs_run[1] / ours_run[1]:.1f}x, peak memory {theirs_run[2] / max(ours_run[2], 1):.1f}x"
    )
    print(f"purls only Syft found: {len(theirs - ours)}; only shiplane: {len(ours - theirs)}")
    for purl in sorted(theirs - ours)[:20]:
        print(f"  syft only: {purl}")
    for purl in sorted(ours - theirs)[:20]:
        print(f"  shiplane only: {purl}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="pack this directory (at its own path) instead of the rootfs")
    parser.add_argument(
        "--advisories", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "advisories"
    )
    parser.add_argument("--runs", type=int, default=1, help="side-by-side runs of each tool (best is shown)")
    parser.add_argument("--no-syft", action="store_true", help="skip the side-by-side comparison with Syft")
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)  # the measuring child process
    args = parser.parse_args()
    if args.image is None:
        source = args.dir or rootfs()
        with tempfile.TemporaryDirectory() as tmp:
            extra = [] if args.dir else planted()
            image = pack(source, Path(tmp) / "image", at_root=args.dir is None, extra=extra)
            # Measure in a fresh process, so packing does not count towards the peak memory.
            child = [sys.executable, __file__, "--advisories", str(args.advisories), "--image", str(image)]
            subprocess.run([*child, "--dir", str(source)], check=True)
            if not args.no_syft:
                from shiplane.localcluster import tools

                side_by_side(image, tools.locate("syft"), args.runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        image = args.image
        size = sum(p.stat().st_size for p in image.rglob("*") if p.is_file())
        started = time.perf_counter()
        img = open_image(image, wanted=inventory.WANTED, inspect=inventory.INSPECT)
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
