"""Fail-fast rules (shiplane.status.failfast): each rule, its grace period, and what never counts."""

from __future__ import annotations

import pytest

from shiplane.status import capacity, failfast
from shiplane.status.failfast import RULES, Watchdog, observe

APPLIED = "2026-11-29T10:00:00Z"


def deployment(name="web", revision="2", *, applied=APPLIED, annotations=None):
    return {
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "annotations": {failfast.REVISION: revision},
            "managedFields": [
                {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-29T11:00:00Z"},
                {"manager": "shiplane", "operation": "Apply", "time": applied},
            ],
        },
        "spec": {"template": {"metadata": {"annotations": annotations or {}}, "spec": {}}},
    }


def replicaset(name, revision, owner="web"):
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "annotations": {failfast.REVISION: revision},
            "ownerReferences": [{"kind": "Deployment", "name": owner, "controller": True}],
        },
    }


def pod(name, rs="web-new", *, waiting=None, restarts=0, last=None, unschedulable=None, cpu="200m", uid=None):
    status: dict = {"phase": "Pending" if waiting or unschedulable else "Running", "conditions": []}
    if waiting:
        cs = {"name": "web", "restartCount": restarts, "state": {"waiting": {"reason": waiting, "message": "why"}}}
        if last:
            cs["lastState"] = {"terminated": last}
        status["containerStatuses"] = [cs]
    if unschedulable:
        status["conditions"] = [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable}
        ]
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "uid": uid or f"uid-{name}",
            "ownerReferences": [{"kind": "ReplicaSet", "name": rs, "controller": True}],
        },
        "spec": {"containers": [{"name": "web", "resources": {"limits": {"cpu": cpu, "memory": "128Mi"}}}]},
        "status": status,
    }


def event(reason, message, *, involved=("ReplicaSet", "web-new"), at="2026-11-29T10:00:05Z", uid="e1"):
    return {
        "kind": "Event",
        "metadata": {"uid": uid},
        "type": "Warning" if reason.startswith("Failed") else "Normal",
        "reason": reason,
        "message": message,
        "involvedObject": {"kind": involved[0], "name": involved[1]},
        "lastTimestamp": at,
    }


def node(name="n1", cpu="32", **meta):
    return {
        "metadata": {"name": name, **meta},
        "spec": {},
        "status": {"allocatable": {"cpu": cpu, "memory": "128Gi", "pods": "110"}},
    }


RS = [replicaset("web-old", "1"), replicaset("web-new", "2")]


def verdicts(pods=(), events=(), *, now=100.0, since=0.0, rooms=None, nodes=(), workload=None, rules=RULES):
    """Observe once at `since`, then again at `now`: the verdicts of the second check."""
    seen, _ = observe([workload or deployment()], pods, RS, events)
    dog = Watchdog(rules)
    dog.check(seen, since, rooms=rooms, nodes=nodes)
    return dog.check(seen, now, rooms=rooms, nodes=nodes).verdicts


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ('Error creating: pods "web-x" is forbidden: pod rejected: RuntimeClass "wasmedge" not found',
         "runtime-class-missing"),
        ('Error creating: pods "web-x" is forbidden: no PriorityClass with name urgent was found',
         "priority-class-missing"),
        ('Error creating: pods "web-x" is forbidden: exceeded quota: small, requested: requests.cpu=40, '
         "used: requests.cpu=0, limited: requests.cpu=2", "quota-exceeded"),
        ('Error creating: pods "web-x" is forbidden: violates PodSecurity "restricted:latest": privileged',
         "admission-denied"),
        ('Error creating: admission webhook "policy.example.com" denied the request: no latest tags',
         "admission-denied"),
    ],
)  # fmt: skip
def test_failed_create_causes_each_have_their_own_rule_and_fix(message, rule):
    found = verdicts(events=[event("FailedCreate", message)])
    assert [v.rule.id for v in found] == [rule]
    text = str(found[0])
    assert text.startswith("Deployment web: ")
    assert "ReplicaSet web-new" in text and "fix: " in text


def test_a_missing_runtime_class_fails_at_once_a_quota_only_after_its_grace():
    runtime = [event("FailedCreate", 'forbidden: pod rejected: RuntimeClass "wasmedge" not found')]
    assert [v.rule.id for v in verdicts(events=runtime, now=0.0)] == ["runtime-class-missing"]
    quota = [event("FailedCreate", "forbidden: exceeded quota: small")]
    assert verdicts(events=quota, now=9.0) == []
    assert [v.rule.id for v in verdicts(events=quota, now=10.0)] == ["quota-exceeded"]


def test_failed_create_cleared_by_a_later_successful_create_or_older_than_the_apply():
    failed = event("FailedCreate", "forbidden: exceeded quota: small", at="2026-11-29T10:00:05Z")
    later_ok = event("SuccessfulCreate", "Created pod: web-x", at="2026-11-29T10:00:07Z", uid="e2")
    assert verdicts(events=[failed, later_ok]) == []
    earlier_ok = event("SuccessfulCreate", "Created pod: web-y", at="2026-11-29T10:00:01Z", uid="e3")
    assert len(verdicts(events=[failed, earlier_ok])) == 1
    # an event from an earlier attempt (before shiplane's last apply) never counts
    stale = event("FailedCreate", 'forbidden: RuntimeClass "x" not found', at="2026-11-29T09:59:00Z")
    assert verdicts(events=[stale]) == []


