"""The local control plane behaves like Kubernetes for the workloads shiplane deploys.

Real etcd, kube-apiserver, kube-controller-manager and kube-scheduler; kwok plays the
kubelet. Each test gets its own namespace.
"""

from __future__ import annotations

import time

import pytest

from shiplane import status
from shiplane.events import result
from shiplane.kube import Kube, Ref
from shiplane.localcluster.stages import FAULT, READY_AFTER

pytestmark = pytest.mark.integration


def wait(kube: Kube, ref: Ref, want: status.State, timeout: float = 90) -> dict:
    """Wait (by watch) until the object's computed state is `want`; return the object."""
    stream = kube.wait_for(
        ref,
        lambda o: status.compute(o).state is want,
        timeout=timeout,
        describe=lambda o: status.compute(o).message,
    )
    return result(stream)


def deployment(ns: str, name: str, *, replicas: int = 3, image: str = "nginx:1.27", **template_annotations) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": template_annotations},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def replicasets(kube: Kube, ns: str, name: str) -> dict[str, dict]:
    """ReplicaSets of a Deployment, by their pod-template image."""
    return {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs
        for rs in kube.list("apps/v1", "ReplicaSet", namespace=ns, label_selector=f"app={name}")
    }


def test_deployment_becomes_available_scales_and_rolls(local_cluster, namespace):
    kube = local_cluster.kube
    ref = Ref("apps/v1", "Deployment", "web", namespace)
    kube.apply(deployment(namespace, "web"))
    obj = wait(kube, ref, status.State.CURRENT)
    assert obj["status"]["availableReplicas"] == 3

    kube.apply(deployment(namespace, "web", replicas=5))
    obj = wait(kube, ref, status.State.CURRENT)
    assert obj["status"]["readyReplicas"] == 5

    kube.apply(deployment(namespace, "web", replicas=5, image="nginx:1.28"))
    obj = wait(kube, ref, status.State.CURRENT)
    assert obj["status"]["updatedReplicas"] == 5
    sets = replicasets(kube, namespace, "web")
    assert sets["nginx:1.28"]["status"]["readyReplicas"] == 5
    assert sets["nginx:1.27"]["spec"]["replicas"] == 0  # the old ReplicaSet was scaled away
    pods = kube.list("v1", "Pod", namespace=namespace, label_selector="app=web")
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert {p["spec"]["containers"][0]["image"] for p in live} == {"nginx:1.28"}
    assert all(p["status"].get("podIP") for p in live)  # kwok hands out pod IPs


def job(ns: str, name: str, **template_annotations) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "backoffLimit": 1,
            "template": {
                "metadata": {"annotations": template_annotations},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "run", "image": "busybox:1.36"}]},
            },
        },
    }


def test_job_completes(local_cluster, namespace):
    kube = local_cluster.kube
    kube.apply(job(namespace, "migrate"))
    obj = wait(kube, Ref("batch/v1", "Job", "migrate", namespace), status.State.CURRENT)
    assert obj["status"]["succeeded"] == 1


def test_job_whose_pod_fails_reports_failed(local_cluster, namespace):
    kube = local_cluster.kube
    kube.apply(job(namespace, "broken", **{FAULT: "fail"}))
    obj = wait(kube, Ref("batch/v1", "Job", "broken", namespace), status.State.FAILED)
    failed = next(c for c in obj["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert obj["status"]["failed"] == 2  # the first try and one retry (backoffLimit 1)
    pods = kube.list("v1", "Pod", namespace=namespace, label_selector="job-name=broken")
    exit_codes = {
        cs["state"]["terminated"]["exitCode"] for p in pods for cs in p["status"].get("containerStatuses", [])
    }
    assert exit_codes == {1}


def test_never_ready_rollout_exceeds_deadline_while_old_pods_serve(local_cluster, namespace):
    kube = local_cluster.kube
    ref = Ref("apps/v1", "Deployment", "vote", namespace)
    first = deployment(namespace, "vote", image="vote:1")
    first["spec"]["progressDeadlineSeconds"] = 10
    kube.apply(first)
    wait(kube, ref, status.State.CURRENT)

    broken = deployment(namespace, "vote", image="vote:2", **{FAULT: "never-ready"})
    broken["spec"]["progressDeadlineSeconds"] = 10
    kube.apply(broken)
    obj = wait(kube, ref, status.State.FAILED, timeout=60)
    progressing = next(c for c in obj["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    sets = replicasets(kube, namespace, "vote")
    assert sets["vote:1"]["status"].get("readyReplicas") == 3  # the old ReplicaSet keeps serving
    assert sets["vote:2"]["status"].get("readyReplicas", 0) == 0
    assert obj["status"]["availableReplicas"] >= 3


def test_crashing_pod_shows_crash_loop(local_cluster, namespace):
    kube = local_cluster.kube
    kube.apply(deployment(namespace, "worker", replicas=1, **{FAULT: "fail"}))
    deadline = time.monotonic() + 60
    results: list[status.Result] = []
    while time.monotonic() < deadline:
        pods = kube.list("v1", "Pod", namespace=namespace, label_selector="app=worker")
        results = [status.compute(p) for p in pods]
        if results and results[0].state is status.State.FAILED:
            break
        time.sleep(0.5)
    assert results, "no pod was created"
    assert results[0].message == "container web: CrashLoopBackOff"


def test_pod_becomes_ready_only_after_its_delay(local_cluster, namespace):
    kube = local_cluster.kube
    ref = Ref("apps/v1", "Deployment", "slow", namespace)
    started = time.monotonic()
    kube.apply(deployment(namespace, "slow", replicas=1, **{READY_AFTER: "6s"}))
    time.sleep(2)
    assert status.compute(kube.get(ref)).state is status.State.IN_PROGRESS
    wait(kube, ref, status.State.CURRENT, timeout=60)
    assert time.monotonic() - started >= 6


def test_statefulset_with_volume_claims_becomes_ready(local_cluster, namespace):
    kube = local_cluster.kube
    labels = {"app": "db"}
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": namespace},
            "spec": {"clusterIP": "None", "selector": labels, "ports": [{"name": "pg", "port": 5432}]},
        }
    )
    kube.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": namespace},
            "spec": {
                "serviceName": "db",
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "postgres",
                                "image": "postgres:16",
                                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
                            }
                        ]
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                    }
                ],
            },
        }
    )
    obj = wait(kube, Ref("apps/v1", "StatefulSet", "db", namespace), status.State.CURRENT, timeout=120)
    assert obj["status"]["readyReplicas"] == 2
    claims = kube.list("v1", "PersistentVolumeClaim", namespace=namespace)
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    assert {c["status"]["phase"] for c in claims} == {"Bound"}
    assert {c["spec"]["storageClassName"] for c in claims} == {"kwok-volume"}  # the default class
