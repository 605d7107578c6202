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


def test_environment_file_is_the_vms_never_this_machines(tmp_path: Path) -> None:
    """EnvironmentFile=/etc/os-release names the VM's file: read under --root or beside the unit,
    never this machine's /etc (defect 8 of issue 10)."""
    units, vm = tmp_path / "units", tmp_path / "vm"
    (units).mkdir()
    (vm / "etc" / "app").mkdir(parents=True)
    unit = units / "api.service"
    unit.write_text(
        "[Service]\nExecStart=/usr/bin/api\nEnvironmentFile=/etc/os-release\nEnvironmentFile=-/etc/app/escape\n"
    )
    (vm / "etc" / "os-release").write_text("NAME=shiplane-vm-os\n")
    (tmp_path / "host.env").write_text("LEAK=this-machine\n")
    (vm / "etc" / "app" / "escape").symlink_to(tmp_path / "host.env")  # points out of the VM's copy

    alone = systemd.convert(systemd.load([unit]), "shop", ["api.service"])
    assert "env" not in alone.spec["services"]["api"]
    assert any(
        "EnvironmentFile /etc/os-release: not found beside the unit or under --root" in b
        for b in alone.report.services[0].blockers
    )

    rooted = systemd.convert(systemd.load([unit], root=vm), "shop", ["api.service"])
    assert rooted.spec["services"]["api"]["env"] == {"NAME": "shiplane-vm-os"}

    (units / "os-release").write_text("NAME=beside-the-unit\n")
    beside = systemd.convert(systemd.load([unit]), "shop", ["api.service"])
    assert beside.spec["services"]["api"]["env"] == {"NAME": "beside-the-unit"}


def test_each_exec_hook_gets_its_own_hint(tmp_path: Path) -> None:
    from shiplane.importing import systemd as sd

    unit = tmp_path / "web.service"
    unit.write_text(
        "[Service]\nExecStartPre=/usr/bin/web --check\nExecStart=/usr/bin/web --port 8080\n"
        "ExecReload=/bin/kill -HUP $MAINPID\nExecStop=/usr/bin/web --stop\n"
    )
    imported = sd.convert(sd.load([unit]), "shop", ["web.service"])
    dropped = imported.report.service("web").dropped
    assert any(d.startswith("ExecStartPre: runs before the service starts: make it an init container") for d in dropped)
    assert any(d.startswith("ExecReload: reloads configuration in place") for d in dropped)
    assert any(d.startswith("ExecStop: stops the service: Kubernetes sends SIGTERM") for d in dropped)
    assert sum("init container" in d for d in dropped) == 1
