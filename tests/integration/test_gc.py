"""`shiplane gc` on the local control plane: each kind of leftover is planted, gc lists exactly those,
changes nothing without --yes (resourceVersions), and with --yes deletes exactly those."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from kubernetes import client as k8s

from shiplane.actions import desired
from shiplane.actions.deploy import Deploy
from shiplane.kube import Ref
from tests.integration.deploying import SECRET_VALUE, drain, no_secret_in, outcomes, spec, target, write
from tests.integration.test_dry_run import bare, settled

pytestmark = pytest.mark.integration

MINE = {"app.kubernetes.io/managed-by": "shiplane", "app.kubernetes.io/part-of": "shop"}
NOWHERE = {"shiplane.test/no-such-node": "true"}  # pods that never schedule: nothing rewrites them


def _job(namespace: str, name: str, labels: dict, ttl: int | None = None) -> dict:
    spec_ = {
        "backoffLimit": 0,
        "template": {
            "metadata": {"labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
        },
    }
    if ttl is not None:
        spec_["ttlSecondsAfterFinished"] = ttl
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec_,
    }


def _pod(kube, namespace: str, name: str, labels: dict, phase: str, reason: str = "") -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeSelector": NOWHERE, "containers": [{"name": "c", "image": "busybox"}]},
    }
    kube.apply(body)
    status = {"status": {"phase": phase, **({"reason": reason, "message": "node pressure"} if reason else {})}}
    k8s.CoreV1Api(kube.api_client).patch_namespaced_pod_status(name, namespace, status)


def _lease(namespace: str, name: str, labels: dict, renewed_ago: float, duration: int) -> dict:
    renew = dt.datetime.fromtimestamp(time.time() - renewed_ago, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"holderIdentity": "someone", "leaseDurationSeconds": duration, "renewTime": renew},
    }


def _stuck_deployment_with_old_sets(kube, namespace: str) -> None:
    """A Deployment whose rollout never completes (so its controller never trims its history),
    history limit 1, and three old ReplicaSets scaled to 0: the two oldest are beyond the limit."""
    selector = {"app.kubernetes.io/name": "stuck"}
    labels = {**MINE, **selector}
    kube.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "stuck", "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "revisionHistoryLimit": 1,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": selector},
                    "spec": {"nodeSelector": NOWHERE, "containers": [{"name": "c", "image": "busybox:9"}]},
                },
            },
        }
    )
    uid = kube.get(Ref("apps/v1", "Deployment", "stuck", namespace))["metadata"]["uid"]
    for revision in (1, 2, 3):
        hashed = {**selector, "pod-template-hash": f"old{revision}"}
        kube.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"stuck-old{revision}",
                    "namespace": namespace,
                    "labels": hashed,
                    "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "stuck", "uid": uid, "controller": True}
                    ],
                },
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": hashed},
                    "template": {
                        "metadata": {"labels": hashed},
                        "spec": {"containers": [{"name": "c", "image": f"busybox:{revision}"}]},
                    },
                },
            }
        )


def _released_pv(kube, namespace: str, name: str, claim: str) -> None:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "2Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": f"/tmp/{name}"},
                "claimRef": {"namespace": namespace, "name": claim, "uid": "00000000-0000-0000-0000-000000000000"},
            },
        }
    )


def _wait(what: str, check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


def _names(data: dict, key: str = "collect") -> set[tuple[str, str]]:
    return {(c["kind"], c["name"]) for c in data[key]}


def test_gc_lists_each_leftover_changes_nothing_without_yes_then_frees_exactly_those(
    local_cluster, namespace, tmp_path, monkeypatch
):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube, kc = local_cluster.kube, local_cluster.kubeconfig
    pv_name = f"gc-{namespace}"
    # Two releases: the first also ran a stateful `cache` (a volume), the second dropped it.
    cache = {
        "cache": {
            "kind": "stateful",
            "image": "redis:7-alpine",
            "ports": {"redis": 6379},
            "volumes": {"data": {"persistent": {"size": "1Gi"}}},
            "mounts": {"data": "/data"},
        }
    }
    first = write(tmp_path, spec(namespace, extra_services=cache), "v1.yaml")
    drain(Deploy(target(kube, namespace), desired.load([first], "dev").objects).run())
    _wait("cache's claim", lambda: kube.get(Ref("v1", "PersistentVolumeClaim", "data-cache-0", namespace)))
    path = write(tmp_path, spec(namespace, tag="1.28"))
    drain(Deploy(target(kube, namespace), desired.load([path], "dev").objects).run())
    assert kube.get(Ref("apps/v1", "StatefulSet", "cache", namespace)) is None
    assert [o for _, o in outcomes(path, kc)] == ["superseded", "deployed"]

    # Plant one of each leftover, next to look-alikes that must stay.
    for job in (
        _job(namespace, "report-done", MINE),
        _job(namespace, "report-ttl", MINE, ttl=3600),
        _job(namespace, "foreign-done", {}),
    ):
        kube.apply(job)
    _pod(kube, namespace, "evicted", MINE, "Failed", "Evicted")
    _pod(kube, namespace, "crashed", MINE, "Failed")
    _pod(kube, namespace, "finished", MINE, "Succeeded")
    _pod(kube, namespace, "foreign-crashed", {}, "Failed")
    _stuck_deployment_with_old_sets(kube, namespace)
    for kind in ("ConfigMap", "Secret"):
        for name, labels in (("web-env-0123456789", MINE), ("other-0123456789", {})):
            kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": kind,
                    "metadata": {"name": name, "namespace": namespace, "labels": labels},
                    "immutable": True,
                    "data": {"k": "dg=="},
                }
            )
    kube.apply(_lease(namespace, "shop-leader", MINE, renewed_ago=600, duration=15))
    kube.apply(_lease(namespace, "shop-held", MINE, renewed_ago=0, duration=3600))
    kube.apply(_lease(namespace, "foreign-leader", {}, renewed_ago=600, duration=15))
    _released_pv(kube, namespace, pv_name, "data-db-7")
    try:
        _wait(
            "jobs to finish",
            lambda: all(
                any(
                    c["type"] in ("Complete", "Failed") and c["status"] == "True"
                    for c in (kube.get(Ref("batch/v1", "Job", n, namespace)).get("status") or {}).get("conditions")
                    or []
                )
                for n in ("report-done", "report-ttl", "foreign-done")
            ),
        )
        _wait(
            "the PV to be Released",
            lambda: (kube.get(Ref("v1", "PersistentVolume", pv_name)).get("status") or {}).get("phase") == "Released",
        )

        expected = {
            ("Job", "report-done"),
            ("Pod", "evicted"),
            ("Pod", "crashed"),
            ("Pod", "finished"),
            ("ReplicaSet", "stuck-old1"),
            ("ReplicaSet", "stuck-old2"),
            ("ConfigMap", "web-env-0123456789"),
            ("Secret", "web-env-0123456789"),
            ("Lease", "shop-leader"),
            ("PersistentVolume", pv_name),
        }
        before = settled(kube, namespace)
        pv_before = kube.get(Ref("v1", "PersistentVolume", pv_name))["metadata"]["resourceVersion"]
        # The dry-run: no secret value in the environment, and nothing changes.
        dry = bare("gc", "-f", str(path), "--stage", "dev", "--retention", "1", "-o", "json", kubeconfig=kc)
        assert dry.returncode == 0, dry.stderr
        listed = json.loads(dry.stdout)
        assert _names(listed) == expected
        assert listed["records"] == [1] and listed["dry_run"] is True
        assert _names(listed, "kept") == {("PersistentVolumeClaim", "data-cache-0")}
        text = bare("gc", "-f", str(path), "--stage", "dev", "--retention", "1", kubeconfig=kc)
        assert text.returncode == 0 and "run with --yes" in text.stdout
        assert "PersistentVolumeClaim" in text.stdout and "data-cache-0" in text.stdout
        assert settled(kube, namespace) == before
        assert kube.get(Ref("v1", "PersistentVolume", pv_name))["metadata"]["resourceVersion"] == pv_before
        assert [r for r, _ in outcomes(path, kc)] == [1, 2]

        # A deploy holding the lock: gc --yes refuses at once (exit 4), touching nothing.
        kube.apply(_lease(namespace, "shiplane-lock.shop", {}, renewed_ago=0, duration=3600))
        locked = bare("gc", "-f", str(path), "--stage", "dev", "--retention", "1", "--yes", kubeconfig=kc)
        assert locked.returncode == 4, locked.stdout + locked.stderr
        assert "deploy lock held by someone" in locked.stderr
        assert bare("unlock", "-f", str(path), "--stage", "dev", kubeconfig=kc).returncode == 0

        # With --yes: exactly those go, everything else stays.
        done = bare("gc", "-f", str(path), "--stage", "dev", "--retention", "1", "--yes", "-o", "json", kubeconfig=kc)
        assert done.returncode == 0, done.stderr
        assert _names(json.loads(done.stdout), "deleted") == expected
        no_secret_in(dry.stdout, text.stdout, done.stdout, done.stderr)
        after = versions_without_dying(kube, namespace)
        gone = {tuple(k.split("/", 1)) for k in set(before) - set(after)}
        record = ("Secret", "shiplane.release.shop.v1")  # the record beyond retention
        assert gone - {("Pod", p) for p in _job_pods(before)} == expected - {("PersistentVolume", pv_name)} | {record}
        _wait("the PV to go", lambda: kube.get(Ref("v1", "PersistentVolume", pv_name)) is None)
        assert [r for r, _ in outcomes(path, kc)] == [2]
        # The current release still runs and its hash-named Secret is still there.
        assert kube.get(Ref("apps/v1", "Deployment", "web", namespace)) is not None
        assert any(k.startswith("Secret/api-key-") for k in after)

        # Volumes only when asked, and then only the one its StatefulSet left.
        vols = bare("gc", "-f", str(path), "--stage", "dev", "--volumes", "--yes", "-o", "json", kubeconfig=kc)
        assert vols.returncode == 0, vols.stderr
        assert _names(json.loads(vols.stdout), "deleted") == {("PersistentVolumeClaim", "data-cache-0")}
        assert kube.get(Ref("v1", "PersistentVolumeClaim", "data-db-0", namespace)) is not None
        again = bare("gc", "-f", str(path), "--stage", "dev", kubeconfig=kc)
        assert again.returncode == 0 and "nothing to free" in again.stdout
    finally:
        kube.delete(Ref("v1", "PersistentVolume", pv_name), propagation="Background")


def _job_pods(versions: dict) -> set[str]:
    """Pods of the deleted Job go with it (names start with the Job's)."""
    return {k.split("/", 1)[1] for k in versions if k.startswith("Pod/report-done-")}


def versions_without_dying(kube, namespace: str) -> dict:
    """resourceVersions of what is live and not being deleted (Background deletion may lag)."""
    from tests.integration.test_dry_run import KINDS

    out = {}
    for api, kind in KINDS:
        for obj in kube.list(api, kind, namespace=namespace):
            if not obj["metadata"].get("deletionTimestamp"):
                out[f"{kind}/{obj['metadata']['name']}"] = obj["metadata"]["resourceVersion"]
    ns = kube.get(Ref("v1", "Namespace", namespace))
    out["Namespace"] = ns["metadata"]["resourceVersion"] if ns else None
    return out
