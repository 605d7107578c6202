"""Fail-fast on the local control plane: each permanent rollout error ends the wait early.

Real conditions where the real control plane makes them (unschedulable, a missing
RuntimeClass, a ResourceQuota), kwok fault stages for what needs a kubelet (image pulls,
config errors, crash loops). Each test logs its time-to-failure: from the moment the
workload was applied (its cause becomes visible right after) to the failure.
"""

from __future__ import annotations

import re
import time

import pytest

from shiplane.actions import desired
from shiplane.actions.deploy import Deploy, Options
from shiplane.actions.gate import Policy
from shiplane.actions.rollout import RolloutFailed
from shiplane.events import Applied, Note, RolledBack, Step
from shiplane.kube import Ref
from shiplane.localcluster.stages import FAULT
from tests.integration.deploying import SECRET_VALUE, cli, drain, outcomes, spec, target, write

NO_GATE = Policy(fail_on="never")  # these tests are about the cluster, not the policy gate

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)  # in-process deploys render the spec's secret


TIMEOUT = 240.0  # far beyond every grace period: a failure before it is a fail-fast one


def objects_of(tmp_path, data: dict, name: str) -> list[dict]:
    return desired.load([write(tmp_path, data, name)], "dev").objects


def deploy_failing(kube, namespace, objects, *, label: str) -> tuple[str, list]:
    """Run a deploy that must fail; return its message and events; log the time-to-failure."""
    seen: list = []
    applied_at: list[float] = []
    failed_at: list[float] = []

    def on_event(event) -> None:
        seen.append(event)
        if isinstance(event, Applied) and event.ref.startswith(("Deployment", "StatefulSet")) and not applied_at:
            applied_at.append(time.monotonic())
        if isinstance(event, Step) and event.message.startswith("roll back") and not failed_at:
            failed_at.append(time.monotonic())

    started = time.monotonic()
    opts = Options(timeout=TIMEOUT, preflight=False, lock_duration=15, policy=NO_GATE)
    with pytest.raises(RolloutFailed) as failure:
        drain(Deploy(target(kube, namespace), objects, options=opts).run(), on_event)
    ended = time.monotonic()
    failed = failed_at[0] if failed_at else ended
    print(f"\n{failure.value.message}")
    print(
        f"\n[fail-fast {label}] time-to-failure {failed - applied_at[0]:.1f}s after the workload was applied "
        f"(deploy total {ended - started:.1f}s, timeout {TIMEOUT:.0f}s)"
    )
    return failure.value.message, seen


def deploy_good(kube, namespace, tmp_path) -> None:
    drain(Deploy(target(kube, namespace), objects_of(tmp_path, spec(namespace), "good.yaml")).run())


def web_image(kube, ns: str) -> str:
    obj = kube.get(Ref("apps/v1", "Deployment", "web", ns))
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.mark.parametrize(
    ("fault", "rule", "shows"),
    [
        ("image-pull", "image-pull", "ImagePull"),  # ErrImagePull or ImagePullBackOff, as it alternates
        ("config-error", "config-error", 'configmap "missing-config" not found'),
        ("fail", "crash-loop", "CrashLoopBackOff"),
    ],
)
def test_a_pod_fault_fails_fast_and_rolls_back(local_cluster, namespace, tmp_path, fault, rule, shows):
    kube = local_cluster.kube
    deploy_good(kube, namespace, tmp_path)
    bad = objects_of(tmp_path, spec(namespace, tag="1.28", annotations={FAULT: fault}), "bad.yaml")
    message, seen = deploy_failing(kube, namespace, bad, label=fault)
    assert "rollout failed fast" in message and f"fail-fast rule {rule}" in message
    assert "Deployment web: " in message and shows in message and "fix: " in message
    assert "rolled back automatically: revision 3 restores revision 1" in message
    assert any(isinstance(e, RolledBack) and e.ok for e in seen)
    assert web_image(kube, namespace) == "nginx:1.27"
    if rule != "crash-loop":  # rules with a grace period say so while they wait
        assert any(isinstance(e, Note) and e.message.startswith("fail-fast: Deployment web: ") for e in seen)


def test_unschedulable_beyond_any_node_fails_fast(local_cluster, namespace, tmp_path):
    data = spec(namespace)
    data["services"]["web"]["resources"] = {"requests": {"cpu": "40"}, "limits": {"cpu": "40"}}  # nodes have 32
    message, _ = deploy_failing(local_cluster.kube, namespace, objects_of(tmp_path, data, "big.yaml"), label="cpu")
    assert "fail-fast rule unschedulable" in message
    assert re.search(r"cpu 40 wanted, 3[12](\.\d+)? available", message), message  # other pods take some room
    assert "Insufficient cpu" in message
    assert "nothing to roll back to" in message


