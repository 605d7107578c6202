"""Image readers: every input form, layer semantics (whiteouts, opaque dirs, links), verification,
and hostile layers refused with a clear error."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from shiplane.images import ImageError, Limits, open_image
from tests.unit.images.imagebuilder import (
    Dir,
    File,
    Hardlink,
    Opaque,
    Symlink,
    Whiteout,
    build_layer,
    sha256,
    write_docker_archive,
    write_oci,
)

BASE = build_layer(
    [
        Dir("etc"),
        File("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
        Dir("usr"),
        Dir("usr/bin"),
        File("usr/bin/tool", b"\x7fELF" + b"\0" * 100, 0o755),
        Symlink("bin", "usr/bin"),
        Dir("opt"),
        File("opt/a.txt", b"a"),
        File("opt/b.txt", b"b"),
        Dir("var"),
        Dir("var/cache"),
        File("var/cache/x", b"x" * 10),
    ]
)
TOP = build_layer(
    [
        Whiteout("opt/a.txt"),
        Opaque("var/cache"),
        File("var/cache/y", b"y"),
        File("etc/os-release", b"ID=alpine\n"),
        Hardlink("etc/os-release.copy", "etc/os-release"),
    ]
)


def _forms(tmp_path: Path, layers: list[bytes]) -> dict[str, Path]:
    return {
        "oci-dir-gzip": write_oci(tmp_path / "oci", layers),
        "oci-tar-zstd": write_oci(tmp_path / "oci-zstd.tar", layers, compression="zstd"),
        "oci-dir-plain": write_oci(tmp_path / "oci-plain", layers, compression="none"),
        "docker-legacy": write_docker_archive(tmp_path / "legacy.tar", layers),
        "docker-oci": write_docker_archive(tmp_path / "docker25.tar", layers, style="oci"),
    }


@pytest.mark.parametrize("form", ["oci-dir-gzip", "oci-tar-zstd", "oci-dir-plain", "docker-legacy", "docker-oci"])
def test_every_form_gives_the_same_merged_filesystem(tmp_path: Path, form: str) -> None:
    image = open_image(_forms(tmp_path, [BASE, TOP])[form])
    fs = image.fs
    assert fs.read("etc/os-release") == b"ID=alpine\n"
    assert fs.read("etc/os-release.copy") == b"ID=alpine\n"  # hardlink: content of its target
    assert fs.read("/bin/tool").startswith(b"\x7fELF")  # through the symlink bin -> usr/bin
    assert "opt/a.txt" not in fs.entries and fs.read("opt/b.txt") == b"b"  # whiteout
    assert "var/cache/x" not in fs.entries and fs.read("var/cache/y") == b"y"  # opaque dir
    assert fs.entries["usr/bin/tool"].layer == 0 and fs.entries["etc/os-release"].layer == 1
    assert fs.entries["usr/bin/tool"].executable and fs.entries["usr/bin/tool"].head.startswith(b"\x7fELF")
    assert [layer.index for layer in fs.layers] == [0, 1]
    image.close()


def test_read_many_reads_each_layer_once_and_wanted_files_are_kept_from_the_first_pass(tmp_path: Path) -> None:
    image = open_image(write_oci(tmp_path / "oci", [BASE, TOP]), wanted=lambda p, s: p.endswith("os-release"))
    fs = image.fs
    assert fs.cache["etc/os-release"] == b"ID=alpine\n"
    opened: list[int] = []
    original = fs.reopen

    def counting(index: int):
        opened.append(index)
        return original(index)

    fs.reopen = counting
    got = dict(
        (e.path, d)
        for e, d in fs.read_many([fs.entries["opt/b.txt"], fs.entries["usr/bin/tool"], fs.entries["etc/os-release"]])
    )
    assert got["opt/b.txt"] == b"b" and got["etc/os-release"] == b"ID=alpine\n"
    assert opened == [0]


def test_multi_platform_index_picks_linux_amd64_or_the_platform_asked(tmp_path: Path) -> None:
    path = write_oci(tmp_path / "multi", [BASE], platforms=["linux/arm64", "linux/amd64"])
    assert open_image(path).fs.read("opt/a.txt") == b"a"
    with pytest.raises(ImageError, match=r"no image for platform linux/s390x; found linux/arm64, linux/amd64"):
        open_image(path, platform="linux/s390x")


def test_rootfs_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text("ID=debian\n")
    (root / "lib").symlink_to("/etc")  # absolute: resolved inside the root, never on the host
    (root / "loop").symlink_to("loop")
    fs = open_image(root).fs
    assert fs.read("lib/os-release") == b"ID=debian\n"
    assert fs.resolve("lib/passwd") == "etc/passwd"  # not the host's /etc/passwd
    with pytest.raises(ImageError, match="symlink loop while resolving /loop/x"):
        fs.read("loop/x")


def test_symlinks_are_resolved_inside_the_root(tmp_path: Path) -> None:
    layer = build_layer(
        [
            Dir("etc"),
            File("etc/passwd", b"root:x:0:0\n"),
            Symlink("up", "../../../../etc"),
            Symlink("abs", "/etc/passwd"),
        ]
    )
    fs = open_image(write_oci(tmp_path / "oci", [layer])).fs
    assert fs.read("up/passwd") == b"root:x:0:0\n"
    assert fs.read("abs") == b"root:x:0:0\n"


def test_writes_through_a_symlinked_directory_land_at_its_target(tmp_path: Path) -> None:
    lower = build_layer([Dir("usr"), Dir("usr/lib"), Symlink("lib", "usr/lib")])
    upper = build_layer([File("lib/libz.so", b"z")])
    fs = open_image(write_oci(tmp_path / "oci", [lower, upper])).fs
    assert "usr/lib/libz.so" in fs.entries and fs.read("lib/libz.so") == b"z"


def test_per_file_cap_refuses_to_read_a_large_file(tmp_path: Path) -> None:
    layer = build_layer([File("big", b"x" * 5000)])
    fs = open_image(write_oci(tmp_path / "oci", [layer]), limits=Limits(max_file=1000)).fs
    assert fs.entries["big"].size == 5000  # listed
    with pytest.raises(ImageError, match=r"/big is 5000 bytes, over the per-file cap of 1000"):
        fs.read("big")


# -- hostile and broken layers ------------------------------------------------------------------
def test_path_traversal_is_refused(tmp_path: Path) -> None:
    layer = build_layer([File("../../etc/evil", b"x")])
    with pytest.raises(ImageError, match=r"layer 0: member '../../etc/evil' escapes the image root"):
        open_image(write_oci(tmp_path / "oci", [layer]))


def test_hardlink_traversal_is_refused(tmp_path: Path) -> None:
    layer = build_layer([File("a", b"x"), Hardlink("b", "../../etc/shadow")])
    with pytest.raises(ImageError, match="escapes the image root"):
        open_image(write_oci(tmp_path / "oci", [layer]))


def test_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    layer = build_layer([Symlink("a", "b"), Symlink("b", "a"), File("a/x", b"through the loop")])
    with pytest.raises(ImageError, match=r"symlink loop while resolving /a"):
        open_image(write_oci(tmp_path / "oci", [layer]))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_decompression_bomb_stops_at_the_layer_cap(tmp_path: Path, compression: str) -> None:
    layer = build_layer([File("zeros", b"\0" * (4 << 20))])
    path = write_oci(tmp_path / "oci", [layer], compression=compression)
    with pytest.raises(ImageError, match=r"more than 1048576 bytes uncompressed \(the per-layer cap\)"):
        open_image(path, limits=Limits(max_layer=1 << 20))
    with pytest.raises(ImageError, match=r"expands more than 100x"):
        _open_with_floor(path, Limits(max_ratio=100))


def _open_with_floor(path: Path, limits: Limits):
    """The ratio check ignores the first 64 MiB (real layers of zeros exist); lower that for a small test."""
    from shiplane.images import layers

    original = layers._Meter.__init__

    def low_floor(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.ratio_floor = 1 << 20

    layers._Meter.__init__ = low_floor
    try:
        return open_image(path, limits=limits)
    finally:
        layers._Meter.__init__ = original


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_truncated_layer_is_a_clear_error(tmp_path: Path, compression: str) -> None:
    raw = build_layer([File("a", b"a" * 20000), File("b", b"b" * 20000)])
    cut = raw[:15000]
    path = write_oci(tmp_path / "oci", [cut], compression=compression, diff_ids=[sha256(raw)])
    with pytest.raises(ImageError, match=r"layer 0 .*truncated"):
        open_image(path)


def test_truncated_zstd_stream(tmp_path: Path) -> None:
    import zstandard

    raw = build_layer([File("a", os.urandom(50000))])
    path = write_oci(tmp_path / "oci", [raw], compression="zstd")
    blob = next(p for p in (path / "blobs/sha256").iterdir() if p.read_bytes()[:4] == b"\x28\xb5\x2f\xfd")
    blob.write_bytes(zstandard.ZstdCompressor().compress(raw)[:-5000])
    with pytest.raises(ImageError, match=r"layer 0 .*(truncated|does not match)"):
        open_image(path)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    raw = build_layer([File("a", os.urandom(50000))])
    blob = gzip.compress(raw)[:-2000]
    path = write_oci(tmp_path / "oci", [raw])
    digest = next(iter(p for p in (path / "blobs/sha256").iterdir() if p.read_bytes()[:2] == b"\x1f\x8b"))
    digest.write_bytes(blob)
    with pytest.raises(ImageError, match=r"truncated \(gzip layer ended early"):
        open_image(path)


def test_diff_id_mismatch_is_refused(tmp_path: Path) -> None:
    path = write_oci(tmp_path / "oci", [BASE], diff_ids=[sha256(b"something else")])
    with pytest.raises(ImageError, match=r"does not match the config's diff_id: expected sha256:"):
        open_image(path)


def test_tampered_blob_is_refused(tmp_path: Path) -> None:
    path = write_oci(tmp_path / "oci", [BASE], compression="none")
    blob = next(p for p in (path / "blobs/sha256").iterdir() if p.stat().st_size == len(BASE))
    blob.write_bytes(BASE.replace(b"ID=debian", b"ID=DEBIAN"))
    with pytest.raises(ImageError, match="does not match its digest"):
        open_image(path)


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "x.tar").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ImageError, match="not a readable tar archive"):
        open_image(tmp_path / "x.tar")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.addfile(tarfile.TarInfo("hello"), io.BytesIO(b""))
    (tmp_path / "y.tar").write_bytes(buf.getvalue())
    with pytest.raises(ImageError, match="neither an OCI layout"):
        open_image(tmp_path / "y.tar")
    with pytest.raises(ImageError, match="no such file"):
        open_image(tmp_path / "missing")
    (tmp_path / "z.tar.gz").write_bytes(gzip.compress(buf.getvalue()))
    with pytest.raises(ImageError, match=r"a compressed archive.*\n  hint: decompress it first, e.g. `gunzip "):
        open_image(tmp_path / "z.tar.gz")


def test_manifest_path_escaping_the_archive_is_refused(tmp_path: Path) -> None:
    import json

    path = write_docker_archive(tmp_path / "d.tar", [BASE])
    out = tmp_path / "evil"
    out.mkdir()
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            data = tf.extractfile(m).read()
            if m.name == "manifest.json":
                doc = json.loads(data)
                doc[0]["Layers"] = ["../../../etc/passwd"]
                data = json.dumps(doc).encode()
            (out / m.name).parent.mkdir(parents=True, exist_ok=True)
            (out / m.name).write_bytes(data)
    with pytest.raises(ImageError, match="escapes the archive"):
        open_image(out)


def test_empty_layers_and_a_symlinked_os_release(tmp_path: Path) -> None:
    """Builders emit empty layers (an end-of-archive marker only); Debian links /etc/os-release."""
    from shiplane.images import inventory

    empty = build_layer([])
    base = build_layer(
        [
            Dir("usr"),
            Dir("usr/lib"),
            File("usr/lib/os-release", b"ID=debian\nVERSION_ID=12\n"),
            Dir("etc"),
            Symlink("etc/os-release", "../usr/lib/os-release"),
        ]
    )
    for path in (
        write_oci(tmp_path / "oci", [empty, base, empty]),
        write_docker_archive(tmp_path / "d.tar", [empty, base, empty]),
    ):
        fs = open_image(path, wanted=inventory.WANTED).fs
        assert [la.files for la in fs.layers] == [0, 5, 0]
        assert inventory.take(fs).os.version_id == "12"
