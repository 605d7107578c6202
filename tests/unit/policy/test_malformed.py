"""Malformed objects are bad input (exit 2, file:line and field), never a traceback or a finding."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from shiplane.cli import main
from shiplane.errors import InputError, InputErrors
from shiplane.policy import RULES, evaluate
from shiplane.policy.manifests import parse
from shiplane.policy.profiles import Profile

CASES = Path(__file__).parents[2] / "data" / "policy-cases"
EVERY_RULE = Profile("all", "", {r.id: r.severity for r in RULES})

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
{meta}spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: "nginx:1.27"}}]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiVersion: v1\nkind: List\nitems: 5\n", "m.yaml:1: List: items: expected a list of objects"),
        (
            DEPLOYMENT.format(meta="  namespace: [a, b]\n", replicas=1),
            "m.yaml:5: Deployment/web: metadata.namespace: expected a string, found a list",
        ),
        (
            DEPLOYMENT.format(meta="  annotations: [a, b]\n", replicas=1),
            "m.yaml:5: Deployment/web: metadata.annotations: expected a mapping, found a list",
        ),
        (
            DEPLOYMENT.format(meta="", replicas=1)
            + "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\n"
            "spec:\n  minReplicas: .inf\n  maxReplicas: 3\n  scaleTargetRef: {kind: Deployment, name: web}\n",
            "m.yaml:17: HorizontalPodAutoscaler/web: spec.minReplicas: expected an integer, "
            "found an infinite or NaN number",
        ),
        (
            DEPLOYMENT.format(meta="", replicas=2**40),
            "m.yaml:6: Deployment/web: spec.replicas: out of range for int32",
        ),
        (
            DEPLOYMENT.format(meta="  labels: {version: 1.0}\n", replicas=1),
            "m.yaml:5: Deployment/web: metadata.labels.version: expected a string, found a number",
        ),
        (
            DEPLOYMENT.format(meta="", replicas=1).replace("containers: [", "containers: [null, "),
            "m.yaml:11: Deployment/web: spec.template.spec.containers[0]: expected a value, found null",
        ),
    ],
    ids=["items-5", "namespace-list", "annotations-list", "min-replicas-inf", "int32", "label-number", "null-item"],
)
def test_check_reports_malformed_objects_as_input_errors(
    text: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(text)
    rc = main(["check", "m.yaml"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    assert expected in err


def test_secret_values_never_quoted() -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: [hunter2-planted]}\n"
    with pytest.raises(InputErrors) as err:
        evaluate(parse(text, "s.yaml"))
    assert "data.password: expected a string, found a list" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_nulls_read_as_unset() -> None:
    """`field: null` is what the API server calls unset: evaluated, not refused."""
    text = (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, annotations: null}\nspec: null\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: null, ports: null}\n"
    )
    report = evaluate(parse(text, "n.yaml"), profile=EVERY_RULE)
    assert {f.rule for f in report.findings} >= {"cronjob-deadline-missing", "cronjob-concurrency-allowed"}


def test_unquoted_dates_are_strings_as_the_api_server_reads_them() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {deployed: 2024-01-01}}\n"
    assert evaluate(parse(text, "c.yaml")).objects == 1


def test_number_and_boolean_keys_are_strings_as_the_api_server_reads_them() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {1: a, on: b}}\ndata: {2: x}\n"
    assert evaluate(parse(text, "c.yaml")).objects == 1


def test_custom_resources_checked_only_for_metadata() -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {replicas: lots, x: [1]}\n"
    assert evaluate(parse(text, "w.yaml")).objects == 1
    with pytest.raises(InputErrors, match=r"metadata\.labels: expected a mapping"):
        evaluate(parse(text.replace("{name: w}", "{name: w, labels: [a]}"), "w.yaml"))


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


WRONG = [None, 5, "x", [], {}, 1.5, True, float("inf"), [None], {"a": None}, 2**40]


@pytest.mark.parametrize(
    "case",
    ["availability-pdb-blocks-eviction/bad.yaml", "security-capabilities-not-dropped/bad.yaml",
     "network-policy-selects-nothing/bad.yaml", "host-path/bad.yaml", "cronjob-concurrency-allowed/bad.yaml"],
)  # fmt: skip
def test_any_wrong_value_anywhere_is_a_report_or_an_input_error(case: str) -> None:
    """Every field of real case objects replaced by values of every wrong type: the engine either
    evaluates or names the field; no rule ever meets an object it cannot read."""
    objects = [m.obj for m in parse((CASES / case).read_text(), case)]
    runs = 0
    for i, obj in enumerate(objects):
        for path in list(_paths(obj))[1:]:
            for value in WRONG:
                mutated = copy.deepcopy(objects)
                target = mutated[i]
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = value
                runs += 1
                try:
                    evaluate(mutated, profile=EVERY_RULE)
                except InputError as err:
                    assert "could not read" not in str(err), (path, value, str(err))
    assert runs > 100
