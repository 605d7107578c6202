"""systemd units and Procfiles → specs that load, render and validate; goldens for spec and report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shiplane import rendering, schemas, spec
from shiplane.errors import InputError
from shiplane.importing import procfile, systemd, writing
from shiplane.importing.interpolating import parse_dotenv
from shiplane.spec.inputs import gather
from tests.unit.spec import golden

CASES = Path(__file__).parents[2] / "data" / "import-cases-vm"


def _check(case: Path, imported, tmp: Path) -> None:
    written = writing.write(tmp, imported.spec, imported.report, imported.secret_values)
    text = written.read_text()
    golden.check(case / "expected.yaml", text)
    golden.check(case / "report.txt", imported.report.to_text())
    stage = spec.load([written]).stage("dev")
    schemas.validate(rendering.render(stage, gather(stage, {})), stage.kubernetes_version)
    for value in imported.secret_values.values():
        assert value not in text and value not in imported.report.to_json()


def test_systemd_units(tmp_path: Path) -> None:
    case = CASES / "systemd-shop"
    work = tmp_path / "units"
    shutil.copytree(case, work)
    units = systemd.load(sorted(work.glob("*.service")))
    imported = systemd.convert(units, "shop", [u.name for u in units])
    api = imported.spec["services"]["shop-api"]
    assert api["kind"] == "stateful"
    assert api["dependsOn"] == ["shop-cache"]
    assert api["resources"]["limits"] == {"memory": "512Mi", "cpu": "1500m"}
    assert api["env"]["DATABASE_URL"] == {"secret": "database-url"}
    assert imported.spec["services"]["shop-cleanup"]["kind"] == "job"
    assert api["image"].startswith("image-to-fill.invalid/")
    _check(case, imported, work)


def test_procfile(tmp_path: Path) -> None:
    case = CASES / "procfile-rails"
    env = parse_dotenv((case / ".env").read_text(), ".env")
    imported = procfile.convert(procfile.load(case / "Procfile"), "rails", "Procfile", env)
    web = imported.spec["services"]["web"]
    assert web["ports"] == {"http": 8080} and web["env"]["PORT"] == "8080"
    assert web["migration"]["command"] == ["sh", "-c", "bundle exec rails db:migrate"]
    assert set(imported.spec["services"]) == {"web", "worker"}
    _check(case, imported, tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[Unit]\nDescription=x\n", "web.service: no [Service] section"),
        ("[Service]\nUser=1\n", "web.service: [Service] has no ExecStart"),
        ("[Service]\nExecStart /bin/x\n", "web.service:2: expected [Section] or Key=Value"),
    ],
)
def test_bad_units_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    unit = tmp_path / "web.service"
    unit.write_text(text)
    with pytest.raises(InputError, match=None) as err:
        systemd.convert(systemd.load([unit]), "x", ["web.service"])
    assert message in str(err.value)


def test_bad_procfile_line() -> None:
    with pytest.raises(InputError) as err:
        procfile.parse("web: run\nthis is not a process\n", "Procfile")
    assert "Procfile:2: expected 'type: command'" in str(err.value)
