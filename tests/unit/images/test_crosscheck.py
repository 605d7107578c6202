"""Cross-checks with independent tools, where installed (skopeo, umoci): they read what the tests'
writer produces, shiplane reads what they write, and umoci's unpack is the oracle for layer
semantics (whiteouts, opaque directories, links)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from shiplane.images import open_image
from tests.unit.images.imagebuilder import (
    Dir,
    File,
    Hardlink,
    Opaque,
    Symlink,
    Whiteout,
    build_layer,
    write_docker_archive,
    write_oci,
)

LOWER = build_layer(
    [
        Dir("etc"),
        File("etc/os-release", b"ID=debian\n"),
        Dir("opt"),
        File("opt/a", b"a"),
        File("opt/b", b"b"),
        Dir("var"),
        Dir("var/cache"),
        Dir("var/cache/apt"),
        File("var/cache/apt/pkgcache.bin", b"x" * 100),
        Dir("usr"),
        Dir("usr/bin"),
        File("usr/bin/tool", b"#!/bin/sh\n", 0o755),
        Symlink("bin", "usr/bin"),
    ]
)
UPPER = build_layer(
    [
        Whiteout("opt/a"),
        Opaque("var/cache"),
        Dir("var/cache"),
        File("var/cache/new", b"n"),
        File("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
        Hardlink("etc/os-release2", "etc/os-release"),
    ]
)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (cross-check only where it is)")
    return path


def _run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr}"
    return done.stdout


def test_skopeo_reads_our_oci_layout_and_docker_archive(tmp_path: Path) -> None:
    _need("skopeo")
    oci = write_oci(tmp_path / "oci", [LOWER, UPPER], ref_name="app:1")
    manifest = json.loads(_run("skopeo", "inspect", "--raw", f"oci:{oci}:app:1"))
    ours = open_image(oci)
    assert [d["digest"] for d in manifest["layers"]] == [la.digest for la in ours.fs.layers]
    archive = write_docker_archive(tmp_path / "d.tar", [LOWER, UPPER], tag="example.test/app:1")
    info = json.loads(_run("skopeo", "inspect", f"docker-archive:{archive}"))
    assert len(info["Layers"]) == 2 and info["Os"] == "linux"


def test_shiplane_reads_what_skopeo_writes(tmp_path: Path) -> None:
    _need("skopeo")
    source = write_docker_archive(tmp_path / "src.tar", [LOWER, UPPER], tag="example.test/app:1")
    _run("skopeo", "copy", "-q", f"docker-archive:{source}", f"oci:{tmp_path / 'oci'}:app:1")
    _run("skopeo", "copy", "-q", f"docker-archive:{source}", f"oci-archive:{tmp_path / 'oci.tar'}:app:1")
    _run("skopeo", "copy", "-q", f"oci:{tmp_path / 'oci'}:app:1", f"docker-archive:{tmp_path / 'again.tar'}:app:1")
    _run(
        "skopeo",
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd",
        f"docker-archive:{source}",
        f"oci:{tmp_path / 'zstd'}:app:1",
    )
    zstd_manifest = json.loads(_run("skopeo", "inspect", "--raw", f"oci:{tmp_path / 'zstd'}:app:1"))
    assert all(d["mediaType"].endswith("+zstd") for d in zstd_manifest["layers"])
    expected = _tree(open_image(source).fs)
    for written in ("oci", "oci.tar", "again.tar", "zstd"):
        image = open_image(tmp_path / written)
        assert _tree(image.fs) == expected, written
        assert image.fs.read("etc/os-release2") == b"ID=debian\nVERSION_ID=12\n"


def test_layer_semantics_agree_with_umoci_unpack(tmp_path: Path) -> None:
    _need("umoci")
    if os.geteuid() != 0:
        pytest.skip("umoci unpack needs root here")
    oci = write_oci(tmp_path / "oci", [LOWER, UPPER], ref_name="app")
    _run("umoci", "raw", "unpack", "--image", f"{oci}:app", str(tmp_path / "rootfs"))
    ours = _tree(open_image(oci).fs)
    theirs = _tree(open_image(tmp_path / "rootfs").fs)
    assert ours == theirs
    assert "opt/a" not in ours and "var/cache/apt/pkgcache.bin" not in ours and "var/cache/new" in ours


def _tree(fs) -> dict[str, tuple]:
    """What a user sees: kind, content (files), target (links) and permission bits."""
    out = {}
    files = [e for e in fs.entries.values() if e.kind == "file"]
    contents = {e.path: data for e, data in fs.read_many(files)}
    for path, e in fs.entries.items():
        detail = contents.get(path) if e.kind == "file" else e.link
        out[path] = (e.kind, detail, stat.S_IMODE(e.mode) if e.kind != "symlink" else None)
    return out
