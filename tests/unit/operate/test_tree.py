"""The live status tree (observing.tree) on constructed objects, and what a deploy takes back."""

from __future__ import annotations

from shiplane.kube import Ref
from shiplane.observing import tree as trees
from shiplane.observing.drift import drift, taken_back

NOW = 1_800_000_000.0
T0 = "2027-01-15T08:00:00Z"  # epoch 1800000000
DIGEST = "sha256:" + "ab" * 32


def meta(name: str, uid: str, owner: str | None = None, **extra) -> dict:
    out = {"name": name, "namespace": "ns", "uid": uid, "creationTimestamp": "2027-01-15T07:58:00Z", **extra}
    if owner:
        out["ownerReferences"] = [{"uid": owner, "kind": "x", "name": "x"}]
    return out


def deployment(replicas: int = 2, ready: int = 2, revision: str = "2") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("web", "dep-uid", annotations={"deployment.kubernetes.io/revision": revision}),
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"readyReplicas": ready},
    }


def replicaset(name: str, uid: str, revision: int, replicas: int) -> dict:
    return {
        "kind": "ReplicaSet",
        "metadata": meta(name, uid, "dep-uid", annotations={"deployment.kubernetes.io/revision": str(revision)}),
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": replicas},
    }


def pod(name: str, owner: str, *, ready: bool = True, last: dict | None = None, restarts: int = 0, **labels) -> dict:
    cs = {
        "name": "web",
        "image": "nginx:1.27",
        "imageID": f"docker.io/library/nginx@{DIGEST}",
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {}} if ready else {"waiting": {"reason": "CrashLoopBackOff"}},
    }
    if last:
        cs["lastState"] = {"terminated": last}
    return {
        "kind": "Pod",
        "metadata": meta(name, name + "-uid", owner, labels=labels),
        "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "containerStatuses": [cs]},
    }


def event(kind: str, name: str, reason: str, at: str, type_: str = "Warning", count: int = 1) -> dict:
    return {
        "metadata": {"name": f"{name}.{reason}.{at}", "uid": f"{name}{reason}{at}"},
        "involvedObject": {"kind": kind, "name": name},
        "type": type_,
        "reason": reason,
        "message": f"{reason} happened",
        "count": count,
        "lastTimestamp": at,
    }


def build(applied, live, children, pods, events=(), drifts=()):
    return trees.build(
        app="shop",
        stage="dev",
        namespace="ns",
        revision=7,
        applied=applied,
        live=live,
        children=children,
        pods=pods,
        events=list(events),
        drifts=list(drifts),
        now=NOW,
    )


def applied_deployment() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}}


def test_deployment_revisions_pods_terminations_digests_and_warnings():
    oom = {"reason": "OOMKilled", "exitCode": 137}
    pods = [
        pod("web-new-a", "rs-new", ready=False, last=oom, restarts=4),
        pod("web-old-a", "rs-old"),
        pod("stranger", "someone-else"),
    ]
    events = [
        event("Pod", "web-new-a", "BackOff", "2027-01-15T07:59:00Z", count=9),
        event("Pod", "web-new-a", "Unhealthy", "2027-01-15T07:59:30Z"),
        event("Pod", "web-new-a", "Old", "2027-01-15T07:50:00Z"),
        event("Pod", "web-new-a", "Older", "2027-01-15T07:40:00Z"),
        event("Pod", "web-new-a", "Scheduled", "2027-01-15T07:59:59Z", type_="Normal"),
        event("Deployment", "web", "Stuck", "2027-01-15T07:59:00Z"),
    ]
    t = build(
        [applied_deployment()],
        {("Deployment", "web"): deployment(ready=1)},
        [replicaset("web-new", "rs-new", 2, 1), replicaset("web-old", "rs-old", 1, 1)],
        pods,
        events,
    )
    (w,) = t.workloads
    assert (w.kind, w.name, w.desired, w.ready, w.age) == ("Deployment", "web", 2, 1, 120.0)
    assert [(r.name, r.revision, r.current) for r in w.revisions] == [("web-new", 2, True), ("web-old", 1, False)]
    (crashing,) = w.revisions[0].pods
    assert (crashing.name, crashing.restarts, crashing.ready, crashing.node) == ("web-new-a", 4, "0/1", "node-1")
    (c,) = crashing.containers
    assert c.last_termination == "OOMKilled (exit 137)" and c.state == "waiting: CrashLoopBackOff"
    assert c.digest == DIGEST
    # the newest three Warnings, newest first; Normal events are not warnings
    assert [e.reason for e in crashing.warnings] == ["Unhealthy", "BackOff", "Old"]
    assert crashing.warnings[1].count == 9
    assert [e.reason for e in w.warnings] == ["Stuck"]
    assert [p.name for p in w.revisions[1].pods] == ["web-old-a"]
    assert "stranger" not in {p.name for p in w.all_pods()}
    data = t.to_json()
    assert data["workloads"][0]["restarts"] == 4
    assert (
        data["workloads"][0]["revisions"][0]["pods"][0]["containers"][0]["last_termination"] == "OOMKilled (exit 137)"
    )
    assert t.owners()[("Pod", "web-new-a")] == "web" and t.owners()[("ReplicaSet", "web-old")] == "web"


