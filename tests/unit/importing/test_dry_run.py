"""`shiplane import … --dry-run`: shows what would be written and writes no file at all."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from shiplane.cli import main

CASES = Path(__file__).parents[2] / "data" / "import-cases"
SECRET_VALUES = ("jwt-signing-value", "s3cr3t-dsn", "sk_test_not_real", "cli-file-secret")


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and directory under root, with its content digest and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            out[str(path.relative_to(root))] = (digest, st.st_mtime_ns)
    return out


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(CASES / "secrets-env", tmp_path / "shop", ignore=shutil.ignore_patterns("expected.yaml", "*.txt"))
    (tmp_path / "shop" / "db").mkdir(exist_ok=True)
    (tmp_path / "shop" / "db" / "password.txt").write_text("cli-file-secret")
    monkeypatch.chdir(tmp_path / "shop")
    return tmp_path / "shop"


@pytest.mark.parametrize("out_dir", [None, "out"])
def test_import_compose_dry_run_writes_nothing_and_shows_what_it_would(project: Path, capsys, out_dir) -> None:
    before = snapshot(project.parent)
    args = ["import", "compose", "compose.yaml", *(["-o", out_dir] if out_dir else [])]
    assert main([*args, "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert snapshot(project.parent) == before  # no file, no directory, no probe file: nothing
    where = Path(out_dir or ".")
    assert f"would write {where / 'shiplane.yaml'}" in err
    assert f"would write {where / '.shiplane-secrets' / 'jwt-secret'}" in err
    assert f"would write {where / '.gitignore'}" in err
    assert "(would be written)" in out and "services:" in out
    for value in SECRET_VALUES:
        assert value not in out + err
    # The dry-run printed exactly the spec the real run writes.
    assert main(args) == 0
    capsys.readouterr()
    written = (project / where / "shiplane.yaml").read_text()
    assert written in out


def test_import_dry_run_refuses_what_the_real_run_refuses(project: Path, capsys) -> None:
    (project / "shiplane.yaml").write_text("# mine\n")
    before = snapshot(project)
    assert main(["import", "compose", "compose.yaml", "--dry-run"]) == 2
    assert "shiplane.yaml already exists" in capsys.readouterr().err
    assert snapshot(project) == before


def test_import_manifests_dry_run_writes_none(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    custom = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "all.yaml").write_text(json.dumps(deployment) + "\n---\n" + json.dumps(custom) + "\n")
    before = snapshot(tmp_path)
    assert main(["import", "manifests", "k8s", "--dry-run", "--report", "json"]) == 0
    out, err = capsys.readouterr()
    assert snapshot(tmp_path) == before
    json.loads(out)  # the JSON report stays parseable: the spec text is only added to a text report
    assert f"would write {Path('k8s', 'shiplane.yaml')}" in err
    assert "raw" not in err  # the custom resource is managed in the spec (objects:), not a raw/ file
    assert json.loads(out)["notes"][0] == "Widget w: managed as it is (spec objects:)"
