"""The voting example renders to the reviewed golden files, stage by stage, and validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane import rendering, schemas, spec
from shiplane.rendering import exporting
from shiplane.spec.inputs import gather
from tests.unit.spec import golden

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "voting" / "shiplane.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden"
ENV = {"VOTING_POSTGRES_PASSWORD": "golden-test-password"}


@pytest.mark.parametrize("stage", ["dev", "test", "prod"])
def test_voting_stage_matches_golden(stage: str) -> None:
    stage_spec = spec.load([EXAMPLE]).stage(stage)
    objects = rendering.render(stage_spec, gather(stage_spec, ENV))
    schemas.validate(objects, stage_spec.kubernetes_version)
    text = exporting.to_stream(exporting.mask_secrets(objects))
    assert "golden-test-password" not in text
    golden.check(GOLDEN / f"voting-{stage}.yaml", text)


def test_stages_differ_where_the_spec_says() -> None:
    loaded = spec.load([EXAMPLE])
    by_stage = {s: rendering.render(loaded.stage(s), gather(loaded.stage(s), ENV)) for s in ("dev", "test", "prod")}

    def find(objs, kind, name):
        return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)

    assert find(by_stage["test"], "Deployment", "vote")["spec"]["replicas"] == 2
    # prod scales vote with an HPA, so the Deployment leaves replicas to it
    assert "replicas" not in find(by_stage["prod"], "Deployment", "vote")["spec"]
    assert find(by_stage["prod"], "HorizontalPodAutoscaler", "vote")["spec"]["minReplicas"] == 3
    assert not [o for o in by_stage["prod"] if o["metadata"]["name"].startswith("seed")]
    assert [o for o in by_stage["dev"] if o["kind"] == "Job" and o["metadata"]["name"].startswith("seed-")]
    claim = find(by_stage["prod"], "StatefulSet", "db")["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert {o["metadata"]["namespace"] for o in by_stage["prod"]} == {"voting"}
