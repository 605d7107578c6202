"""gc's selection, pure: each kind of leftover is found, and what must stay stays."""

from __future__ import annotations

from shiplane.observing.gc import Inventory, select
from shiplane.releases import Outcome, Release

NS = "shop-dev"
MINE = {"app.kubernetes.io/managed-by": "shiplane", "app.kubernetes.io/part-of": "shop"}
NOW = 1_800_000_000.0


def obj(name: str, *, labels=MINE, rv: str = "1", **body) -> dict:
    meta = {"name": name, "namespace": NS, "labels": dict(labels or {}), "resourceVersion": rv, "uid": f"uid-{name}"}
    meta.update(body.pop("meta", {}))
    return {"metadata": meta, **body}


def job(name: str, done: str | None = "Complete", ttl: int | None = None, **kw) -> dict:
    spec = {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    conditions = [{"type": done, "status": "True"}] if done else []
    return obj(name, spec=spec, status={"conditions": conditions}, **kw)


def pod(name: str, phase: str, reason: str = "", **kw) -> dict:
    return obj(name, spec={"containers": [{"name": "c"}]}, status={"phase": phase, "reason": reason}, **kw)


def release(revision: int, objects: list[dict], outcome=Outcome.SUPERSEDED, **kw) -> Release:
    return Release("shop", "dev", revision, started=NOW - 1000 + revision, outcome=outcome, objects=objects, **kw)


def ref(kind: str, name: str, api: str = "v1") -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": NS}}


def names(selection, kind: str | None = None) -> set[str]:
    return {c.ref["name"] for c in selection.collect if kind is None or c.ref["kind"] == kind}


def run(inv: Inventory, history=(), **kw):
    return select(inv, list(history), app="shop", now=NOW, **kw)


def test_finished_jobs_without_ttl_are_collected_running_ttl_and_cronjob_ones_are_not():
    inv = Inventory(
        NS,
        jobs=[
            job("done"),
            job("failed", "Failed"),
            job("running", None),
            job("with-ttl", ttl=60),
            job("cron-1", meta={"ownerReferences": [{"kind": "CronJob", "name": "cron", "uid": "u"}]}),
            job("foreign", labels={}),
        ],
    )
    found = run(inv)
    assert names(found) == {"done", "failed"}
    assert "finished (Failed)" in next(c.reason for c in found.collect if c.ref["name"] == "failed")
    assert names(run(inv, everything=True)) == {"done", "failed", "foreign"}


def test_a_job_the_current_release_applied_is_never_collected():
    migration = job("migrate-abc")
    history = [
        release(
            1,
            [{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate-abc", "namespace": NS}}],
            Outcome.DEPLOYED,
        )
    ]
    assert names(run(Inventory(NS, jobs=[migration]), history)) == set()
    assert names(run(Inventory(NS, jobs=[migration]))) == {"migrate-abc"}


def test_failed_evicted_completed_pods_are_collected_running_and_job_pods_are_not():
    inv = Inventory(
        NS,
        pods=[
            pod("evicted", "Failed", "Evicted"),
            pod("crashed", "Failed"),
            pod("completed", "Succeeded"),
            pod("running", "Running"),
            pod("pending", "Pending"),
            pod("of-a-job", "Succeeded", meta={"ownerReferences": [{"kind": "Job", "name": "j", "uid": "u"}]}),
        ],
    )
    found = run(inv)
    assert names(found) == {"evicted", "crashed", "completed"}
    assert {c.reason for c in found.collect} == {"evicted", "failed (Error)", "completed"}


def _rs(name: str, revision: int, replicas: int, owner_uid: str = "uid-web") -> dict:
    return obj(
        name,
        labels={},  # a ReplicaSet's labels are the pod template's; its Deployment decides
        meta={
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": owner_uid}],
        },
        spec={"replicas": replicas, "template": {"spec": {"containers": []}}},
    )


def test_replicasets_beyond_the_history_limit_scaled_to_zero_are_collected_oldest_first():
    deployment = obj("web", spec={"revisionHistoryLimit": 2, "template": {"spec": {"containers": []}}})
    sets = [_rs(f"web-{i}", i, 0) for i in range(1, 6)] + [_rs("web-6", 6, 2)]
    found = run(Inventory(NS, deployments=[deployment], replicasets=sets))
    assert names(found) == {"web-1", "web-2", "web-3"}  # 4 and 5 kept by the limit, 6 is live
    assert "beyond its history limit 2" in found.collect[0].reason


def test_replicasets_default_limit_is_ten_and_foreign_deployments_are_left_alone():
    deployment = obj("web", spec={"template": {"spec": {}}})
    sets = [_rs(f"web-{i}", i, 0) for i in range(1, 13)]
    assert names(run(Inventory(NS, deployments=[deployment], replicasets=sets))) == {"web-1", "web-2"}
    foreign = obj("web", labels={}, spec={"revisionHistoryLimit": 0})
    assert names(run(Inventory(NS, deployments=[foreign], replicasets=sets))) == set()


def test_hash_named_config_unreferenced_by_retained_releases_and_pods_is_collected():
    cms = [obj(n) for n in ("web-env-0123456789", "web-env-abcdefabcd", "web-env-1111111111", "plain-config")]
    cms.append(obj("db-env-2222222222"))
    secrets = [
        obj("api-key-3333333333", type="Opaque"),
        obj("api-key-4444444444", type="Opaque"),
        obj("shiplane.release.shop.v1", labels={**MINE, "shiplane.io/release-of": "shop"}),
    ]
    using = obj(
        "db",
        spec={"template": {"spec": {"containers": [{"envFrom": [{"configMapRef": {"name": "db-env-2222222222"}}]}]}}},
    )
    history = [
        release(
            1,
            [ref("ConfigMap", "web-env-0123456789")],
            retained=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "web-env-abcdefabcd", "namespace": NS}],
        ),
        release(2, [ref("Secret", "api-key-3333333333")], Outcome.DEPLOYED),
    ]
    found = run(Inventory(NS, configmaps=cms, secrets=secrets, statefulsets=[using]), history)
    assert names(found) == {"web-env-1111111111", "api-key-4444444444"}


def test_config_of_a_release_dropped_by_retention_is_collected_with_the_record():
    history = [release(i, [ref("ConfigMap", f"web-env-{i:010d}")]) for i in range(1, 5)]
    history[-1] = history[-1].with_(outcome=Outcome.DEPLOYED)
    cms = [obj(f"web-env-{i:010d}") for i in range(1, 5)]
    found = run(Inventory(NS, configmaps=cms), history, keep=2)
    assert found.records == (1, 2)
    assert names(found) == {"web-env-0000000001", "web-env-0000000002"}
    assert run(Inventory(NS, configmaps=cms), history, keep=20).records == ()


def _lease(name: str, renewed_ago: float, duration: int = 30, labels=None) -> dict:
    import datetime as dt

    renew = dt.datetime.fromtimestamp(NOW - renewed_ago, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    spec = {"holderIdentity": "me", "leaseDurationSeconds": duration, "renewTime": renew}
    return obj(name, labels=labels or {}, spec=spec)


def test_expired_leases_are_collected_held_ones_and_foreign_ones_are_not():
    leases = [
        _lease("shiplane-lock.shop", 120),
        _lease("shiplane-lock.other-held", 5),
        _lease("controller-leader", 600),
    ]
    found = run(Inventory(NS, leases=leases))
    assert names(found) == {"shiplane-lock.shop"}
    assert "expired 90s ago" in found.collect[0].reason
    assert names(run(Inventory(NS, leases=leases), everything=True)) == {"shiplane-lock.shop", "controller-leader"}


def _sts(name: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]},
    }


