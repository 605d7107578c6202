"""Typed events: enums for actions and states, PlanReady, Failed, and how an action's stream fails."""

from __future__ import annotations

import io

import pytest

from shiplane import events
from shiplane.cli.output import PlainSink
from shiplane.errors import InputError, LockHeld, RolloutFailed
from shiplane.status import State


def test_actions_and_states_are_enums():
    applied = events.Applied("Deployment ns/web", "create")
    assert applied.action is events.Action.CREATE
    assert events.StatusChanged("Deployment ns/web", "Current", "2/2").state is State.CURRENT
    with pytest.raises(ValueError):
        events.Applied("Deployment ns/web", "created")  # a typo fails where it is made, not in a sink
    with pytest.raises(ValueError):
        events.StatusChanged("Deployment ns/web", "Ready", "")


def test_plan_ready_counts():
    plan = events.PlanReady(
        "shop",
        "dev",
        4,
        (
            events.PlannedWave("config", ("ConfigMap ns/a", "Secret ns/b")),
            events.PlannedWave("workloads", ("Deployment ns/web",), wait=True),
        ),
        prune=("Service ns/old",),
    )
    assert plan.counts == {"waves": 2, "objects": 3, "prune": 1}


def test_failed_names_the_error_class_exit_code_and_refs():
    failed = events.Failed.of(RolloutFailed("rollout not ready after 5s", refs=["Deployment ns/web"]))
    assert failed == events.Failed("RolloutFailed", "rollout not ready after 5s", 1, ("Deployment ns/web",))
    assert events.Failed.of(LockHeld("held")).exit_code == 4


def _stream(fail: Exception | None = None, announce: bool = False):
    yield events.Note("working")
    if announce:
        yield events.Failed.of(RolloutFailed("the rollout"))
        yield events.RolledBack(1, True, "restored")
    if fail is not None:
        raise fail
    return "result"


def test_announce_failure_yields_failed_before_the_error():
    seen: list = []
    with pytest.raises(InputError):
        events.result(events.announce_failure(_stream)(InputError("no revision 9")), seen.append)
    assert seen == [events.Note("working"), events.Failed("InputError", "no revision 9", 2)]


def test_announce_failure_once_when_the_stream_announced_its_own():
    seen: list = []
    with pytest.raises(RolloutFailed):
        events.result(events.announce_failure(_stream)(RolloutFailed("final"), announce=True), seen.append)
    assert [type(e).__name__ for e in seen] == ["Note", "Failed", "RolledBack"]
    assert seen[1].message == "the rollout"


def test_announce_failure_passes_the_result_through():
    seen: list = []
    assert events.result(events.announce_failure(_stream)(), seen.append) == "result"
    assert seen == [events.Note("working")]


def test_the_plain_sink_renders_every_event():
    out = io.StringIO()
    sink = PlainSink(out)
    for event in (
        events.PlanReady("shop", "dev", 2, (events.PlannedWave("workloads", ("Deployment ns/web",), True),)),
        events.Applied("Deployment ns/web", "update"),
        events.Applied("ConfigMap ns/c", "unchanged"),
        events.Applied("ConfigMap ns/d", "skip"),
        events.StatusChanged("Deployment ns/web", State.IN_PROGRESS, "1/2 updated"),
        events.Failed("RolloutFailed", "rollout not ready after 15s:\n  Deployment ns/web: 0/2"),
        events.RolledBack(1, True, "revision 3 restores revision 1"),
    ):
        sink(event)
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "plan: deploy shop/dev revision 2: workloads 1 (waits)",
        "apply Deployment ns/web: update",
        "state Deployment ns/web: InProgress (1/2 updated)",
        "FAIL  RolloutFailed: rollout not ready after 15s: Deployment ns/web: 0/2",
        "rolled back to revision 1: revision 3 restores revision 1",
    ]
