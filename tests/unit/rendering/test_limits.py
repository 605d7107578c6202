"""Render-time limits: ConfigMap/Secret sizes, -n, and the last guard over every rendered object."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from shiplane import rendering, spec
from shiplane.cli import main
from shiplane.errors import InputErrors
from shiplane.rendering import limits
from shiplane.spec.inputs import gather
from shiplane.spec.limits import MAX_CONFIG_BYTES

SPEC = """\
app: {name: big}
defaults:
  resources:
    limits: {cpu: 100m, memory: 64Mi}
secrets:
  blob: {fromFile: blob.bin}
services:
  web:
    image: ghcr.io/acme/web:1.0
    ports: {http: 8080}
    files:
      /etc/big.dat: {fromFile: big.dat}
      /etc/small.conf: {content: "x = 1"}
      /run/blob: {secret: blob}
  db:
    image: postgres:16
    kind: stateful
    ports: {pg: 5432}
stages:
  dev: {namespace: big-dev}
"""
SMALL = len("x = 1")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("shiplane.yaml").write_text(SPEC)
    Path("big.dat").write_text("a" * 1000)
    Path("blob.bin").write_bytes(b"\x00secret-planted\xff")
    return tmp_path


def _render(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["render", "-s", "dev", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_configmap_at_the_limit_renders_one_byte_more_is_refused(project, capsys) -> None:
    Path("big.dat").write_text("a" * (MAX_CONFIG_BYTES - SMALL))
    rc, out, err = _render(capsys)
    assert rc == 0, err
    assert "kind: ConfigMap" in out
    Path("big.dat").write_text("a" * (MAX_CONFIG_BYTES - SMALL + 1))
    rc, _, err = _render(capsys)
    assert rc == 2
    where = "shiplane.yaml:11:5: services.web.files"
    assert f"{where}: the files ConfigMap of 'web' would hold 1 MiB (1048577 bytes)" in err
    assert "/etc/big.dat (fromFile big.dat) 1024 KiB" in err
    assert "Traceback" not in err


def test_oversized_secret_refused_without_showing_it(project, capsys) -> None:
    Path("blob.bin").write_bytes(b"secret-planted" * 80_000)
    rc, _, err = _render(capsys, "--show-secrets")
    assert rc == 2
    assert "shiplane.yaml:6:3: secrets.blob: secret 'blob' would hold 1.07 MiB (1120000 bytes)" in err
    assert "planted" not in err


@pytest.mark.parametrize("ns", ["Bad_NS", "a" * 64, "-x", "x."])
def test_invalid_namespace_flag_refused(project, capsys, ns: str) -> None:
    rc, out, err = _render(capsys, "-n", ns)
    assert rc == 2 and out == ""
    assert f"-n/--namespace {ns!r}: expected" in err


def test_longest_namespace_accepted(project, capsys) -> None:
    rc, out, err = _render(capsys, "-n", "a" * 63)
    assert rc == 0, err
    assert f"namespace: {'a' * 63}" in out


def test_guard_names_both_sources_of_a_duplicate(project) -> None:
    stage = spec.load([Path("shiplane.yaml")]).stage("dev")
    objects = rendering.render(stage, gather(stage))
    headless = next(o for o in objects if o["metadata"]["name"] == "db-headless")
    impostor = copy.deepcopy(next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "web"))
    impostor["metadata"]["name"] = "db-headless"
    with pytest.raises(InputErrors) as err:
        limits.guard(stage, [*objects, impostor])
    assert err.value.problems == [
        "Service 'db-headless' is rendered twice, from shiplane.yaml:15:3: services.db "
        "and from shiplane.yaml:8:3: services.web; rename one of them"
    ]
    assert headless in objects


def test_guard_checks_names_and_sizes(project) -> None:
    stage = spec.load([Path("shiplane.yaml")]).stage("dev")
    objects = copy.deepcopy(rendering.render(stage, gather(stage)))
    cm = next(o for o in objects if o["kind"] == "ConfigMap")
    cm["data"]["huge"] = "x" * MAX_CONFIG_BYTES
    svc = next(o for o in objects if o["kind"] == "Service")
    svc["metadata"]["name"] = "Web"
    svc["metadata"]["annotations"] = {"a": "x" * 300_000}
    svc["metadata"]["labels"]["team"] = "Platform Team"
    with pytest.raises(InputErrors) as err:
        limits.guard(stage, objects)
    text = str(err.value)
    assert "data total 1 MiB; Kubernetes allows 1 MiB per ConfigMap" in text
    assert "Service 'Web': name: expected a lowercase DNS label" in text
    assert "annotations total 292.97 KiB; Kubernetes allows 256 KiB per object" in text
    assert "labels: label value 'Platform Team': at most 63" in text
