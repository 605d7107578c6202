"""The event stream of deploy and rollback, on the local control plane: what happens in what order,
asserted on the typed events (not on printed text)."""

from __future__ import annotations

import pytest

from shiplane import events
from shiplane.actions import desired
from shiplane.actions.deploy import Deploy, Options
from shiplane.actions.rollback import Rollback
from shiplane.errors import InputError, MigrationFailed, RolloutFailed
from shiplane.kube import Ref
from shiplane.localcluster.stages import FAULT
from shiplane.status import State
from tests.integration.deploying import SECRET_VALUE, spec, target, write

pytestmark = pytest.mark.integration

MILESTONES = (events.PlanReady, events.Failed, events.RolledBack)


def run(stream) -> tuple[list, object]:
    """Every event of an action, and its result or the error it raised."""
    seen: list = []
    try:
        return seen, events.result(stream, seen.append)
    except Exception as err:
        return seen, err


def milestones(seen: list) -> list:
    return [e for e in seen if isinstance(e, MILESTONES)]


def objects(tmp_path, namespace: str, name: str = "shiplane.yaml", **kwargs) -> list[dict]:
    return desired.load([write(tmp_path, spec(namespace, **kwargs), name)], "dev").objects


def test_a_deploy_announces_its_plan_then_applies_and_becomes_ready(local_cluster, namespace, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    want = objects(tmp_path, namespace)
    seen, release = run(Deploy(target(local_cluster.kube, namespace), want).run())
    assert not isinstance(release, Exception), release
    (plan,) = milestones(seen)  # no Failed, no RolledBack
    first_applied = next(i for i, e in enumerate(seen) if isinstance(e, events.Applied))
    assert seen.index(plan) < first_applied
    assert (plan.app, plan.stage, plan.revision, plan.rollback_of) == ("shop", "dev", 1, None)
    assert plan.counts["objects"] == len(want)
    applied = [e for e in seen if isinstance(e, events.Applied)]
    assert sorted(e.ref for e in applied) == sorted(ref for w in plan.waves for ref in w.refs)
    assert {e.action for e in applied} == {events.Action.CREATE}
    # Each wave the plan announced runs, in that order.
    started = [e.message.split(":")[0] for e in seen if isinstance(e, events.Step) and not e.done]
    assert started == ["preflight"] + [f"wave {w.name}" for w in plan.waves]  # preflight before the first write
    last = {e.ref: e.state for e in seen if isinstance(e, events.StatusChanged)}
    assert last and set(last.values()) == {State.CURRENT}

    again, _ = run(Deploy(target(local_cluster.kube, namespace), want).run())
    assert {e.action for e in again if isinstance(e, events.Applied)} <= {events.Action.UNCHANGED, events.Action.SKIP}


def test_a_never_ready_rollout_fails_then_rolls_back(local_cluster, namespace, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube = local_cluster.kube
    _, first = run(Deploy(target(kube, namespace), objects(tmp_path, namespace)).run())
    assert not isinstance(first, Exception), first
    bad = objects(tmp_path, namespace, "bad.yaml", tag="1.28", annotations={FAULT: "never-ready"})
    seen, error = run(Deploy(target(kube, namespace), bad, options=Options(timeout=15)).run())
    assert isinstance(error, RolloutFailed)
    plan, failed, rollback_plan, rolled = milestones(seen)
    assert (plan.revision, plan.rollback_of) == (2, None)
    assert failed.error == "RolloutFailed" and failed.message.startswith("rollout not ready after 15s")
    assert f"Deployment {namespace}/web" in failed.refs
    assert (rollback_plan.revision, rollback_plan.rollback_of) == (3, 1)
    assert (rolled.to_revision, rolled.ok) == (1, True)
    # Between the failure and the rollback's plan: the decision to roll back, nothing applied.
    between = seen[seen.index(failed) + 1 : seen.index(rollback_plan)]
    assert [type(e) for e in between] == [events.Step] and between[0].message == "roll back to revision 1"
    web = f"Deployment {namespace}/web"
    states = [e.state for e in seen if isinstance(e, events.StatusChanged) and e.ref == web]
    assert State.IN_PROGRESS in states[: seen.index(failed)] and states[-1] is State.CURRENT
    image = kube.get(Ref("apps/v1", "Deployment", "web", namespace))["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "nginx:1.27"


def test_rollback_events_and_a_refused_rollback(local_cluster, namespace, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube = local_cluster.kube
    # Nothing to roll back to yet: the refusal is announced, then raised.
    seen, error = run(Rollback(target(kube, namespace)).run())
    assert isinstance(error, InputError)
    assert milestones(seen) == [events.Failed("InputError", error.message, 2)]

    for name, tag in (("v1.yaml", "1.27"), ("v2.yaml", "1.28")):
        _, done = run(Deploy(target(kube, namespace), objects(tmp_path, namespace, name, tag=tag)).run())
        assert not isinstance(done, Exception), done
    seen, release = run(Rollback(target(kube, namespace)).run())
    assert not isinstance(release, Exception), release
    (plan,) = milestones(seen)
    assert (plan.revision, plan.rollback_of) == (3, 1)
    applied = {e.ref: e.action for e in seen if isinstance(e, events.Applied)}
    assert applied[f"Deployment {namespace}/web"] is events.Action.UPDATE
    assert seen.index(plan) < min(i for i, e in enumerate(seen) if isinstance(e, events.Applied))


def test_a_failed_migration_is_announced_once(local_cluster, namespace, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube = local_cluster.kube
    _, first = run(Deploy(target(kube, namespace), objects(tmp_path, namespace)).run())
    assert not isinstance(first, Exception), first
    migration = {"command": ["migrate", "up"], "compatibility": "expand"}
    want = objects(tmp_path, namespace, "v2.yaml", tag="1.28", migration=migration)
    for obj in want:
        if obj["kind"] == "Job":
            obj["spec"]["template"]["metadata"].setdefault("annotations", {})[FAULT] = "fail"
    seen, error = run(Deploy(target(kube, namespace), want, options=Options(timeout=60)).run())
    assert isinstance(error, MigrationFailed)
    plan, failed = milestones(seen)
    assert plan.revision == 2 and seen[-1] is failed
    assert (failed.error, failed.message) == ("MigrationFailed", error.message)
    assert not any(isinstance(e, events.Applied) and e.ref.startswith("Deployment") for e in seen)