def test_a_ready_pods_warnings_from_before_it_was_ready_are_resolved():
    """FailedScheduling while the claim bound, then Ready at 07:59:00: under a healthy pod that
    warning reads as a fault, so the tree drops it; a warning after it became ready stays."""
    ready = pod("web-a", "rs-new")
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": "2027-01-15T07:59:00Z"}]
    waiting = pod("web-b", "rs-new", ready=False)
    waiting["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "lastTransitionTime": "2027-01-15T07:58:00Z"}
    ]
    events = [
        event("Pod", "web-a", "FailedScheduling", "2027-01-15T07:59:00Z"),
        event("Pod", "web-a", "Unhealthy", "2027-01-15T07:59:40Z"),
        event("Pod", "web-b", "FailedScheduling", "2027-01-15T07:58:30Z"),
    ]
    t = build(
        [applied_deployment()],
        {("Deployment", "web"): deployment()},
        [replicaset("web-new", "rs-new", 2, 2)],
        [ready, waiting],
        events,
    )
    pods_ = {p.name: p for p in t.workloads[0].all_pods()}
    assert [e.reason for e in pods_["web-a"].warnings] == ["Unhealthy"]
    assert [e.reason for e in pods_["web-b"].warnings] == ["FailedScheduling"]  # not ready: still a fault


def test_error_exit_code_without_a_reason_and_a_current_termination():
    last = {"exitCode": 2}
    p = pod("web-a", "rs", ready=False, last=last)
    p["status"]["containerStatuses"][0]["state"] = {"terminated": {"reason": "Error", "exitCode": 1}}
    (c,) = trees.container_nodes(p)
    assert c.last_termination == "Error (exit 1)" and c.state == "terminated: Error"
    p["status"]["containerStatuses"][0]["state"] = {"running": {}}
    assert trees.container_nodes(p)[0].last_termination == "Error (exit 2)"


def test_statefulset_pods_by_controller_revision_hash():
    sts = {
        "kind": "StatefulSet",
        "metadata": meta("db", "sts-uid"),
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 1, "updateRevision": "db-222", "currentRevision": "db-111"},
    }
    revisions = [
        {"kind": "ControllerRevision", "metadata": meta("db-111", "cr1", "sts-uid"), "revision": 1},
        {"kind": "ControllerRevision", "metadata": meta("db-222", "cr2", "sts-uid"), "revision": 2},
    ]
    pods = [
        pod("db-0", "sts-uid", **{"controller-revision-hash": "db-111"}),
        pod("db-1", "sts-uid", ready=False, **{"controller-revision-hash": "db-222"}),
    ]
    applied = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}}
    t = build([applied], {("StatefulSet", "db"): sts}, revisions, pods)
    (w,) = t.workloads
    assert [(r.name, r.current, [p.name for p in r.pods], r.ready) for r in w.revisions] == [
        ("db-222", True, ["db-1"], 0),
        ("db-111", False, ["db-0"], 1),
    ]


