"""The one file reader: regular files only (a FIFO or device is refused without blocking), capped, UTF-8."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from shiplane.errors import InputError
from shiplane.fileio import reading


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")  # nobody writes to it: opening it blocking would hang this test
    with pytest.raises(InputError, match=r"pipe.yaml: cannot read this manifest: it is a named pipe \(FIFO\)"):
        reading.read_text(tmp_path / "pipe.yaml", what="manifest")
    assert reading.head(tmp_path / "pipe.yaml", 10) is None


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_files_are_never_read() -> None:
    with pytest.raises(InputError, match="it is a character device"):
        reading.read_bytes("/dev/zero")  # would never end
    assert reading.head("/dev/zero", 10) is None


def test_directories_missing_files_and_symlinks(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="it is a directory"):
        reading.read_text(tmp_path)
    with pytest.raises(InputError, match=r"nope.yaml: no such file$"):
        reading.read_text(tmp_path / "nope.yaml")
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert reading.read_text(tmp_path / "link") == "x"
    with pytest.raises(InputError, match="symbolic link"):
        reading.read_text(tmp_path / "link", follow_symlinks=False)


def test_size_cap_names_the_limit(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 2048)
    with pytest.raises(InputError, match=r"big: this Dockerfile is larger than the 1 KiB limit \(2048 bytes\)"):
        reading.read_text(tmp_path / "big", what="Dockerfile", limit=1024)
    assert len(reading.read_text(tmp_path / "big", limit=2048)) == 2048


def test_stdin_is_capped_and_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a: caf\xe9\n")))
    with pytest.raises(InputError, match=r"<stdin>:1:7: not UTF-8 text \(byte 0xe9 at offset 6\)"):
        reading.read_stdin()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x" * 100)))
    with pytest.raises(InputError, match="larger than the 10 bytes limit"):
        reading.read_stdin(limit=10)


def test_walk_skips_fifos_devices_and_links_out_of_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "project", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.yaml").write_text("s")
    (root / "a.yaml").write_text("a")
    (root / "sub" / "b.yaml").write_text("b")
    (root / "notes.txt").write_text("n")
    os.mkfifo(root / "pipe.yaml")
    (root / "out.yaml").symlink_to(outside / "secret.yaml")
    (root / "outdir").symlink_to(outside)  # never descended into
    (root / "in.yaml").symlink_to(root / "a.yaml")
    found = [p.relative_to(root).as_posix() for p in reading.walk_files(root, suffixes=(".yaml",), root=root)]
    assert found == ["a.yaml", "in.yaml", "sub/b.yaml"]


def test_a_nul_in_a_path_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not a valid file name"):
        reading.read_text("a\0b")
