"""`shiplane import …` as a user runs it: files written, exit codes, report formats, no secrets printed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shiplane.cli import main

CASES = Path(__file__).parents[2] / "data" / "import-cases"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(CASES / "secrets-env", tmp_path / "shop", ignore=shutil.ignore_patterns("expected.yaml", "*.txt"))
    (tmp_path / "shop" / "db").mkdir(exist_ok=True)
    (tmp_path / "shop" / "db" / "password.txt").write_text("cli-file-secret")
    monkeypatch.chdir(tmp_path / "shop")
    monkeypatch.setenv("SHOP_API_KEY", "unused-at-import")
    return tmp_path / "shop"


def test_import_compose_writes_spec_secrets_and_gitignore(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["import", "compose", "compose.yaml", "-o", "out", "--report", "json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["summary"] == {"services": 2, "stateful": 1, "blockers": 0}
    assert "wrote out/shiplane.yaml" in err
    secrets = project / "out" / ".shiplane-secrets"
    assert (secrets / "jwt-secret").read_text() == "jwt-signing-value"
    assert (secrets / "jwt-secret").stat().st_mode & 0o777 == 0o600
    assert (project / "out" / ".gitignore").read_text() == ".shiplane-secrets/\n"
    spec_text = (project / "out" / "shiplane.yaml").read_text()
    assert "db-password: {fromFile: ../db/password.txt}" in spec_text  # relative to the spec's directory
    for value in ("jwt-signing-value", "s3cr3t-dsn", "sk_test_not_real", "cli-file-secret"):
        assert value not in out + err + spec_text


def test_imported_spec_renders_with_the_written_secrets(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["import", "compose", "compose.yaml", "-o", "out"]) == 0
    capsys.readouterr()
    assert main(["render", "-f", "out/shiplane.yaml", "-s", "dev"]) == 0
    rendered = capsys.readouterr().out
    assert "kind: StatefulSet" in rendered and "kind: Ingress" in rendered
    assert "jwt-signing-value" not in rendered  # masked by default


def test_existing_spec_is_not_overwritten_without_force(project: Path, capsys: pytest.CaptureFixture) -> None:
    (project / "shiplane.yaml").write_text("# mine\n")
    assert main(["import", "compose", "compose.yaml"]) == 2
    assert "shiplane.yaml already exists" in capsys.readouterr().err
    assert (project / "shiplane.yaml").read_text() == "# mine\n"
    assert main(["import", "compose", "compose.yaml", "--force"]) == 0


def test_bad_compose_file_exits_2_with_file_line_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("compose.yaml").write_text("services:\n  web:\n    image: nginx\n    ports: [80]\n    restrat: always\n")
    assert main(["import", "compose", "compose.yaml"]) == 2
    err = capsys.readouterr().err
    assert "compose.yaml:5:5: services.web.restrat: unknown service key; did you mean 'restart'?" in err
    assert "Traceback" not in err
    assert not Path("shiplane.yaml").exists()


def test_missing_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["import", "compose", "nope.yaml"]) == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err


def test_profiles_flag_enables_a_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    shutil.copytree(CASES / "profiles", tmp_path / "p", ignore=shutil.ignore_patterns("expected.yaml", "*.txt"))
    monkeypatch.chdir(tmp_path / "p")
    assert main(["import", "compose", "compose.yaml", "--profile", "debug"]) == 0
    assert "debug (stateless)" in capsys.readouterr().out