def test_failed_create_of_an_old_replicaset_or_another_workload_does_not_count():
    msg = 'forbidden: RuntimeClass "x" not found'
    assert verdicts(events=[event("FailedCreate", msg, involved=("ReplicaSet", "web-old"))]) == []
    assert verdicts(events=[event("FailedCreate", msg, involved=("ReplicaSet", "webber-new"))]) == []


@pytest.mark.parametrize(
    ("waiting", "restarts", "grace", "rule"),
    [
        ("CreateContainerConfigError", 0, 10, "config-error"),
        ("ErrImagePull", 0, 20, "image-pull"),
        ("ImagePullBackOff", 0, 20, "image-pull"),
        ("InvalidImageName", 0, 0, "invalid-image"),
        ("CrashLoopBackOff", 3, 0, "crash-loop"),
    ],
)
def test_waiting_containers_fail_after_their_grace(waiting, restarts, grace, rule):
    pods = [pod("web-new-a", waiting=waiting, restarts=restarts, last={"exitCode": 137, "reason": "OOMKilled"})]
    if grace:
        assert verdicts(pods, now=grace - 0.5) == []
    found = verdicts(pods, now=grace)
    assert [v.rule.id for v in found] == [rule]
    assert "pod web-new-a container web" in found[0].detail


def test_crash_loop_needs_enough_restarts_and_names_the_last_exit():
    assert verdicts([pod("web-new-a", waiting="CrashLoopBackOff", restarts=2)]) == []
    found = verdicts(
        [pod("web-new-a", waiting="CrashLoopBackOff", restarts=4, last={"exitCode": 137, "reason": "OOMKilled"})]
    )
    assert "4 restarts, last exit 137 OOMKilled" in found[0].detail  # fmt: skip


def test_pods_of_the_old_revision_never_count():
    old = pod("web-old-a", rs="web-old", waiting="CrashLoopBackOff", restarts=9)
    assert verdicts([old]) == []


def test_a_condition_that_clears_starts_its_grace_again():
    dog = Watchdog()
    pulling = observe([deployment()], [pod("web-new-a", waiting="ErrImagePull")], RS, [])[0]
    fine = observe([deployment()], [pod("web-new-a")], RS, [])[0]
    assert dog.check(pulling, 0.0).started[0].rule.id == "image-pull"
    assert dog.check(fine, 15.0).verdicts == []
    assert dog.check(pulling, 16.0).verdicts == []
    assert dog.check(pulling, 35.0).verdicts == []
    assert [v.rule.id for v in dog.check(pulling, 36.0).verdicts] == ["image-pull"]


def test_no_rules_no_verdicts():
    assert verdicts([pod("web-new-a", waiting="InvalidImageName")], rules=()) == []


# ---------------------------------------------------------------- unschedulable and capacity


def bound(name, node_name, cpu):
    p = pod(name, rs="other", cpu=cpu)
    p["spec"]["nodeName"] = node_name
    return p


def test_unschedulable_when_no_node_could_ever_fit_the_pod():
    big = pod("web-new-a", unschedulable="0/1 nodes are available: 1 Insufficient cpu.", cpu="40")
    rooms = capacity.rooms([node()], [])
    assert verdicts([big], now=14.0, rooms=rooms, nodes=[node()]) == []
    found = verdicts([big], now=15.0, rooms=rooms, nodes=[node()])
    assert [v.rule.id for v in found] == ["unschedulable"]
    assert "cpu 40 wanted, 32 available" in found[0].detail
    assert "Insufficient cpu" in found[0].detail


def test_unschedulable_counts_what_other_pods_already_request():
    small = pod("web-new-a", unschedulable="Insufficient cpu", cpu="4")
    full = capacity.rooms([node()], [bound("x", "n1", "30")])
    assert len(verdicts([small], rooms=full, nodes=[node()])) == 1
    # the same pod fits once that other pod is being replaced by the rollout
    replaced = capacity.rooms([node()], [bound("x", "n1", "30")], leaving=frozenset({"uid-x"}))
    assert verdicts([small], rooms=replaced, nodes=[node()]) == []


def test_unschedulable_waits_when_some_node_has_room_or_rooms_are_unknown():
    p = pod("web-new-a", unschedulable="node(s) didn't match pod anti-affinity", cpu="1")
    assert verdicts([p], rooms=capacity.rooms([node()], []), nodes=[node()]) == []
    assert verdicts([pod("web-new-a", unschedulable="x", cpu="40")], rooms=None) == []