def _pvc(name: str) -> dict:
    return obj(name, labels={}, spec={"resources": {"requests": {"storage": "1Gi"}}})


def test_pvcs_of_deleted_statefulsets_only_with_volumes_and_each_named():
    history = [release(1, [_sts("db"), _sts("cache")], Outcome.DEPLOYED)]
    pvcs = [_pvc("data-db-0"), _pvc("data-db-1"), _pvc("data-cache-0"), _pvc("unrelated-0")]
    inv = Inventory(
        NS, pvcs=pvcs, statefulsets=[obj("cache", spec={"volumeClaimTemplates": [{"metadata": {"name": "data"}}]})]
    )
    without = run(inv, history)
    assert names(without) == set()
    assert {c.ref["name"] for c in without.kept} == {"data-db-0", "data-db-1"}
    assert all(c.size == "1Gi" and "StatefulSet db" in c.reason for c in without.kept)
    assert names(run(inv, history, volumes=True)) == {"data-db-0", "data-db-1"}


def test_a_pvc_a_pod_still_mounts_is_kept():
    history = [release(1, [_sts("db")], Outcome.DEPLOYED)]
    mounting = pod("debug", "Running")
    mounting["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "data-db-0"}}]
    found = run(Inventory(NS, pvcs=[_pvc("data-db-0")], pods=[mounting]), history, volumes=True)
    assert names(found) == set()


def _pv(name: str, phase: str, claim: str, namespace: str = NS) -> dict:
    return {
        "metadata": {"name": name, "resourceVersion": "7"},
        "spec": {"capacity": {"storage": "5Gi"}, "claimRef": {"namespace": namespace, "name": claim}},
        "status": {"phase": phase},
    }


def test_released_pvs_of_the_namespace_that_shiplane_claimed():
    history = [release(1, [_sts("db")], Outcome.DEPLOYED)]
    pvs = [
        _pv("pv-1", "Released", "data-db-0"),
        _pv("pv-2", "Bound", "data-db-1"),
        _pv("pv-3", "Released", "data-db-0", namespace="elsewhere"),
        _pv("pv-4", "Released", "someone-elses"),
    ]
    found = run(Inventory(NS, pvs=pvs), history)
    assert names(found) == {"pv-1"}
    assert found.collect[0].size == "5Gi" and "namespace" not in found.collect[0].ref  # cluster-scoped
    assert names(run(Inventory(NS, pvs=pvs), history, everything=True)) == {"pv-1", "pv-4"}


def test_nothing_to_free_is_empty_and_the_json_shape_holds():
    found = run(Inventory(NS, pods=[pod("running", "Running")]))
    assert found.empty and found.to_json() == {"collect": [], "records": [], "kept": [], "counts": {}}
    found = run(Inventory(NS, pods=[pod("x", "Succeeded", rv="42")]))
    assert found.collect[0].resource_version == "42"
    assert found.to_json()["counts"] == {"Pod": 1}


def test_a_pvc_is_known_by_its_labels_once_retention_dropped_the_record_of_its_statefulset():
    labelled = obj("data-cache-0", labels={"app.kubernetes.io/name": "cache", "app.kubernetes.io/instance": "shop"})
    other_app = obj("data-cache-1", labels={"app.kubernetes.io/name": "cache", "app.kubernetes.io/instance": "blog"})
    misfit = obj("cache-data", labels={"app.kubernetes.io/name": "cache", "app.kubernetes.io/instance": "shop"})
    found = run(Inventory(NS, pvcs=[labelled, other_app, misfit]), volumes=True)
    assert names(found) == {"data-cache-0"}
    live = obj("cache", spec={})
    assert names(run(Inventory(NS, pvcs=[labelled], statefulsets=[live]), volumes=True)) == set()
