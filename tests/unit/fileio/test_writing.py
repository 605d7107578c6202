"""The one writer: inside the output directory only, never through a symlink, never over a file
shiplane did not write unless forced, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shiplane.errors import InputError
from shiplane.fileio.writing import OWN, OutputDir, safe_name


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../x", "", "a\0b", "./x", "a//b"])
def test_names_that_leave_the_directory_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="not a plain relative path"):
        OutputDir(tmp_path / "out").write(name, "x")
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # nothing written, not even the directory


def test_safe_name_keeps_one_harmless_component() -> None:
    assert safe_name("../../../outside/x") == "outside-x"
    assert safe_name("/etc/passwd") == "etc-passwd"
    assert safe_name("deployment-web.yaml") == "deployment-web.yaml"
    assert safe_name("..") == "unnamed"


def test_symlinked_parent_inside_the_output_dir_is_refused(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "raw").symlink_to(elsewhere)
    with pytest.raises(InputError, match="raw: cannot write under it: it is a symbolic link"):
        OutputDir(out).write("raw/x.yaml", "x")
    assert list(elsewhere.iterdir()) == []


def test_symlinked_file_is_neither_followed_nor_replaced_even_with_force(tmp_path: Path) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.write_text("precious")
    (out / "f.yaml").symlink_to(victim)
    for force in (False, True):
        with pytest.raises(InputError, match="is a symbolic link"):
            OutputDir(out, force=force).write("f.yaml", "x")
    assert victim.read_text() == "precious" and (out / "f.yaml").is_symlink()


def test_foreign_files_need_force_own_files_do_not(tmp_path: Path) -> None:
    out = OutputDir(tmp_path)
    (tmp_path / "mine.yaml").write_text("hand-written\n")
    with pytest.raises(InputError, match="exists and was not written by shiplane"):
        out.write("mine.yaml", f"{OWN}\nnew\n")
    assert (tmp_path / "mine.yaml").read_text() == "hand-written\n"
    OutputDir(tmp_path, force=True).write("mine.yaml", f"{OWN}\nnew\n")
    out.write("mine.yaml", f"{OWN}\nnewer\n")  # now ours: replaced without force
    assert (tmp_path / "mine.yaml").read_text() == f"{OWN}\nnewer\n"
    assert not out.remove_own("other.yaml")
    (tmp_path / "keep.yaml").write_text("hand-written\n")
    assert not out.remove_own("keep.yaml") and (tmp_path / "keep.yaml").exists()
    assert out.remove_own("mine.yaml") and not (tmp_path / "mine.yaml").exists()


def test_fifo_in_the_output_dir_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.yaml")
    with pytest.raises(InputError, match=r"is a named pipe \(FIFO\)"):
        OutputDir(tmp_path, force=True).write("x.yaml", "x")
    assert OutputDir(tmp_path).names() == []


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    out = OutputDir(tmp_path / "out")
    out.write("a/b/c.txt", "one", mode=0o600, dir_mode=0o700)
    assert (tmp_path / "out/a/b/c.txt").read_text() == "one"
    assert (tmp_path / "out/a/b/c.txt").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "out/a").stat().st_mode & 0o777 == 0o700
    probe = out.create_new(".probe-", ".yaml", "p")
    assert probe.read_text() == "p"
    out.unlink(probe.name)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["a", "b", "c.txt"]


def test_output_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="exists and is not a directory"):
        OutputDir(tmp_path / "f").write("a", "b")


def test_existing_reports_a_linked_or_file_parent_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "raw").symlink_to(tmp_path)
    (tmp_path / "secrets").write_text("x")
    out = OutputDir(tmp_path)
    assert "raw: cannot write under it: it is a symbolic link" in (out.existing("raw/a.yaml") or "")
    assert "secrets: cannot write under it: it is a regular file" in (out.existing("secrets/a") or "")
    assert out.existing("absent/a") is None
