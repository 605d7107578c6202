"""Reading Kubernetes YAML: objects keep file and line; bad input names file:line."""

from __future__ import annotations

import pytest

from shiplane.errors import InputErrors
from shiplane.policy import evaluate
from shiplane.policy.manifests import parse, read

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: app
      image: nginx:1.27
      securityContext:
        privileged: true
"""


def test_multi_document_stream_keeps_each_objects_line():
    text = POD.format(name="a") + "---\n" + POD.format(name="b")
    objs = parse(text, "pods.yaml")
    assert [(m.obj["metadata"]["name"], m.line) for m in objs] == [("a", 1), ("b", 12)]


def test_finding_points_at_the_offending_field():
    report = evaluate(parse("# leading comment\n" + POD.format(name="a"), "pod.yaml"))
    [f] = [f for f in report.findings if f.rule == "security-privileged"]
    assert (f.file, f.line, f.path) == ("pod.yaml", 11, "spec.containers[0].securityContext.privileged")


def test_kind_list_is_flattened_with_item_lines():
    text = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        "  - " + POD.format(name=n).replace("\n", "\n    ").rstrip() + "\n" for n in ("a", "b")
    )
    objs = parse(text, "list.yaml")
    assert [m.obj["metadata"]["name"] for m in objs] == ["a", "b"]
    assert objs[1].line == 14
    assert objs[1].line_of(("spec", "containers", 0, "securityContext", "privileged")) == 23


def test_every_problem_is_reported_with_file_and_line():
    text = "apiVersion: v1\nkind: Pod\n---\n- just\n- a list\n---\nkind: Service\nmetadata: {name: x}\n"
    with pytest.raises(InputErrors) as err:
        parse(text, "bad.yaml")
    assert err.value.problems == [
        "bad.yaml:1: not a Kubernetes object: missing metadata.name",
        "bad.yaml:4: expected a Kubernetes object (a mapping), found list",
        "bad.yaml:7: not a Kubernetes object: missing apiVersion",
    ]


def test_invalid_yaml_names_line_and_column():
    with pytest.raises(InputErrors) as err:
        parse("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n", "broken.yaml")
    assert err.value.problems[0].startswith("broken.yaml:4:1: invalid YAML")


def test_directories_are_read_recursively_and_sorted(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text(POD.format(name="b"))
    (tmp_path / "a.yml").write_text(POD.format(name="a"))
    (tmp_path / "notes.txt").write_text("not yaml")
    assert [m.obj["metadata"]["name"] for m in read([str(tmp_path)])] == ["a", "b"]


def test_malformed_object_is_an_input_error_not_a_crash():
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
        "spec:\n  template:\n    spec:\n      containers: [{name: a, env: 3}]\n"
    )
    with pytest.raises(InputErrors) as err:
        evaluate(parse(text, "d.yaml"))
    assert err.value.problems == [
        "d.yaml:7: Deployment/x: spec.template.spec.containers[0].env: expected a list, found an integer"
    ]


def test_reading_and_checking_leave_the_garbage_collector_as_they_found_it(tmp_path):
    import gc

    (tmp_path / "pod.yaml").write_text(POD.format(name="a"))
    assert gc.isenabled()
    evaluate(read([str(tmp_path)]))
    assert gc.isenabled()
    gc.disable()
    try:
        evaluate(read([str(tmp_path)]))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_check_of_valid_objects_does_not_import_python_jsonschema(tmp_path):
    """Its import costs up to 1.5 s of CPU; only a schema failure needs it (to explain the failure)."""
    import json
    import subprocess
    import sys

    (tmp_path / "pod.yaml").write_text(POD.format(name="a"))
    probe = (
        "import sys, contextlib, io\n"
        "from shiplane.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main(['check', {str(tmp_path)!r}, '-o', 'json', '--fail-on', 'never'])\n"
        "import json; print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] == 'jsonschema')]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    code, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0
    assert loaded == []
