"""Loading files: positions, includes, several -f files, and what the user sees when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane.cli import main
from shiplane.errors import InputError
from shiplane.spec import load
from shiplane.spec.loading import load_source

BASE = """\
app: {name: demo}
defaults:
  resources:
    limits: {cpu: 100m, memory: 64Mi}
services:
  web:
    image: nginx:1.27
stages:
  dev: {namespace: demo-dev}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_marks_point_at_keys(tmp_path: Path) -> None:
    source = load_source([write(tmp_path, "s.yaml", BASE)])
    mark = source.marks[("services", "web", "image")]
    assert (mark.line, mark.col) == (7, 5)


def test_later_files_override_earlier_ones(tmp_path: Path) -> None:
    base = write(tmp_path, "a.yaml", BASE)
    local = write(tmp_path, "b.yaml", "services:\n  web: {replicas: 3}\n")
    stage = load([base, local]).stage("dev")
    assert stage.doc.services["web"].replicas == 3
    assert stage.doc.services["web"].image == "nginx:1.27"


def test_errors_in_a_later_file_name_that_file(tmp_path: Path) -> None:
    base = write(tmp_path, "a.yaml", BASE)
    local = write(tmp_path, "b.yaml", "services:\n  web: {replicas: many}\n")
    with pytest.raises(InputError) as err:
        load([base, local])
    assert "b.yaml:2:9: services.web.replicas" in str(err.value)


def test_include_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "include: [b.yaml]\n")
    write(tmp_path, "b.yaml", "include: [a.yaml]\n")
    with pytest.raises(InputError, match="include cycle"):
        load([tmp_path / "a.yaml"])


def test_missing_include_names_the_including_line(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", BASE + "include: [nope.yaml]\n")
    with pytest.raises(InputError, match=r"a.yaml:10:11: include: no such file 'nope.yaml'"):
        load([tmp_path / "a.yaml"])


def test_spec_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be a mapping"):
        load([write(tmp_path, "s.yaml", "- just\n- a list\n")])


def test_missing_file_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["render", "-f", str(tmp_path / "absent.yaml"), "--stage", "dev"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "absent.yaml: no such file" in err and "Traceback" not in err


def test_yaml_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    text = BASE.replace(
        "  web:\n    image: nginx:1.27\n", "  web: &web\n    image: nginx:1.27\n  api:\n    <<: *web\n    replicas: 2\n"
    )
    stage = load([write(tmp_path, "s.yaml", text)]).stage("dev")
    assert stage.doc.services["api"].image == "nginx:1.27"
    assert stage.doc.services["api"].replicas == 2


def test_a_null_in_a_later_file_or_including_file_deletes_what_came_before(tmp_path):
    base = write(
        tmp_path,
        "base.yaml",
        BASE.replace("    image: nginx:1.27\n", "    image: nginx:1.27\n    annotations: {team: web}\n"),
    )
    drop = write(tmp_path, "drop.yaml", "services:\n  web:\n    annotations: null\n")
    assert "annotations" not in load_source([base, drop]).data["services"]["web"]
    including = write(tmp_path, "main.yaml", "include: [base.yaml]\nservices:\n  web:\n    annotations: null\n")
    assert "annotations" not in load_source([including]).data["services"]["web"]
    assert load_source([base]).data["services"]["web"]["annotations"] == {"team": "web"}
