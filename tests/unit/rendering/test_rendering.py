"""Rendering behaviour users rely on: determinism, rollouts on change, stable selectors, secrets."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from shiplane import rendering, schemas, spec
from shiplane.cli import main
from shiplane.errors import InputError
from shiplane.rendering import exporting
from shiplane.spec.inputs import gather

SPEC = """\
app: {name: demo, version: "VERSION"}
defaults:
  resources:
    limits: {cpu: 100m, memory: 64Mi}
secrets:
  token: {fromEnv: DEMO_TOKEN}
services:
  web:
    image: nginx:1.27
    replicas: 2
    ports: {http: 8080}
    env:
      GREETING: GREETING_VALUE
      TOKEN: {secret: token}
stages:
  dev: {namespace: demo-dev}
"""


def render(tmp_path: Path, *, version="1.0", greeting="hello", token="t0ken", namespace=None):
    path = tmp_path / "shiplane.yaml"
    path.write_text(SPEC.replace("VERSION", version).replace("GREETING_VALUE", greeting))
    stage = spec.load([path]).stage("dev")
    return rendering.render(stage, gather(stage, {"DEMO_TOKEN": token}), namespace=namespace)


def find(objs, kind, name=None):
    return next(o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    assert exporting.to_stream(render(tmp_path)) == exporting.to_stream(render(tmp_path))


def test_config_change_renames_configmap_and_rolls_pods(tmp_path: Path) -> None:
    before, after = render(tmp_path, greeting="hello"), render(tmp_path, greeting="bonjour")
    cm_before, cm_after = find(before, "ConfigMap")["metadata"]["name"], find(after, "ConfigMap")["metadata"]["name"]
    assert cm_before != cm_after and cm_before.startswith("web-env-")
    pod = find(after, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert pod["envFrom"] == [{"configMapRef": {"name": cm_after}}]


def test_secret_rotation_renames_secret_and_rolls_pods(tmp_path: Path) -> None:
    before, after = render(tmp_path, token="one"), render(tmp_path, token="two")
    name_after = find(after, "Secret")["metadata"]["name"]
    assert find(before, "Secret")["metadata"]["name"] != name_after
    env = find(after, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": name_after, "key": "value"}}}]
    assert base64.b64decode(find(after, "Secret")["data"]["value"]) == b"two"


def test_selectors_do_not_change_with_the_version(tmp_path: Path) -> None:
    v1, v2 = render(tmp_path, version="1.0"), render(tmp_path, version="2.0")
    assert find(v1, "Deployment")["spec"]["selector"] == find(v2, "Deployment")["spec"]["selector"]
    labels = find(v2, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "2.0"
    assert "app.kubernetes.io/version" not in find(v2, "Deployment")["spec"]["selector"]["matchLabels"]
    # the selector really selects the pods
    assert find(v2, "Deployment")["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_every_object_has_the_standard_labels(tmp_path: Path) -> None:
    for o in render(tmp_path):
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "shiplane"
        assert labels["app.kubernetes.io/part-of"] == "demo"
        assert labels["shiplane.io/stage"] == "dev"


def test_namespace_override(tmp_path: Path) -> None:
    assert {o["metadata"]["namespace"] for o in render(tmp_path, namespace="elsewhere")} == {"elsewhere"}


def test_pdb_only_with_more_than_one_replica(tmp_path: Path) -> None:
    assert find(render(tmp_path), "PodDisruptionBudget", "web")["spec"]["maxUnavailable"] == 1


def test_masking_hides_values_but_keeps_names(tmp_path: Path) -> None:
    objs = render(tmp_path, token="very-secret")
    masked = exporting.mask_secrets(objs)
    text = exporting.to_stream(masked)
    assert "very-secret" not in text and base64.b64encode(b"very-secret").decode() not in text
    assert find(masked, "Secret")["metadata"]["name"] == find(objs, "Secret")["metadata"]["name"]
    assert find(objs, "Secret")["data"]["value"] != exporting.MASK  # the original is untouched


def test_cli_masks_secrets_unless_asked(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "shiplane.yaml").write_text(SPEC.replace("VERSION", "1").replace("GREETING_VALUE", "hi"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEMO_TOKEN", "cli-secret")
    encoded = base64.b64encode(b"cli-secret").decode()
    assert main(["render", "--stage", "dev"]) == 0
    out, err = capsys.readouterr()
    assert encoded not in out and "cli-secret" not in out + err
    assert main(["render", "--stage", "dev", "--show-secrets"]) == 0
    assert encoded in capsys.readouterr().out


def test_missing_secret_env_var_names_secret_and_variable(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "shiplane.yaml").write_text(SPEC.replace("VERSION", "1").replace("GREETING_VALUE", "hi"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEMO_TOKEN", raising=False)
    assert main(["render", "--stage", "dev"]) == 2
    assert "secret 'token': environment variable DEMO_TOKEN is not set" in capsys.readouterr().err


def test_output_dir_one_file_per_object_and_stale_files_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.yaml").write_text("# hand-written, not ours\n")
    first = exporting.write_dir(render(tmp_path, greeting="a"), out)
    assert (out / "deployment-web.yaml").exists()
    old_cm = next(p for p in first if p.name.startswith("configmap-web-env-"))
    second = exporting.write_dir(render(tmp_path, greeting="b"), out)
    assert not old_cm.exists()  # a stale generated file is removed
    assert (out / "mine.yaml").exists()  # a file we did not write is kept
    assert sorted(p.name for p in out.glob("*.yaml")) == sorted([*(p.name for p in second), "mine.yaml"])
    for p in second:
        assert yaml.safe_load(p.read_text())["metadata"]["name"]


def test_schema_errors_name_object_and_field() -> None:
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "broken"},
        "spec": {"replicas": "three", "selector": {}, "template": {}, "bogus": 1},
    }
    found = schemas.problems([bad], "1.36")
    assert any(p.startswith("Deployment broken: spec.replicas:") for p in found)
    assert any(p.startswith("Deployment broken: spec:") and "bogus" in p for p in found)
    with pytest.raises(InputError):
        schemas.validate([bad], "1.36")


def test_schema_errors_never_show_secret_values() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}, "typo": 1}
    found = schemas.problems([secret], "1.36")
    assert found and "c2VjcmV0" not in "\n".join(found)


def test_schema_command_prints_json_schema(capsys) -> None:
    import json

    assert main(["schema"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"app", "services", "stages"} <= set(doc["properties"])
    assert doc["$defs"]["Service"]["additionalProperties"] is False


def test_with_the_stage_key_secret_names_and_digests_are_keyed(tmp_path: Path) -> None:
    import hashlib

    from shiplane.rendering.meta import content_hash

    path = tmp_path / "shiplane.yaml"
    path.write_text(SPEC.replace("VERSION", "1").replace("GREETING_VALUE", "hi"))
    stage = spec.load([path]).stage("dev")

    def keyed(token: str, key: bytes) -> dict:
        return find(rendering.render(stage, gather(stage, {"DEMO_TOKEN": token}, digest_key=key)), "Secret")

    one, again = keyed("hunter2", b"a" * 32), keyed("hunter2", b"a" * 32)
    data = {"value": base64.b64encode(b"hunter2").decode()}
    plain = content_hash({"kind": "Secret", "data": data})
    assert one["metadata"]["name"] == again["metadata"]["name"] != f"token-{plain}"
    assert one["metadata"]["name"].startswith("token-") and len(one["metadata"]["name"]) == len("token-") + 10
    assert keyed("hunter3", b"a" * 32)["metadata"]["name"] != one["metadata"]["name"]  # a new value rolls pods
    assert keyed("hunter2", b"b" * 32)["metadata"]["name"] != one["metadata"]["name"]  # another stage's key
    digest = one["metadata"]["annotations"]["shiplane.io/data-digest"]
    assert digest.startswith("hmac-sha256:") and hashlib.sha256(b"hunter2").hexdigest()[:16] not in digest