@pytest.mark.parametrize(
    ("node_meta", "annotations"),
    [
        ({"annotations": {"cluster-autoscaler.kubernetes.io/scale-down-disabled": "true"}}, {}),
        ({"labels": {"karpenter.sh/nodepool": "default"}}, {}),
        ({}, {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}),
    ],
)
def test_an_autoscaler_disables_the_unschedulable_rule(node_meta, annotations):
    n = node(**node_meta)
    big = pod("web-new-a", unschedulable="Insufficient cpu", cpu="40")
    assert verdicts([big], rooms=capacity.rooms([n], []), nodes=[n], workload=deployment(annotations=annotations)) == []


def test_observe_splits_revisions_and_reports_leaving_pods():
    seen, leaving = observe([deployment()], [pod("web-new-a"), pod("web-old-a", rs="web-old")], RS, [])
    assert [p["metadata"]["name"] for p in seen[0].pods] == ["web-new-a"]
    assert leaving == {"uid-web-old-a"}


def test_statefulset_pods_of_the_update_revision_only():
    sts = {"kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {}, "status": {"updateRevision": "db-2"}}

    def sts_pod(name, rev):
        p = pod(name, waiting="CrashLoopBackOff", restarts=5)
        p["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": "db", "controller": True}]
        p["metadata"]["labels"] = {"controller-revision-hash": rev}
        return p

    seen, leaving = observe([sts], [sts_pod("db-0", "db-1"), sts_pod("db-1", "db-2")], [], [])
    assert [p["metadata"]["name"] for p in seen[0].pods] == ["db-1"]
    assert leaving == {"uid-db-0"}
    assert [v.rule.id for v in Watchdog().check(seen, 0.0).verdicts] == ["crash-loop"]


def test_event_time_reads_new_style_events():
    e = {"eventTime": "2026-11-29T10:00:05.123456Z", "series": {"lastObservedTime": "2026-11-29T10:03:00.5Z"}}
    assert failfast.event_time(e).isoformat() == "2026-11-29T10:03:00.500000+00:00"


def test_a_listed_failed_create_counts_only_once_it_recurs_while_watched():
    from shiplane.actions.failfast import FailFastWatch

    watch = FailFastWatch(kube=None, rules=RULES)  # no cluster read: no pod is unschedulable
    old = event("FailedCreate", 'forbidden: RuntimeClass "x" not found')
    old["metadata"]["resourceVersion"] = "10"
    watch.saw_event(old, ("web",), listed=True)  # from an earlier attempt, perhaps fixed since
    assert watch.events == {}
    again = {**old, "metadata": {**old["metadata"], "resourceVersion": "11"}}
    watch.saw_event(again, ("web",), listed=False)  # the controller retried and failed again
    assert list(watch.events) == ["e1"]
    fresh = event("FailedCreate", "forbidden: exceeded quota", uid="e9")
    watch.saw_event(fresh, ("other",), listed=False)  # not a tracked workload's
    assert list(watch.events) == ["e1"]


def test_watch_notes_a_pending_rule_then_returns_its_verdict_and_survives_forbidden_node_reads():
    from shiplane.actions.failfast import FailFastWatch
    from shiplane.errors import KubeError
    from shiplane.events import Note, result

    class Forbidden:
        def list(self, *args, **kwargs):
            raise KubeError("list Node: nodes is forbidden (HTTP 403)")

    watch = FailFastWatch(Forbidden(), RULES)
    for rs in RS:
        watch.saw_replicaset(rs["metadata"]["name"], rs)
    pods = {
        "web-new-a": pod("web-new-a", waiting="ErrImagePull"),
        "web-new-b": pod("web-new-b", unschedulable="Insufficient cpu", cpu="40"),
    }
    seen: list = []
    assert result(watch.check([deployment()], pods, 0.0), seen.append) == []
    messages = [e.message for e in seen if isinstance(e, Note)]
    assert any("cannot read the nodes' room" in m and "forbidden" in m for m in messages)
    assert "fail-fast: Deployment web: the image cannot be pulled (image-pull); failing in 20s" in messages
    assert result(watch.check([deployment()], pods, 0.5)) == []  # at most one check a second
    (verdict,) = result(watch.check([deployment()], pods, 20.0))
    assert verdict.rule.id == "image-pull"  # the unschedulable rule is off without the nodes' room


def test_a_failed_create_is_history_once_its_replicaset_has_all_its_pods():
    """A transient refusal (e.g. the ServiceAccount cache lagging) in the same second as the
    successful retry: the ReplicaSet has its pods, so the event no longer stands."""
    full = replicaset("web-new", "2")
    full["spec"], full["status"] = {"replicas": 2}, {"replicas": 2}
    failed = event(
        "FailedCreate", 'forbidden: error looking up service account ns/shop: serviceaccount "shop" not found'
    )
    ok = event("SuccessfulCreate", "Created pod: web-new-a", uid="e2")  # same second as the failure
    seen, _ = observe([deployment()], [], [replicaset("web-old", "1"), full], [failed, ok])
    assert seen[0].failures == ()
    short = {**full, "status": {"replicas": 1}}
    seen, _ = observe([deployment()], [], [replicaset("web-old", "1"), short], [failed, ok])
    assert seen[0].failures == (failed,)
