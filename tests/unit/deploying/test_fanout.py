"""Fan-out ordering: waves in order, at most max_parallel at once, a failure stops later waves."""

from __future__ import annotations

import threading
import time

from shiplane.actions import fanout
from shiplane.actions.fanout import Member, State
from shiplane.errors import RolloutFailed
from shiplane.events import RolledBack, result


class Recorder:
    def __init__(self, failing: set[str] = frozenset(), rolled: bool = False) -> None:
        self.failing, self.rolled = failing, rolled
        self.running = 0
        self.peak = 0
        self.order: list[str] = []
        self.lock = threading.Lock()

    def deploy(self, target, want):
        name = target
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.order.append(name)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        if name in self.failing:
            if self.rolled:
                yield RolledBack(1, True, "restored")
            raise RolloutFailed(f"{name} never became ready")
        return None


def _waves(rec: Recorder, *sizes: int) -> list[list[Member]]:
    out, n = [], 0
    for size in sizes:
        out.append([Member(f"t{n + i}", f"t{n + i}", None, rec.deploy) for i in range(size)])  # type: ignore[arg-type]
        n += size
    return out


def test_waves_run_in_order_bounded_by_max_parallel() -> None:
    rec = Recorder()
    outcome = result(fanout.run(_waves(rec, 1, 4, 3), max_parallel=2))
    assert outcome.ok
    assert rec.peak == 2
    assert rec.order[0] == "t0" and set(rec.order[1:5]) == {"t1", "t2", "t3", "t4"}
    assert all(r.state is State.DEPLOYED for r in outcome.rows.values())


def test_canary_failure_stops_every_later_wave() -> None:
    rec = Recorder(failing={"t0"})
    changes: list = []
    outcome = result(fanout.run(_waves(rec, 1, 2, 2), max_parallel=4), changes.append)
    assert not outcome.ok
    assert outcome.rows["t0"].state is State.FAILED
    assert [outcome.rows[f"t{i}"].state for i in range(1, 5)] == [State.NOT_STARTED] * 4
    assert rec.order == ["t0"]
    assert any(c.state is State.DEPLOYING for c in changes)


def test_rolled_back_failure_is_reported_as_such_and_without_fail_fast_all_run() -> None:
    rec = Recorder(failing={"t1"}, rolled=True)
    outcome = result(fanout.run(_waves(rec, 1, 1, 1), max_parallel=1, fail_fast=False))
    assert outcome.rows["t1"].state is State.ROLLED_BACK
    assert outcome.rows["t2"].state is State.DEPLOYED
    assert [r["state"] for r in outcome.as_json()] == ["deployed", "rolled back", "deployed"]


def test_guard_counts_removed_targets_and_refuses_past_the_limit() -> None:
    import pytest

    from shiplane.actions import targetguard
    from shiplane.actions.targetguard import Deployed, TooManyRemovals

    running = {i: (Deployed(i, "c", f"ns-{i}", 1), None) for i in ("eu-acme", "eu-initech", "us-initech")}
    found = targetguard.changes(["eu-acme", "eu-globex"], running)  # type: ignore[arg-type]
    assert found.added == ["eu-globex"] and found.kept == ["eu-acme"]
    assert [d.id for d in found.removed] == ["eu-initech", "us-initech"]
    with pytest.raises(TooManyRemovals, match="2 deployed targets") as err:
        targetguard.enforce(found, 1, allow=False)
    assert err.value.exit_code == 2
    targetguard.enforce(found, 1, allow=True)
    targetguard.enforce(found, 2, allow=False)


def test_fan_out_reads_generated_secrets_from_each_targets_cluster(monkeypatch) -> None:
    """Without `generated`, desired.load renders a generated secret as its offline placeholder,
    and a fan-out deploy would ship that placeholder as the secret's value."""
    from pathlib import Path

    import pytest

    from shiplane.actions import desired, rotate, targetguard
    from shiplane.cli import deploying
    from shiplane.cli import fanout as cli_fanout

    shop = Path(__file__).parents[3] / "examples" / "shop" / "shiplane.yaml"
    kube = object()
    ensured: list[tuple] = []
    monkeypatch.setattr(cli_fanout, "_guard", lambda *_: (targetguard.changes([], {}), {}))
    monkeypatch.setattr(deploying, "_connect", lambda kubeconfig, context: kube)
    # the values are read from the target's cluster; storing new ones is left to its Deploy (after its gates)
    monkeypatch.setattr(
        rotate, "ensure_later", lambda target, stage: ensured.append((target.kube, target.namespace)) or ({}, None)
    )

    class Loaded(Exception):
        pass

    def load(files, stage, **kwargs):
        assert kwargs.get("generated") is not None, "fan-out renders generated secrets as placeholders"
        kwargs["generated"](kwargs["stage_spec"], "shop-acme-prod")
        raise Loaded

    monkeypatch.setattr(desired, "load", load)
    with pytest.raises(Loaded):
        cli_fanout.fan_out(None, [shop], "prod", None, {"output": "text"}, resume=False, dry_run=False, plain=True)
    assert ensured == [(kube, "shop-acme-prod")]
