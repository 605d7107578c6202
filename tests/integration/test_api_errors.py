"""API refusals from a real kube-apiserver, classified from their Status payload (the unit
tests in tests/unit/test_errors.py use copies of these shapes)."""

from __future__ import annotations

import time

import pytest

from shiplane.errors import Conflict, KubeError
from shiplane.kube import Ref

pytestmark = pytest.mark.integration


def deployment(namespace: str, app: str, image: str = "nginx:1.27") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def refusal(call, *args, **kwargs) -> KubeError:
    with pytest.raises(KubeError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_immutable_selector_and_plain_invalid(local_cluster, namespace):
    kube = local_cluster.kube
    kube.apply(deployment(namespace, "web"))
    err = refusal(kube.apply, deployment(namespace, "web2"))
    assert (err.reason, err.code) == ("Invalid", 422)
    assert [c.field for c in err.causes] == ["spec.selector"]
    assert err.is_immutable and not err.is_conflict
    bad = deployment(namespace, "web")
    bad["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 70000}]
    invalid = refusal(kube.apply, bad)
    assert invalid.is_invalid and not invalid.is_immutable


def test_statefulset_service_and_configmap_immutables(local_cluster, namespace):
    kube = local_cluster.kube

    def sts(service: str) -> dict:
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": namespace},
            "spec": {
                "serviceName": service,
                "replicas": 1,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "postgres:16"}]},
                },
            },
        }

    kube.apply(sts("db"))
    err = refusal(kube.apply, sts("db-other"))
    assert [(c.reason, c.field) for c in err.causes] == [("FieldValueForbidden", "spec")] and err.is_immutable

    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"ports": [{"port": 80}]},
    }
    ip = kube.apply(service)["spec"]["clusterIP"]
    moved = {**service, "spec": {**service["spec"], "clusterIP": "10.0.0.77" if ip != "10.0.0.77" else "10.0.0.78"}}
    err = refusal(kube.apply, moved)
    assert [c.field for c in err.causes] == ["spec.clusterIPs[0]"] and err.is_immutable

    def cm(value: str) -> dict:
        meta = {"name": "c", "namespace": namespace}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}, "immutable": True}

    kube.apply(cm("1"))
    err = refusal(kube.apply, cm("2"))
    assert [c.field for c in err.causes] == ["data"] and err.is_immutable


def test_field_manager_conflict_already_exists_not_found(local_cluster, namespace):
    kube = local_cluster.kube
    kube.apply(deployment(namespace, "web"))
    kube.resource("apps/v1", "Deployment").server_side_apply(
        body={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}},
        name="web",
        namespace=namespace,
        field_manager="hpa-tuner",
        force_conflicts=True,
    )
    conflict = refusal(kube.apply, deployment(namespace, "web"))
    assert isinstance(conflict, Conflict) and conflict.is_conflict and conflict.is_field_conflict
    assert [c.field for c in conflict.causes] == [".spec.replicas"]

    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "namespace": namespace},
        "spec": {"holderIdentity": "a"},
    }
    kube.create(lease)
    exists = refusal(kube.create, lease)
    assert isinstance(exists, Conflict) and exists.is_already_exists and not exists.is_field_conflict
    stale = kube.get(Ref("coordination.k8s.io/v1", "Lease", "l", namespace))
    kube.replace({**stale, "spec": {"holderIdentity": "b"}})
    moved = refusal(kube.replace, {**stale, "spec": {"holderIdentity": "c"}})  # an old resourceVersion
    assert moved.is_conflict and not moved.is_already_exists and moved.causes == []
    gone = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nope", "namespace": namespace}}
    missing = refusal(kube.replace, {**gone, "metadata": {**gone["metadata"], "resourceVersion": "1"}})
    assert missing.is_not_found and missing.code == 404


def test_quota_refusal_is_forbidden(local_cluster, namespace):
    kube = local_cluster.kube
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "none", "namespace": namespace},
        "spec": {"hard": {"configmaps": "0"}},
    }
    kube.apply(quota)
    deadline = time.monotonic() + 30
    while not (kube.get(Ref("v1", "ResourceQuota", "none", namespace)) or {}).get("status", {}).get("hard"):
        assert time.monotonic() < deadline, "the quota controller never filled in the quota's status"
        time.sleep(0.2)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": namespace}, "data": {}}
    err = refusal(kube.apply, cm)
    assert err.is_forbidden and (err.reason, err.code) == ("Forbidden", 403)
    assert not err.is_immutable and not err.is_conflict


def test_rejected_credentials_exit_3_and_a_good_kubeconfig_passes(local_cluster, tmp_path):
    import yaml

    from tests.integration.deploying import cli, spec, write

    config = yaml.safe_load(local_cluster.kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": "not-a-valid-token"}
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(yaml.safe_dump(config))
    path = write(tmp_path, spec("creds-test"))
    out = cli("status", "-f", str(path), "--stage", "dev", kubeconfig=bad, timeout=60)
    assert out.returncode == 3, out.stderr
    assert "rejected the kubeconfig's credentials (401 Unauthorized)" in out.stderr and "Traceback" not in out.stderr
    assert "not-a-valid-token" not in out.stderr
    good = cli("status", "-f", str(path), "--stage", "dev", kubeconfig=local_cluster.kubeconfig, timeout=60)
    assert good.returncode == 1 and "nothing deployed in shop/dev" in good.stdout, good.stderr
