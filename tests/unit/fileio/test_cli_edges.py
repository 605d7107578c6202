"""Issue 10's I/O defects, each as a user meets it through the CLI: hostile files end in exit 2
with a clear message (never a hang, a traceback or gigabytes), and nothing is written outside
the output directory, through a symlink, or over a file shiplane did not write.

Anything that could hang runs in a subprocess with a timeout, so a regression fails instead of blocking.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shiplane.cli import main
from shiplane.errors import InputError
from shiplane.fileio import reading
from shiplane.importing import host
from shiplane.importing.storage import PathInfo
from shiplane.kube.client import Kube

SPEC = """apiVersion: shiplane.io/v1alpha1
app: {name: demo}
defaults: {resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 1, memory: 128Mi}}}
services:
  web:
    image: nginx:1.27
    ports: {http: 80}
FILES
stages:
  dev: {namespace: demo}
"""
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
"""
LAUGHS = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def run(args: list[str], cwd: Path, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in its own process; a hang is a TimeoutExpired (a failure), not a blocked suite."""
    return subprocess.run(
        [sys.executable, "-m", "shiplane", *args], cwd=cwd, input=stdin, capture_output=True, timeout=timeout
    )


def spec(tmp_path: Path, files: str = "") -> Path:
    (tmp_path / "shiplane.yaml").write_text(SPEC.replace("FILES\n", files))
    return tmp_path


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


# --- billion laughs and friends -------------------------------------------------------------------


@pytest.mark.parametrize("text", [LAUGHS, "x: &a [*a]\n"])
def test_alias_bombs_exit_2_fast_in_render_check_and_import(tmp_path: Path, text: str) -> None:
    (tmp_path / "shiplane.yaml").write_text(text)
    (tmp_path / "compose.yaml").write_text(text)
    for args in (["render", "-s", "dev"], ["check", "shiplane.yaml"], ["import", "compose", "compose.yaml", "-o", "o"]):
        out = run(args, tmp_path, timeout=30)
        err = out.stderr.decode()
        assert out.returncode == 2, (args, err)
        assert "Traceback" not in err and ("aliases expand" in err or "refers to the anchor" in err), err


def test_non_utf8_spec_and_stdin_exit_2_with_line_and_column(tmp_path: Path) -> None:
    spec(tmp_path)
    path = tmp_path / "shiplane.yaml"
    path.write_bytes(path.read_bytes().replace(b"demo}", b"d\xe9mo}", 1))
    out = run(["render", "-s", "dev"], tmp_path)
    assert out.returncode == 2 and b"shiplane.yaml:2:14: not UTF-8 text (byte 0xe9 at offset 46)" in out.stderr
    out = run(["check", "-"], tmp_path, stdin=b"apiVersion: v1\nkind: \xff\n")
    assert out.returncode == 2 and b"<stdin>:2:7: not UTF-8 text" in out.stderr, out.stderr


# --- FIFOs where files are expected ---------------------------------------------------------------


def test_fifo_as_files_fromfile_render_and_check(tmp_path: Path) -> None:
    spec(tmp_path, "    files:\n      /etc/app.conf: {fromFile: app.conf}\n")
    os.mkfifo(tmp_path / "app.conf")
    for args in (["render", "-s", "dev"], ["check", "--stage", "dev"]):
        out = run(args, tmp_path, timeout=30)
        assert out.returncode == 2, out.stderr
        assert b"app.conf: cannot read this config file: it is a named pipe (FIFO)" in out.stderr


def test_fifo_as_dockerfile_spec_and_manifest(tmp_path: Path) -> None:
    spec(tmp_path)
    for name in ("Dockerfile", "pipe.yaml", "spec.yaml"):
        os.mkfifo(tmp_path / name)
    out = run(["check", "--dockerfile", "Dockerfile"], tmp_path, timeout=30)
    assert out.returncode == 2 and b"Dockerfile: cannot read this Dockerfile: it is a named pipe" in out.stderr
    out = run(["check", "pipe.yaml"], tmp_path, timeout=30)
    assert out.returncode == 2 and b"pipe.yaml: cannot read this manifest: it is a named pipe" in out.stderr
    out = run(["render", "-f", "spec.yaml", "-s", "dev"], tmp_path, timeout=30)
    assert out.returncode == 2 and b"spec.yaml: cannot read this spec file: it is a named pipe" in out.stderr


def test_fifo_inside_manifest_directories_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    (tmp_path / "m" / "cm.yaml").write_text(DEPLOY + cm)
    os.mkfifo(tmp_path / "m" / "zz-pipe.yaml")
    out = run(["check", "m", "--fail-on", "never"], tmp_path, timeout=30)
    assert out.returncode == 0, out.stderr
    out = run(["import", "manifests", "m", "-o", "out"], tmp_path, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "shiplane.yaml" in tree(tmp_path / "out")
    assert (tmp_path / "m" / "zz-pipe.yaml").exists()


# --- render -o ------------------------------------------------------------------------------------


def test_render_dir_with_a_fifo_does_not_hang_and_keeps_it(tmp_path: Path) -> None:
    spec(tmp_path)
    (tmp_path / "out").mkdir()
    os.mkfifo(tmp_path / "out" / "old.yaml")  # stale-file cleanup used to read it
    out = run(["render", "-s", "dev", "-o", "out"], tmp_path, timeout=30)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "old.yaml").exists()


def test_render_dir_keeps_hand_written_files_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    spec(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "deployment-web.yaml").write_text("# my own notes\n")
    (out / "notes.yaml").write_text("# also mine, never removed\n")
    assert main(["render", "-s", "dev", "-o", "out"]) == 2
    err = capsys.readouterr().err
    assert "out/deployment-web.yaml exists and was not written by shiplane" in err and "--force" in err
    assert tree(out) == ["deployment-web.yaml", "notes.yaml"]  # nothing written at all
    assert main(["render", "-s", "dev", "-o", "out", "--force"]) == 0
    assert (out / "deployment-web.yaml").read_text().startswith("# Generated by shiplane")
    assert main(["render", "-s", "dev", "-o", "out"]) == 0  # our own files: replaced without --force
    assert (out / "notes.yaml").read_text() == "# also mine, never removed\n"


def test_render_dir_does_not_write_through_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    spec(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "out" / "service-web.yaml").symlink_to(victim)
    assert main(["render", "-s", "dev", "-o", "out", "--force"]) == 2
    assert "service-web.yaml is a symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "precious\n"


# --- import ---------------------------------------------------------------------------------------


def test_import_manifests_cannot_write_outside_via_kind(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    outside = tmp_path / "outside"
    (tmp_path / "in" / "evil.yaml").write_text(
        DEPLOY + "apiVersion: v1\nkind: ../../../outside/x\nmetadata: {name: a}\n---\n"
        f"apiVersion: v1\nkind: {tmp_path}/abs\nmetadata: {{name: b}}\n"
    )
    out = run(["import", "manifests", "in", "-o", "out"], tmp_path, timeout=30)
    # The manifest's shape check refuses such a kind first (exit 2, both named, nothing written); the
    # writer's own refusal of names that leave the output directory is tested on `safe_name`/`OutputDir`.
    assert out.returncode == 2, out.stderr
    assert b"evil.yaml:11:1: kind: expected a kind" in out.stderr and b"Traceback" not in out.stderr
    assert out.stderr.count(b"kind: expected a kind") == 2
    assert not outside.exists() and not (tmp_path / "abs-b.yaml").exists()
    assert sorted(tree(tmp_path)) == ["in", "in/evil.yaml"]


def test_import_probe_never_touches_a_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Procfile").write_text("web: gunicorn app:app\n")
    (tmp_path / ".shiplane-import-check.yaml").write_text("mine\n")  # the probe's old, fixed name
    monkeypatch.chdir(tmp_path)
    assert main(["import", "procfile", "Procfile"]) == 0
    assert (tmp_path / ".shiplane-import-check.yaml").read_text() == "mine\n"
    assert tree(tmp_path) == [".shiplane-import-check.yaml", "Procfile", "shiplane.yaml"]


@pytest.fixture
def secret_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  api:\n    image: acme/api:1\n    environment:\n      JWT_SECRET: jwt-signing-value\n"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_import_gitignore_symlink_is_not_followed(secret_project: Path, capsys: pytest.CaptureFixture) -> None:
    victim = secret_project / "bashrc"
    victim.write_text("precious\n")
    (secret_project / ".gitignore").symlink_to(victim)
    assert main(["import", "compose", "compose.yaml", "--force"]) == 2
    assert ".gitignore is a symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "precious\n"
    assert not (secret_project / "shiplane.yaml").exists()  # refused before writing anything


def test_import_secrets_dir_symlink_is_not_followed(secret_project: Path, capsys: pytest.CaptureFixture) -> None:
    elsewhere = secret_project / "elsewhere"
    elsewhere.mkdir()
    (secret_project / ".shiplane-secrets").symlink_to(elsewhere)
    assert main(["import", "compose", "compose.yaml", "--force"]) == 2
    assert ".shiplane-secrets: cannot write under it: it is a symbolic link" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_import_existing_gitignore_is_kept_and_extended(secret_project: Path) -> None:
    (secret_project / ".gitignore").write_text("node_modules/\n")
    assert main(["import", "compose", "compose.yaml"]) == 0
    assert (secret_project / ".gitignore").read_text() == "node_modules/\n.shiplane-secrets/\n"


def test_import_does_not_read_bind_sources_outside_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    project, outside = tmp_path / "app", tmp_path / "host"
    (project / "conf").mkdir(parents=True)
    outside.mkdir()
    (outside / "shadow").write_text("root:$6$hash\n")
    (project / "conf" / "app.conf").write_text("x=1\n")
    (project / "conf" / "shadow").symlink_to(outside / "shadow")  # a link out of the project
    os.mkfifo(project / "conf" / "pipe.conf")
    (project / "linked").symlink_to(outside)
    (project / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    volumes:\n"
        f"      - {outside}:/host\n      - ./conf:/conf\n      - ./linked/shadow:/etc/shadow\n"
    )
    opened: list[str] = []
    for fn in ("head", "read_bytes"):
        real = getattr(reading, fn)
        monkeypatch.setattr(reading, fn, lambda p, *a, _real=real, **k: opened.append(str(p)) or _real(p, *a, **k))
    monkeypatch.chdir(project)
    assert main(["import", "compose", "compose.yaml", "-o", "out"]) == 0
    assert opened and not [p for p in opened if not Path(p).resolve().is_relative_to(project)], opened
    spec_text = (project / "out" / "shiplane.yaml").read_text()
    sources = [(project / "out" / f).resolve() for f in re.findall(r"fromFile: ([^}\s]+)", spec_text)]
    assert sources == [project / "conf" / "app.conf"], sources  # not the link out, not the FIFO
    assert "root:$6$hash" not in capsys.readouterr().out + spec_text
    # A bind source inside the project by name that leads out through a symlink: stat only.
    assert host.path_info(project / "linked", project) == PathInfo("outside")
    assert host.path_info(outside, project) == PathInfo("dir")  # no listing of what is outside


@pytest.mark.skipif(not Path("/dev/console").exists(), reason="needs /dev")
def test_import_bind_of_root_and_etc_finishes(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    volumes: ['/:/host', '/etc:/etc/host', '/dev:/dev']\n"
    )
    out = run(["import", "compose", "compose.yaml", "-o", "out"], tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert b"fromFile" not in (tmp_path / "out" / "shiplane.yaml").read_bytes()


# --- kubeconfig -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a\n- b\n", "a kubeconfig is a mapping (apiVersion, clusters, contexts, users), found list"),
        ("clusters: [\n", "invalid YAML"),
        ("clusters: {a: b}\n", "clusters: expected a list, found dict"),
        ("x: &a [*a]\n", "refers to the anchor"),
        (b"current-context: \xff\n", "not UTF-8 text"),
    ],
)
def test_broken_kubeconfig_is_an_input_error(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Kube.connect(path)


def test_kubeconfig_directory_or_fifo_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    for kubeconfig in (str(tmp_path), "fifo"):
        out = run(["status", "-s", "dev", "--kubeconfig", kubeconfig], tmp_path, timeout=30)
        assert out.returncode == 2, out.stderr
        assert b"cannot read this kubeconfig: it is a" in out.stderr
    with pytest.raises(InputError, match="it is a directory"):
        monkeypatch.setenv("KUBECONFIG", str(tmp_path))
        Kube.connect()


@pytest.mark.parametrize(
    ("command", "file", "where"),
    [
        (["import", "compose"], "compose.yaml", "compose.yaml:1:"),
        (["import", "systemd"], "web.service", "web.service:1:"),
        (["import", "procfile"], "Procfile", "Procfile:1:"),
        (["import", "manifests"], "m.yaml", "m.yaml:1:"),
        (["check"], "m.yaml", "m.yaml:1:"),
    ],
)
def test_non_utf8_inputs_exit_2_naming_the_position(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    command: list[str],
    file: str,
    where: str,
) -> None:
    (tmp_path / file).write_bytes(b"# caf\xe9\n")
    monkeypatch.chdir(tmp_path)
    assert main([*command, file]) == 2
    err = capsys.readouterr().err
    assert f"{where}6: not UTF-8 text (byte 0xe9 at offset 5)" in err and "Traceback" not in err


def test_render_output_dir_that_is_a_fifo(tmp_path: Path) -> None:
    spec(tmp_path)
    os.mkfifo(tmp_path / "out")
    out = run(["render", "-s", "dev", "-o", "out"], tmp_path, timeout=30)
    assert out.returncode == 2 and b"out: exists and is not a directory" in out.stderr
