"""The CLI boundary: clear errors and exit codes, never a traceback for a user mistake."""

import subprocess
import sys

from shiplane import __version__
from shiplane.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_cluster_is_a_clear_input_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHIPLANE_STATE", str(tmp_path))
    assert main(["cluster", "status", "--name", "nope"]) == 2
    err = capsys.readouterr().err
    assert "error: no cluster named 'nope'" in err and "shiplane cluster up" in err


def test_bad_cluster_name_and_bad_option(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHIPLANE_STATE", str(tmp_path))
    assert main(["cluster", "down", "--name", "a/b"]) == 2
    assert "letters, digits" in capsys.readouterr().err
    assert main(["cluster", "up", "--nodes", "0"]) == 2
    assert "--nodes" in capsys.readouterr().err


def test_down_of_a_missing_cluster_is_harmless(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHIPLANE_STATE", str(tmp_path))
    assert main(["cluster", "down", "--name", "ghost", "--plain"]) == 0
    assert "nothing to stop" in capsys.readouterr().err


def test_console_entry_point_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "shiplane", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "cluster" in out.stdout