def test_missing_workload_and_drift_marker():
    applied = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": 2},
    }
    live = deployment(replicas=3)
    live["metadata"]["managedFields"] = [
        {"manager": "kubectl-scale", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    ]
    found = drift([applied], {Ref.of(applied): live})
    t = build([applied], {("Deployment", "web"): live}, [], [], drifts=found)
    assert t.workloads[0].drifted
    assert t.workloads[0].drift == ("spec.replicas (by kubectl-scale (Update))",)
    assert t.summary() == "1 of 1 object(s) drifted"
    assert t.to_json()["drifted"][0]["name"] == "web"
    gone = build([applied], {}, [], [])
    assert not gone.workloads[0].exists and gone.summary() == "no drift"


def test_lines_change_when_a_deployment_scales():
    before = build([applied_deployment()], {("Deployment", "web"): deployment(2, 2)}, [], [])
    after = build([applied_deployment()], {("Deployment", "web"): deployment(3, 2)}, [], [])
    old, new = trees.lines(before), trees.lines(after)
    assert old["Deployment/web"] == "Deployment/web: 2/2 ready"
    assert new["Deployment/web"] == "Deployment/web: 2/3 ready"
    older = build([applied_deployment()], {("Deployment", "web"): deployment(2, 2)}, [], [])
    assert trees.lines(older) == old  # ages are not part of a line: no change, nothing printed


def test_taken_back_names_other_managers_and_values():
    desired = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "labels": {"team": "a"}},
        "spec": {"replicas": 2},
    }
    live = {
        **desired,
        "metadata": {
            **desired["metadata"],
            "managedFields": [
                {"manager": "shiplane", "operation": "Apply", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}},
                {"manager": "kubectl-scale", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            ],
        },
        "spec": {"replicas": 5},
    }
    (f,) = taken_back(desired, live)
    assert (f.change.path, f.change.old, f.change.new, f.managers) == (
        "spec.replicas",
        2,
        5,
        ("kubectl-scale (Update)",),
    )
    assert taken_back(desired, None) == ()
    assert taken_back({**desired, "spec": {"replicas": 5}}, live) == ()  # same value: nothing taken back


def test_usage_against_limits_from_metrics():
    """metrics.k8s.io usage next to the container's limits: the share of the memory limit, and the
    warning at 90% or more (the next spike is an OOM kill); a container without a limit says so."""
    p = pod("web-a", "rs-new")
    p["spec"]["containers"] = [
        {"name": "web", "image": "nginx:1.27", "resources": {"limits": {"memory": "128Mi", "cpu": "200m"}}},
        {"name": "side", "image": "busybox:1.36"},
    ]
    usage = {"web-a": {"web": {"memory": "120Mi", "cpu": "5m"}, "side": {"memory": "2048Ki", "cpu": "0"}}}

    def tree(usage=None):
        return trees.build(
            app="shop",
            stage="dev",
            namespace="ns",
            revision=7,
            applied=[applied_deployment()],
            live={("Deployment", "web"): deployment()},
            children=[replicaset("web-new", "rs-new", 2, 2)],
            pods=[p],
            events=[],
            now=NOW,
            usage=usage,
        )

    t = tree(usage)
    (node,) = t.workloads[0].all_pods()
    web, side = node.containers
    assert round(web.share("memory"), 3) == 0.938 and web.near_memory_limit
    assert web.usage_text() == "mem 120Mi/128Mi (94%)  cpu 5m/200m (2%)"
    assert side.share("memory") is None and not side.near_memory_limit
    assert side.usage_text() == "mem 2Mi (no limit)  cpu 0m (no limit)"
    data = web.to_json()
    assert data["near_memory_limit"] is True and data["usage"] == {"memory": "120Mi", "cpu": "5m"}
    # without metrics.k8s.io nothing is shown or claimed
    bare = tree()
    assert bare.workloads[0].all_pods()[0].containers[0].usage_text() == ""
