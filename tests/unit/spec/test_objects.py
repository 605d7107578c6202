"""The spec's `objects:`: inline and included objects, rendered as they are with shiplane's labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane import policy, rendering, schemas, spec
from shiplane.errors import InputError
from shiplane.spec.inputs import gather

SPEC = """\
app: {name: shop}
services:
  web: {image: "nginx:1.27", ports: {http: 8080}, resources: {limits: {cpu: 100m, memory: 64Mi}}}
stages:
  dev: {namespace: shop-dev}
objects:
  - apiVersion: v1
    kind: ServiceAccount
    metadata: {name: web-identity, namespace: elsewhere, annotations: {example.com/role: reader}, uid: x}
  - include: objects/*.yaml
"""
INCLUDED = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: shop-everything}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: widgets, singular: widget, kind: Widget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: big}
spec: {size: 3}
"""


def _render(tmp_path: Path, text: str = SPEC, included: str | None = INCLUDED) -> list[dict]:
    (tmp_path / "shiplane.yaml").write_text(text)
    if included is not None:
        (tmp_path / "objects").mkdir(exist_ok=True)
        (tmp_path / "objects" / "a.yaml").write_text(included)
    stage = spec.load([tmp_path / "shiplane.yaml"]).stage("dev")
    return rendering.render(stage, gather(stage, {}))


def test_objects_render_verbatim_with_labels_namespace_and_order(tmp_path: Path) -> None:
    objects = _render(tmp_path)
    by = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    sa = by[("ServiceAccount", "web-identity")]
    assert sa["metadata"]["namespace"] == "shop-dev"  # the stage's, not the file's
    assert "uid" not in sa["metadata"]
    assert sa["metadata"]["annotations"] == {"example.com/role": "reader"}
    assert sa["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "shiplane"
    assert sa["metadata"]["labels"]["shiplane.io/stage"] == "dev"
    assert "namespace" not in by[("ClusterRole", "shop-everything")]["metadata"]
    assert "namespace" not in by[("Widget", "big")]["metadata"]  # its CRD says scope: Cluster
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "CustomResourceDefinition" and kinds[-1] == "Widget"
    schemas.validate(objects, "1.36")  # the Widget is skipped: its schema is its CRD's
    assert schemas.unvalidated(objects) == [
        "Widget big: a custom resource of a CustomResourceDefinition in the same spec; no offline schema "
        "check (the API server validates it against its CRD)"
    ]
    report = policy.evaluate(objects)
    assert any(f.rule == "rbac-wildcard" and f.object.name == "shop-everything" for f in report.findings)


def test_objects_schema_errors_are_reported(tmp_path: Path) -> None:
    bad = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\nautomountServiceAccountToken: maybe\n"
    objects = _render(tmp_path, included=bad)
    with pytest.raises(InputError, match="ServiceAccount x: automountServiceAccountToken"):
        schemas.validate(objects, "1.36")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("- {kind: ServiceAccount, metadata: {name: x}}", "an object needs apiVersion"),
        ("- {apiVersion: v1, kind: ServiceAccount, metadata: {name: X_Y}}", "metadata.name must be a DNS subdomain"),
        ("- {include: ../outside/*.yaml}", "inside it"),
        ("- 5", "Input should be a valid dictionary"),
    ],
)
def test_bad_object_entries_name_the_field(tmp_path: Path, entry: str, message: str) -> None:
    text = SPEC.split("objects:")[0] + "objects:\n  " + entry + "\n"
    with pytest.raises(InputError) as err:
        _render(tmp_path, text, included=None)
    assert "objects" in str(err.value) and message in str(err.value)
    assert err.value.exit_code == 2


def test_an_include_that_matches_nothing_or_is_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"objects\[1\]\.include 'objects/\*\.yaml': no file matches"):
        _render(tmp_path, included=None)
    with pytest.raises(InputError, match=r"objects/a\.yaml: document 1: expected a Kubernetes object"):
        _render(tmp_path, included="just: a map\n")
