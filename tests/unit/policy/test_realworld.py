"""Real-world inputs (tests/data/realworld, unedited copies) against checked-in golden findings.

Regenerate after an intended rule change with SHIPLANE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shiplane.policy import evaluate
from shiplane.policy.dockerfile import lint_file
from shiplane.policy.findings import Report
from shiplane.policy.manifests import read

DATA = Path(__file__).parents[2] / "data"
REALWORLD = DATA / "realworld"
GOLDEN = DATA / "golden"


def lines(report: Report) -> str:
    out = []
    for f in report.findings:
        where = f"{Path(f.file).relative_to(REALWORLD).as_posix()}:{f.line}"
        out.append(f"{where} {f.severity} {f.rule} {f.object or '-'} {f.path or '-'} | {f.message}")
    return "\n".join(out) + "\n"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SHIPLANE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.fixture(autouse=True)
def _relative_paths(monkeypatch):
    monkeypatch.chdir(REALWORLD)


@pytest.mark.parametrize("profile", ["baseline", "restricted"])
def test_voting_app_k8s_specifications(profile):
    report = evaluate(read([str(REALWORLD / "example-voting-app" / "k8s-specifications")]), profile=profile)
    check_golden(f"policy-voting-k8s-{profile}.txt", lines(report))


def test_voting_app_fails_the_default_gate_for_limits_tags_and_a_literal_password():
    report = evaluate(read([str(REALWORLD / "example-voting-app" / "k8s-specifications")]))
    failing = {(f.rule, f.object.name) for f in report.failing("high")}
    assert ("secret-in-env", "db") in failing
    assert ("image-tag-missing", "vote") in failing
    limits = {name for rule, name in failing if rule == "resources-memory-limit"}
    assert limits == {"db", "redis", "result", "vote", "worker"}
    # Fewer false alarms: the worker has no Service, so no readiness probe is demanded of it.
    assert not any(f.rule == "probes-readiness-missing" and f.object.name == "worker" for f in report.findings)


def test_compose_and_voting_dockerfiles():
    files = [
        *sorted(REALWORLD.glob("compose/*/**/Dockerfile")),
        *sorted(REALWORLD.glob("example-voting-app/**/Dockerfile")),
    ]
    assert len(files) >= 24
    report = Report(findings=())
    for f in files:
        report = report.merged(lint_file(str(f)))
    check_golden("policy-dockerfiles.txt", lines(report))
