"""`shiplane check` as a user sees it: exit codes, report formats, errors without tracebacks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from shiplane.cli import main

DATA = Path(__file__).parents[2] / "data"
CASES = DATA / "policy-cases"
VOTING_K8S = DATA / "realworld" / "example-voting-app" / "k8s-specifications"
EXAMPLE_SPEC = Path(__file__).parents[3] / "examples" / "voting" / "shiplane.yaml"
CLEAN = CASES / "network-policy-missing" / "good.yaml"
SECRET = CASES / "secret-in-env" / "bad.yaml"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_exit_codes_follow_fail_on(capsys):
    assert run(capsys, str(CLEAN), "-p", "restricted", "--fail-on", "info")[0] == 0
    assert run(capsys, str(VOTING_K8S))[0] == 1
    assert run(capsys, str(VOTING_K8S), "--fail-on", "critical")[0] == 0
    assert run(capsys, str(VOTING_K8S), "--fail-on", "never")[0] == 0


def test_text_report_groups_by_object_lists_fixes_and_a_verdict(capsys):
    code, out, _ = run(capsys, str(VOTING_K8S / "db-deployment.yaml"))
    assert code == 1
    assert f"{VOTING_K8S / 'db-deployment.yaml'}  Deployment/db" in out
    assert "HIGH     resources-memory-limit  memory limit missing: container 'postgres'" in out
    assert "at spec.template.spec.containers[0].resources:18" in out
    assert "fix: Set resources.limits.memory" in out
    assert out.rstrip().endswith("FAIL: 2 at or above high")


def test_secret_values_are_never_printed_in_any_format(capsys):
    for fmt in ("text", "json", "sarif", "junit"):
        code, out, _ = run(capsys, str(SECRET), "-o", fmt)
        assert code == 1 and "DB_PASSWORD" in out and "hunter2" not in out, fmt


def test_json_report(capsys):
    code, out, _ = run(capsys, str(VOTING_K8S), "-o", "json", "--fail-on", "medium")
    doc = json.loads(out)
    assert code == 1 and doc["version"] == 1 and doc["passed"] is False and doc["failOn"] == "medium"
    assert doc["summary"]["objects"] == 9
    assert doc["summary"]["failing"] == doc["summary"]["bySeverity"]["high"] + doc["summary"]["bySeverity"]["medium"]
    [f] = [f for f in doc["findings"] if f["rule"] == "secret-in-env"]
    assert f["object"] == {"kind": "Deployment", "namespace": None, "name": "db"}
    assert f["path"] == "spec.template.spec.containers[0].env[1].value" and f["line"] == 24
    assert f["file"].endswith("db-deployment.yaml") and f["why"] and f["fix"]


def test_sarif_validates_against_the_official_schema_and_has_regions(capsys, tmp_path):
    annotated = tmp_path / "annotated.yaml"
    annotated.write_text(
        (CASES / "suppression-reason-missing" / "good.yaml").read_text()  # one suppressed finding
    )
    code, out, _ = run(capsys, str(VOTING_K8S), str(annotated), "-o", "sarif")
    assert code == 1
    doc = json.loads(out)
    schema = json.loads((DATA / "policy-sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    run_ = doc["runs"][0]
    rules = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    for result in run_["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
    [suppressed] = [r for r in run_["results"] if "suppressions" in r]
    assert suppressed["suppressions"][0]["justification"] == "leader election keeps one"


def test_junit_report(capsys):
    code, out, _ = run(capsys, str(VOTING_K8S), "-o", "junit")
    root = ET.fromstring(out)
    failures = root.findall(".//failure")
    assert code == 1 and root.tag == "testsuites"
    assert int(root.get("failures")) == len(failures) == 9 + 1  # 9 high findings + the gate
    suite = root.find("testsuite[@name='Deployment/db']")
    assert (
        suite is not None
        and suite.find("testcase[@name='secret-in-env spec.template.spec.containers[0].env[1].value']") is not None
    )


def test_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO((VOTING_K8S / "vote-deployment.yaml").read_text()))
    code, out, _ = run(capsys, "-", "-o", "json")
    findings = json.loads(out)["findings"]
    assert code == 1 and {f["file"] for f in findings} == {"<stdin>"}


def test_bad_input_exits_2_with_file_and_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n")
    code, out, err = run(capsys, str(bad))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {bad}:5:1: invalid YAML") and "Traceback" not in err
    assert run(capsys, str(tmp_path / "missing.yaml"))[0] == 2
    code, _, err = run(capsys)
    assert code == 2 and "nothing to check" in err
    code, _, err = run(capsys, str(CLEAN), "--profile", "nope")
    assert code == 2 and "unknown profile 'nope'" in err


def test_dockerfile_lint_with_inline_suppression(capsys, tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.12\n"
        "# shiplane ignore=DL3042 wheels are cached in a mounted volume\n"
        "RUN pip install -r requirements.txt\n"
        "RUN apt-get update && apt-get install -y gcc\n"
        "CMD python app.py\n"
    )
    code, out, _ = run(capsys, "--dockerfile", str(dockerfile), "-o", "json", "--fail-on", "medium")
    doc = json.loads(out)
    found = {(f["rule"], f["line"]) for f in doc["findings"]}
    assert code == 1 and doc["summary"]["dockerfiles"] == 1
    assert {("dockerfile-build-tools-in-final-stage", 4), ("DL3025", 5), ("DL3015", 4), ("DL3009", 4)} <= found
    assert [(s["rule"], s["reason"], s["source"]) for s in doc["suppressed"]] == [
        ("DL3042", "wheels are cached in a mounted volume", "inline")
    ]


def test_dockerfile_that_is_not_one_is_bad_input(capsys, tmp_path):
    junk = tmp_path / "Dockerfile"
    junk.write_text("RUN echo before any FROM\n")
    code, _, err = run(capsys, "--dockerfile", str(junk))
    assert code == 2 and f"{junk}:1: RUN before the first FROM" in err


def test_stage_checks_the_rendered_objects_and_points_at_the_spec(capsys, monkeypatch):
    monkeypatch.delenv("VOTING_POSTGRES_PASSWORD", raising=False)  # secrets are not needed to check
    code, out, _ = run(capsys, "--stage", "prod", "-f", str(EXAMPLE_SPEC), "-o", "json", "--fail-on", "critical")
    doc = json.loads(out)
    assert code == 0 and doc["summary"]["objects"] > 10
    assert {Path(f["file"]).resolve() for f in doc["findings"]} == {EXAMPLE_SPEC.resolve()}
    assert all(f["line"] for f in doc["findings"])
    assert not [f for f in doc["findings"] if f["rule"].startswith(("resources-memory", "security-privileged"))]


def test_list_rules(capsys):
    code, out, _ = run(capsys, "--list-rules", "--profile", "lenient")
    assert code == 0
    assert "resources-memory-limit" in out and "DL3002" in out
    assert any(line.startswith("availability-replicas") and " off " in line for line in out.splitlines())


def test_console_script_exit_code():
    out = subprocess.run(
        [sys.executable, "-m", "shiplane", "check", str(VOTING_K8S), "-o", "json"], capture_output=True, text=True
    )
    assert out.returncode == 1 and json.loads(out.stdout)["passed"] is False


def test_spec_service_annotations_suppress_through_the_pod_template(capsys, tmp_path):
    # The example suppresses image-tag-latest with a reason; replace it for result, reword it for worker.
    overlay = tmp_path / "policy.yaml"
    overlay.write_text(
        "services:\n  result:\n    annotations:\n"
        '      check.shiplane.io/ignore: "probes-liveness-missing: its readiness probe is enough"\n'
        "  worker:\n    annotations:\n"
        '      check.shiplane.io/ignore: "image-tag-latest: upstream publishes only latest"\n'
    )
    code, out, _ = run(capsys, "--stage", "prod", "-f", str(EXAMPLE_SPEC), "-f", str(overlay), "-o", "json")
    doc = json.loads(out)
    latest = {f["object"]["name"] for f in doc["findings"] if f["rule"] == "image-tag-latest"}
    assert latest == {"result"}  # no longer suppressed, so it fails
    assert ("worker", "upstream publishes only latest") in [
        (s["object"]["name"], s["reason"]) for s in doc["suppressed"]
    ]
    assert code == 1


def test_fail_on_never_reports_but_passes(capsys):
    code, out, _ = run(capsys, str(VOTING_K8S), "-o", "json", "--fail-on", "never")
    doc = json.loads(out)
    assert code == 0 and doc["passed"] is True and doc["failOn"] == "never" and doc["findings"]
    code, out, _ = run(capsys, str(VOTING_K8S), "-o", "junit", "--fail-on", "never")
    assert code == 0 and ET.fromstring(out).findall(".//failure") == []


def test_bad_kubernetes_version_is_an_input_error(capsys):
    code, _, err = run(capsys, str(CLEAN), "--kubernetes-version", "one.thirty")
    assert code == 2 and "Kubernetes version 'one.thirty' should look like 1.30" in err
    code, _, err = run(capsys, str(CLEAN), "-p", "restricted@x")
    assert code == 2 and "the version must look like 1.30" in err


def test_a_stage_sets_its_own_strictness(capsys, tmp_path):
    # The example's dev stage blocks only on critical findings; a stricter overlay makes it fail.
    code, out, _ = run(capsys, "--stage", "dev", "-f", str(EXAMPLE_SPEC), "-o", "json")
    assert code == 0 and json.loads(out)["failOn"] == "critical"
    strict = tmp_path / "strict.yaml"
    strict.write_text("stages:\n  dev:\n    policy: {profile: restricted, failOn: low}\n")
    code, out, _ = run(capsys, "--stage", "dev", "-f", str(EXAMPLE_SPEC), "-f", str(strict), "-o", "json")
    doc = json.loads(out)
    assert code == 1 and doc["failOn"] == "low" and doc["profile"].startswith("restricted")
    code, out, _ = run(capsys, "--stage", "dev", "-f", str(EXAMPLE_SPEC), "-f", str(strict), "--fail-on", "never")
    assert code == 0  # the command line wins over the stage
