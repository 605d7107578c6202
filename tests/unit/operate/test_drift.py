"""Drift, pure: only fields the release set are compared, managers are named, Secret values never shown."""

from __future__ import annotations

import base64
import json

from shiplane.observing.drift import drift_one, owned_paths, project
from shiplane.releases.record import DIGEST, strip_secret, with_digest

NS = "shop-dev"


def deployment(replicas=2, image="nginx:1.27", **meta) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "labels": {"app": "web"}, **meta},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {"containers": [{"name": "web", "image": image, "env": [{"name": "A", "value": "1"}]}]}
            },
        },
    }


def live_of(obj: dict, *managed) -> dict:
    """As the server returns it: defaults added, no kind (lists omit it), managedFields."""
    out = json.loads(json.dumps(obj))
    out.pop("kind")
    out["metadata"].update(resourceVersion="9", uid="u", managedFields=list(managed))
    out["spec"]["strategy"] = {"type": "RollingUpdate"}  # a server default: not drift
    out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    out["status"] = {"readyReplicas": 2}
    return out


SHIPLANE = {"manager": "shiplane", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}


def test_server_defaults_and_status_are_not_drift():
    assert not drift_one(deployment(), live_of(deployment(), SHIPLANE)).drifted


def test_a_field_another_manager_changed_is_named_with_it():
    edited = {
        "manager": "kubectl-edit",
        "operation": "Update",
        "fieldsV1": {
            "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}}}}}
        },
    }
    scaler = {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "subresource": "scale",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
    }
    status = {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "subresource": "status",
        "fieldsV1": {"f:status": {}},
    }
    found = drift_one(
        deployment(), live_of(deployment(replicas=5, image="nginx:1.99"), SHIPLANE, edited, scaler, status)
    )
    changes = {f.change.path: f for f in found.changed}
    assert set(changes) == {"spec.replicas", "spec.template.spec.containers[0].image"}
    assert changes["spec.replicas"].managers == ("kube-controller-manager (Update scale)",)
    assert changes["spec.template.spec.containers[0].image"].managers == ("kubectl-edit (Update)",)
    assert changes["spec.replicas"].render() == "~ spec.replicas: 2 -> 5  (by kube-controller-manager (Update scale))"


def test_a_field_the_release_did_not_set_is_reported_as_added_by_its_manager():
    labelled = {
        "manager": "kubectl-label",
        "operation": "Update",
        "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}},
    }
    live = live_of(deployment(), SHIPLANE, labelled)
    live["metadata"]["labels"]["team"] = "night"
    found = drift_one(deployment(), live)
    assert not found.changed
    assert [(f.change.path, f.change.new, f.managers) for f in found.added] == [
        ("metadata.labels.team", "night", ("kubectl-label (Update)",))
    ]


def test_list_items_are_matched_by_name_not_position():
    applied = deployment()
    applied["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy"})
    live = live_of(applied)
    live["spec"]["template"]["spec"]["containers"].reverse()
    assert not drift_one(applied, live).drifted
    assert project([{"name": "a", "x": 1}], [{"name": "a", "x": 1, "y": 2}]) == [{"name": "a", "x": 1}]


def test_a_missing_object_is_drift():
    assert drift_one(deployment(), None).missing


def _secret(value: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api-key-0123456789", "namespace": NS},
        "data": {"value": base64.b64encode(value.encode()).decode()},
    }


KEY = b"k" * 32  # the stage's digest key


def test_a_secret_is_compared_by_digest_and_its_values_never_appear():
    applied = strip_secret(_secret("old-hunter2"), KEY)  # as the release record keeps it
    same = {**_secret("old-hunter2"), "type": "Opaque"}
    assert not drift_one(applied, same, key=KEY).drifted
    writer = {"manager": "vault-sync", "operation": "Update", "fieldsV1": {"f:data": {"f:value": {}, "f:extra": {}}}}
    rotated = _secret("new-hunter2")
    rotated["data"]["extra"] = base64.b64encode(b"also-secret").decode()
    rotated["metadata"]["managedFields"] = [writer]
    found = drift_one(applied, rotated, key=KEY)
    assert found.drifted
    text = json.dumps(found.to_json()) + " ".join(f.render() for f in (*found.changed, *found.added))
    for value in ("new-hunter2", "old-hunter2", "also-secret", rotated["data"]["value"], rotated["data"]["extra"]):
        assert value not in text
    assert "values changed" in text


def test_without_the_key_a_live_secret_is_compared_by_the_digest_it_carries():
    applied = strip_secret(with_digest(_secret("old-hunter2"), KEY))
    assert not drift_one(applied, with_digest(_secret("old-hunter2"), KEY)).drifted
    changed = drift_one(applied, with_digest(_secret("new-hunter2"), KEY))
    assert [f.render() for f in changed.changed] == ["~ data: *** -> *** (values changed)"]
    # a record from before digests were keyed: its plain digest is no evidence either way
    old = {**applied, "metadata": {**applied["metadata"], "annotations": {DIGEST: "0123456789abcdef"}}}
    assert not drift_one(old, with_digest(_secret("old-hunter2"), KEY)).drifted


def test_owned_paths_resolve_keyed_items_to_their_index_in_the_applied_object():
    applied = deployment()["spec"]
    fields = {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}, "f:tty": {}}}}}}
    assert owned_paths(fields, applied, "spec") == [
        ("spec.template.spec.containers[0].image", True),
        ("spec.template.spec.containers[0].tty", False),
    ]


def test_replicas_an_autoscaler_of_the_release_owns_are_not_drift_a_foreign_ones_are():
    from shiplane.observing.drift import drift

    applied = deployment()
    del applied["spec"]["replicas"]  # shiplane leaves the count to the HPA it renders
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}},
    }
    scaler = {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "subresource": "scale",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
    }
    live = live_of(deployment(replicas=7), scaler)
    from shiplane.kube import Ref

    with_hpa = drift([applied, hpa], {Ref.of(applied): live, Ref.of(hpa): {**hpa, "metadata": {**hpa["metadata"]}}})
    assert not with_hpa[0].drifted
    without = drift([applied], {Ref.of(applied): live})
    assert [f.change.path for f in without[0].added] == ["spec.replicas"]


def test_an_added_label_with_dots_in_its_key_shows_its_live_value():
    labelled = {
        "manager": "kubectl-label",
        "operation": "Update",
        "fieldsV1": {"f:metadata": {"f:labels": {"f:team.example.com/owner": {}}}},
    }
    live = live_of(deployment(), labelled)
    live["metadata"]["labels"]["team.example.com/owner"] = "night"
    (added,) = drift_one(deployment(), live).added
    assert (added.change.path, added.change.new) == ("metadata.labels.team.example.com/owner", "night")