def test_a_missing_runtime_class_fails_fast_from_the_replicaset_event(local_cluster, namespace, tmp_path):
    data = spec(namespace)
    data["services"]["web"]["runtimeClassName"] = "wasmedge-absent"  # no other test creates it
    message, _ = deploy_failing(local_cluster.kube, namespace, objects_of(tmp_path, data, "rc.yaml"), label="rc")
    assert "fail-fast rule runtime-class-missing" in message
    assert 'RuntimeClass "wasmedge-absent" not found' in message and "ReplicaSet web-" in message


def test_a_resource_quota_that_refuses_the_pods_fails_fast(local_cluster, namespace, tmp_path):
    kube = local_cluster.kube
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "small", "namespace": namespace},
            "spec": {"hard": {"requests.cpu": "300m"}},  # db takes 200m; no web pod fits
        }
    )
    message, _ = deploy_failing(kube, namespace, objects_of(tmp_path, spec(namespace), "q.yaml"), label="quota")
    assert "fail-fast rule quota-exceeded" in message and "exceeded quota: small" in message


def test_no_fail_fast_keeps_waiting_until_the_timeout(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    good = write(tmp_path, spec(namespace))
    assert cli("deploy", "-f", str(good), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    bad = write(tmp_path, spec(namespace, tag="1.28", annotations={FAULT: "image-pull"}), "bad.yaml")
    started = time.monotonic()
    args = ("deploy", "-f", str(bad), "--stage", "dev", "--plain", "--timeout", "30", "--no-fail-fast")
    out = cli(*args, kubeconfig=kc)
    took = time.monotonic() - started
    print(f"\n[no-fail-fast] deploy ended after {took:.1f}s with --timeout 30")
    assert out.returncode == 1
    assert "not ready after 30s" in out.stderr and "failed fast" not in out.stderr
    assert "ImagePullBackOff" in out.stderr or "ErrImagePull" in out.stderr
    assert outcomes(good, kc) == [(1, "superseded"), (2, "rolled-back"), (3, "deployed")]
    # the same deploy with fail-fast (the default), through the CLI: exit 1, the rule, the rollback
    started = time.monotonic()
    fast = cli("deploy", "-f", str(bad), "--stage", "dev", "--plain", kubeconfig=kc)
    print(f"[fail-fast image-pull, CLI] deploy ended after {time.monotonic() - started:.1f}s (timeout 300)")
    assert fast.returncode == 1, fast.stderr
    assert "fail-fast rule image-pull" in fast.stderr and "rolled back automatically" in fast.stderr
    assert "Traceback" not in fast.stderr


def test_unschedulable_once_the_nodes_are_full_counts_what_is_already_requested(local_cluster, namespace, tmp_path):
    """Each pod fits an empty node, but not the room the others leave: 7 x 15 CPUs on 3 x 32."""
    kube = local_cluster.kube
    data = spec(namespace, replicas=7)
    data["services"]["web"]["resources"] = {"requests": {"cpu": "15"}, "limits": {"cpu": "15"}}
    try:
        message, _ = deploy_failing(kube, namespace, objects_of(tmp_path, data, "full.yaml"), label="full")
        assert "fail-fast rule unschedulable" in message
        assert re.search(r"cpu 15 wanted, \d+(\.\d+)? available", message), message
    finally:  # give the room back to the session's other tests
        kube.delete(Ref("apps/v1", "Deployment", "web", namespace), propagation="Background")


def test_a_missing_priority_class_fails_fast(local_cluster, namespace, tmp_path):
    objects = objects_of(tmp_path, spec(namespace), "pc.yaml")
    for obj in objects:  # the spec has no field for it; a library caller's objects may
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["spec"]["priorityClassName"] = "urgent"
    message, _ = deploy_failing(local_cluster.kube, namespace, objects, label="priority-class")
    assert "fail-fast rule priority-class-missing" in message and "no PriorityClass with name urgent" in message


def test_an_admission_refusal_fails_fast(local_cluster, namespace, tmp_path):
    """Pod Security admission (built into the API server) refuses an added capability."""
    kube = local_cluster.kube
    ns = kube.get(Ref("v1", "Namespace", namespace))
    ns["metadata"].setdefault("labels", {})["pod-security.kubernetes.io/enforce"] = "restricted"
    kube.replace(ns)  # an update by another manager: the deploy's own apply of the namespace keeps it
    data = spec(namespace)
    data["services"]["web"]["security"] = {"addCapabilities": ["NET_ADMIN"]}
    message, _ = deploy_failing(kube, namespace, objects_of(tmp_path, data, "psa.yaml"), label="admission")
    assert "fail-fast rule admission-denied" in message and "violates PodSecurity" in message
