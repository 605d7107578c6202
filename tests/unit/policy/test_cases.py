"""Case folders: for every rule, bad.* must trigger it and good.* must not.

tests/data/policy-cases/<rule-id>/{bad,good}.yaml (manifests) or {bad,good}.Dockerfile;
an optional `kubernetes-version` file sets the target version.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane.policy import RULES, RULES_BY_ID, evaluate
from shiplane.policy.dockerfile import RULES as DOCKER_RULES
from shiplane.policy.dockerfile import lint_text
from shiplane.policy.manifests import parse
from shiplane.policy.profiles import Profile

CASES = Path(__file__).parents[2] / "data" / "policy-cases"
MANIFEST_CASES = sorted(p.parent.name for p in CASES.glob("*/bad.yaml"))
DOCKER_CASES = sorted(p.parent.name for p in CASES.glob("*/bad.Dockerfile"))


def _run(rule_id: str, which: str):
    folder = CASES / rule_id
    version_file = folder / "kubernetes-version"
    version = version_file.read_text().strip() if version_file.exists() else "1.36"
    text = (folder / f"{which}.yaml").read_text()
    rule = RULES_BY_ID[rule_id]
    # Turn the rule on even when it is optional, at its own severity.
    profile = Profile("case", "", {rule_id: rule.severity})
    return evaluate(parse(text, f"{rule_id}/{which}.yaml"), profile=profile, kubernetes_version=version)


def test_every_rule_has_a_case_folder():
    ids = {r.id for r in RULES} | {r.id for r in DOCKER_RULES}
    covered = set(MANIFEST_CASES) | set(DOCKER_CASES)
    assert ids - covered == set()


@pytest.mark.parametrize("rule_id", MANIFEST_CASES)
def test_bad_triggers(rule_id):
    hits = [f for f in _run(rule_id, "bad").findings if f.rule == rule_id]
    assert hits, f"{rule_id}: bad.yaml did not trigger the rule"
    for f in hits:
        assert f.file == f"{rule_id}/bad.yaml" and f.line and f.line > 0
        assert f.object is not None and f.why and f.fix


@pytest.mark.parametrize("rule_id", MANIFEST_CASES)
def test_good_does_not_trigger(rule_id):
    hits = [f for f in _run(rule_id, "good").findings if f.rule == rule_id]
    assert hits == [], f"{rule_id}: good.yaml triggered: {[h.message for h in hits]}"


def _lint(rule_id: str, which: str):
    return lint_text((CASES / rule_id / f"{which}.Dockerfile").read_text(), f"{which}.Dockerfile")


@pytest.mark.parametrize("rule_id", DOCKER_CASES)
def test_dockerfile_bad_triggers(rule_id):
    hits = [f for f in _lint(rule_id, "bad").findings if f.rule == rule_id]
    assert hits and all(f.line for f in hits)


@pytest.mark.parametrize("rule_id", DOCKER_CASES)
def test_dockerfile_good_does_not_trigger(rule_id):
    assert [f.message for f in _lint(rule_id, "good").findings if f.rule == rule_id] == []
