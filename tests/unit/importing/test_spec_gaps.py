"""Spec gaps the import found, now fields: each compose key reaches the rendered pod."""

from __future__ import annotations

from pathlib import Path

from shiplane import rendering, spec
from shiplane.importing import import_compose, writing
from shiplane.spec.inputs import gather


def test_stop_grace_period_becomes_termination_grace_period(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    stop_grace_period: 1m30s\n"
        "  bad:\n    image: postgres:16\n    stop_grace_period: soon\n"
    )
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={})
    assert imported.spec["services"]["db"]["terminationGracePeriodSeconds"] == 90
    report = imported.report.to_text()
    assert "stop_grace_period 1m30s → terminationGracePeriodSeconds" in report
    assert "stop_grace_period: invalid duration 'soon'" in report
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, {}))
    pods = {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] == "Deployment"}
    assert pods["db"]["terminationGracePeriodSeconds"] == 90
    assert "terminationGracePeriodSeconds" not in pods["bad"]
