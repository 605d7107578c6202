"""Preflight on the local control plane: gaps refused in seconds, with nothing written."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from shiplane.actions import desired
from shiplane.actions.deploy import Deploy, Options
from shiplane.actions.gate import Policy
from shiplane.actions.preflight import PreflightFailed
from shiplane.kube import Ref
from tests.integration.deploying import SECRET_VALUE, cli, drain, spec, target, write

NO_GATE = Policy(fail_on="never")  # these tests are about the cluster, not the policy gate

pytestmark = pytest.mark.integration


def nothing_written(kube, namespace: str) -> None:
    assert kube.list("apps/v1", "Deployment", namespace=namespace) == []
    assert kube.list("apps/v1", "StatefulSet", namespace=namespace) == []
    assert kube.list("coordination.k8s.io/v1", "Lease", namespace=namespace) == []
    assert kube.list("v1", "Secret", namespace=namespace, label_selector="shiplane.io/release-of") == []


def test_a_missing_runtime_class_is_refused_before_any_write(local_cluster, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    fresh = f"preflight-{uuid.uuid4().hex[:6]}"  # a namespace nobody created: the deploy must not either
    data = spec(fresh)
    data["services"]["web"]["runtimeClassName"] = "wasmedge-absent"  # no other test creates it
    path = write(tmp_path, data)
    started = time.monotonic()
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    took = time.monotonic() - started
    print(f"\n[preflight runtime-class] deploy refused after {took:.1f}s (exit {out.returncode})\n{out.stderr}")
    assert out.returncode == 2, out.stderr
    assert "preflight found 1 gap(s)" in out.stderr and "nothing was written" in out.stderr
    assert 'RuntimeClass "wasmedge-absent" does not exist in the cluster' in out.stderr
    assert "(Deployment web)" in out.stderr
    assert "fix: install the runtime" in out.stderr and "Traceback" not in out.stderr
    assert kube.get(Ref("v1", "Namespace", fresh)) is None  # no namespace, hence no lock and no record
    # plan shows the same gap (and exits 2); --dry-run is the plan
    for args in (("plan",), ("plan", "-o", "json"), ("deploy", "--dry-run")):
        shown = cli(*args, "-f", str(path), "--stage", "dev", kubeconfig=kc)
        assert shown.returncode == 2, shown.stderr
        shown_name = 'RuntimeClass \\"wasmedge-absent\\"' if "json" in args else "wasmedge-absent"
        assert shown_name in shown.stdout
    report = json.loads(cli("plan", "-o", "json", "-f", str(path), "--stage", "dev", kubeconfig=kc).stdout)
    assert [(g["check"], g["objects"]) for g in report["preflight"]] == [("runtime-class", ["Deployment web"])]
    assert kube.get(Ref("v1", "Namespace", fresh)) is None


def test_quota_limit_range_class_and_capacity_gaps_are_named_together(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "small", "namespace": namespace},
            "spec": {"hard": {"requests.cpu": "300m", "pods": "10"}},
        }
    )
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "bounds", "namespace": namespace},
            "spec": {"limits": [{"type": "Container", "max": {"memory": "64Mi"}}]},
        }
    )
    data = spec(namespace)
    data["services"]["db"]["volumes"]["data"]["persistent"]["storageClass"] = "fast-ssd"
    data["services"]["web"]["public"] = {"host": "shop.example.com", "className": "nginx"}
    data["services"]["worker"] = {
        "image": "busybox:1.36",
        "replicas": 3,
        "resources": {"requests": {"cpu": "40"}, "limits": {"cpu": "40", "memory": "32Mi"}},
    }
    path = write(tmp_path, data)
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    print(f"\n{out.stderr}")
    assert out.returncode == 2, out.stderr
    for expected in (
        'StorageClass "fast-ssd" does not exist',
        'IngressClass "nginx" does not exist',
        "LimitRange bounds (Container): container web limits memory to 128Mi, above the maximum 64Mi",
        "ResourceQuota small: the app needs requests.cpu=120.6, the quota leaves 0.3 (hard 0.3)",
        "capacity: one pod needs more than any node can hold: cpu 40 wanted, 32 available",
        "the app's requests exceed what all 3 schedulable node(s) can hold: cpu 120.6 wanted, 96 available",
    ):
        assert expected in out.stderr
    nothing_written(kube, namespace)
    # --skip-preflight is the escape hatch: the deploy starts (and then fails on the cluster's own terms)
    skipped = cli(
        "deploy", "-f", str(path), "--stage", "dev", "--plain", "--skip-preflight", "--timeout", "5", kubeconfig=kc
    )
    assert skipped.returncode == 1 and "preflight found" not in skipped.stderr
    assert kube.list("v1", "Secret", namespace=namespace, label_selector="shiplane.io/release-of")


def test_unserved_apis_custom_kinds_without_crds_and_a_missing_priority_class(
    local_cluster, namespace, tmp_path, monkeypatch
):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube = local_cluster.kube
    objects = desired.load([write(tmp_path, spec(namespace))], "dev").objects
    for obj in objects:  # no spec field for it; a library caller's objects may have one
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["spec"]["priorityClassName"] = "urgent"
    extra = [
        {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "old", "namespace": namespace}, "spec": {"maxUnavailable": 1}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
         "metadata": {"name": "tls", "namespace": namespace}, "spec": {"secretName": "tls"}},
    ]  # fmt: skip
    started = time.monotonic()
    with pytest.raises(PreflightFailed) as refused:
        drain(Deploy(target(kube, namespace), [*objects, *extra], options=Options(policy=NO_GATE)).run())
    print(f"\n[preflight api/crd] refused after {time.monotonic() - started:.1f}s\n{refused.value.message}")
    checks = {(g.check, g.objects) for g in refused.value.gaps}
    assert checks == {
        ("api", ("PodDisruptionBudget old",)),
        ("crd", ("Certificate tls",)),
        ("priority-class", ("Deployment web",)),
    }
    assert (
        'PriorityClass "urgent" does not exist in the cluster (it has: system-cluster-critical' in refused.value.message
    )
    message = refused.value.message
    assert "does not serve PodDisruptionBudget in policy/v1beta1 (it serves it in policy/v1)" in message
    assert "no CustomResourceDefinition for Certificate in group cert-manager.io" in message
    assert refused.value.exit_code == 2
    nothing_written(kube, namespace)
