"""Every real-world compose file imports into a spec that loads, renders and passes the
Kubernetes schemas; the spec and report are golden files; secrets stay out of both."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane import rendering, schemas, spec
from shiplane.spec.inputs import gather
from tests.unit.importing.realworld import GOLDEN, SAMPLES, SECRET_ENV, UNFAITHFUL, import_sample
from tests.unit.spec import golden


def test_all_21_inputs_are_covered() -> None:
    assert len(SAMPLES) == 21


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_realworld_import(name: str, tmp_path: Path) -> None:
    imported, written = import_sample(name, tmp_path)
    text = written.read_text()
    report = imported.report.to_text()
    folder = GOLDEN / f"import-{name}"
    folder.mkdir(exist_ok=True)
    golden.check(folder / "shiplane.yaml", text)
    golden.check(folder / "report.txt", report)

    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, SECRET_ENV))
    schemas.validate(objects, stage.kubernetes_version)
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]
    assert len(workloads) == len(imported.spec["services"])

    for reason in UNFAITHFUL.get(name, []):
        assert reason in report, f"{name}: the report should say {reason!r}"
    if name not in UNFAITHFUL:
        assert imported.report.blocker_count == 0, report
    # Samples use plain words as passwords ('postgres', 'nextcloud') that also name things in the
    # spec; the distinctive ones must not appear anywhere (tests/data/import-cases checks all of them).
    for value in (v for v in imported.secret_values.values() if len(v) >= 10 or not v.isalpha()):
        assert value not in text
        assert value not in report
        assert value not in imported.report.to_json()
    for svc in imported.spec["services"].values():
        for key, env in svc.get("env", {}).items():
            if "PASSWORD" in key and not str(env).startswith("/run/secrets/"):
                assert isinstance(env, dict) and "secret" in env, f"{key} kept its value"
    secrets_dir = written.parent / ".shiplane-secrets"
    if imported.secret_values:
        assert ".shiplane-secrets/" in (written.parent / ".gitignore").read_text().splitlines()
        assert {p.name for p in secrets_dir.iterdir()} == set(imported.secret_values)
        assert all(p.stat().st_mode & 0o077 == 0 for p in secrets_dir.iterdir())


def test_voting_import_keeps_what_the_hand_written_spec_has(tmp_path: Path) -> None:
    imported, _ = import_sample("example-voting-app", tmp_path)
    services = imported.spec["services"]
    assert services["db"]["kind"] == "stateful"
    assert services["db"]["volumes"]["db-data"] == {"persistent": {"size": "1Gi"}}
    assert services["db"]["env"]["POSTGRES_PASSWORD"] == {"secret": "postgres-password"}
    assert services["vote"]["probes"]["readiness"]["http"] == {"port": "http", "path": "/"}
    assert services["vote"]["dependsOn"] == ["redis"]
    assert services["worker"]["dependsOn"] == ["redis", "db"]
    assert {"redis", "db"} <= set(services["worker"]["connectsTo"])
    assert services["vote"]["public"]["port"] == "http"
    assert "seed" not in services  # profile 'seed' is off by default, as in `docker compose up`
    assert "service 'seed' skipped" in imported.report.to_text()
