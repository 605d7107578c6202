"""DORA functions on constructed histories, and the exposition text parsed back with prometheus_client."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shiplane.observing import dora as d
from shiplane.observing.metrics import StageFigures, Workload, exposition, registry
from shiplane.releases import Outcome, Release

DAY = d.DAY
NOW = 1_800_000_000.0
OC = Outcome


def rel(revision, outcome, finished_days_ago, took=60.0, *, committed_before=None, rollback_of=None) -> Release:
    finished = NOW - finished_days_ago * DAY
    return Release(
        "shop",
        "dev",
        revision,
        started=finished - took,
        finished=finished,
        outcome=outcome,
        committed=None if committed_before is None else finished - committed_before,
        rollback_of=rollback_of,
    )


# 1 ok, 2 failed and auto-rolled back by 3 (rollback to 1), 4 ok, 5 ok but rolled back by hand by 6, 7 ok now.
HISTORY = [
    rel(1, OC.SUPERSEDED, 40, committed_before=3600),
    rel(2, OC.ROLLED_BACK, 20, committed_before=7200),
    rel(3, OC.SUPERSEDED, 20 - 300 / DAY, 30, rollback_of=1),
    rel(4, OC.SUPERSEDED, 10, committed_before=600),
    rel(5, OC.SUPERSEDED, 5),
    rel(6, OC.SUPERSEDED, 5 - 0.5, 20, rollback_of=4),
    rel(7, OC.DEPLOYED, 1, committed_before=1200),
    Release("shop", "dev", 8, started=NOW - 10, outcome=OC.INTERRUPTED),
]


def test_changes_exclude_rollbacks_and_unfinished_runs():
    assert [r.revision for r in d.changes(HISTORY)] == [1, 2, 4, 5, 7]


def test_a_change_failed_if_its_rollout_failed_or_the_next_release_rolled_back_past_it():
    assert [r.revision for r in d.failed(HISTORY)] == [2, 5]


def test_deployment_frequency_counts_successful_changes_in_the_window_per_day():
    # in the last 30 days: 4, 5, 7 succeeded (2 failed, 1 is older, 3 and 6 are rollbacks)
    assert d.deployment_frequency(HISTORY, now=NOW) == pytest.approx(3 / 30)
    assert d.deployment_frequency(HISTORY, now=NOW, window=7 * DAY) == pytest.approx(2 / 7)


def test_lead_time_is_the_median_commit_to_finish_of_successful_changes_with_a_commit():
    # 1: 3600, 4: 600, 7: 1200 (2 failed; 5 has no commit) → median 1200
    assert d.lead_time(HISTORY) == 1200


def test_change_failure_rate_is_failed_over_finished_changes():
    assert d.change_failure_rate(HISTORY) == pytest.approx(2 / 5)


def test_time_to_restore_is_the_median_from_a_failure_to_the_next_success():
    # 2 → 3 (the automatic rollback): 300 s; 5 → 6 (rolled back by hand): half a day
    assert d.time_to_restore(HISTORY) == pytest.approx((300 + 0.5 * DAY) / 2)


def test_no_data_is_none_not_zero():
    figures = d.dora([], now=NOW)
    assert (figures.lead_time, figures.change_failure_rate, figures.time_to_restore) == (None, None, None)
    assert figures.deployment_frequency == 0
    unrestored = [rel(1, OC.SUPERSEDED, 3), rel(2, OC.FAILED, 2)]
    assert d.time_to_restore(unrestored) is None and d.change_failure_rate(unrestored) == 0.5


def parsed(text: str) -> dict[str, dict]:
    """name → {(labels…): value} for every sample."""
    out: dict[str, dict] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def key(**labels) -> tuple:
    return tuple(sorted({"app": "shop", "stage": "dev", **labels}.items()))


def test_the_exposition_parses_back_to_the_figures():
    workloads = [Workload("Deployment", "web", 2, 1, 4, 1), Workload("StatefulSet", "db", 1, 1, 0, 0)]
    other = StageFigures("shop", "prod", [rel(1, OC.DEPLOYED, 2)])
    text = exposition(registry([StageFigures("shop", "dev", HISTORY, workloads), other], now=NOW))
    m = parsed(text)
    assert m["shiplane_releases_total"][key(outcome="superseded")] == 5
    assert m["shiplane_releases_total"][key(outcome="rolled-back")] == 1
    assert m["shiplane_releases_total"][key(outcome="interrupted")] == 1
    assert m["shiplane_rollbacks_total"][key()] == 2
    assert m["shiplane_current_revision"][key()] == 7
    assert m["shiplane_current_revision"][key(stage="prod")] == 1
    assert m["shiplane_deploy_duration_seconds_count"][key()] == 7  # the interrupted run has no duration
    assert m["shiplane_deploy_duration_seconds_bucket"][key(le="30.0")] == 2  # 3 and 6
    assert m["shiplane_deploy_duration_seconds_bucket"][key(le="+Inf")] == 7
    assert m["shiplane_workload_replicas_ready"][key(kind="Deployment", workload="web")] == 1
    assert m["shiplane_workload_replicas_desired"][key(kind="Deployment", workload="web")] == 2
    assert m["shiplane_workload_container_restarts"][key(kind="Deployment", workload="web")] == 4
    assert m["shiplane_workload_oom_kills"][key(kind="Deployment", workload="web")] == 1
    assert m["shiplane_dora_deployment_frequency"][key(window="30d")] == pytest.approx(0.1)
    assert m["shiplane_dora_lead_time_seconds"][key()] == 1200
    assert m["shiplane_dora_change_failure_rate"][key()] == pytest.approx(0.4)
    assert m["shiplane_dora_time_to_restore_seconds"][key()] == pytest.approx((300 + 0.5 * DAY) / 2)
    # prod has no commit time and no failure: those samples are absent, not zero
    assert key(stage="prod") not in m["shiplane_dora_lead_time_seconds"]
    assert key(stage="prod") not in m.get("shiplane_dora_time_to_restore_seconds", {})
    assert "_created" not in text


def test_the_spec_commit_and_its_time_are_read_from_git(tmp_path):
    import subprocess

    from shiplane.actions.desired import commit_of

    spec = tmp_path / "shiplane.yaml"
    spec.write_text("app: {name: shop}\n")
    assert commit_of([spec]) == ("", None)  # not in a repository: no lead time, no error
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    env = {"GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z", "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z"}
    import os

    subprocess.run([*git, "commit", "-qm", "spec"], check=True, env={**os.environ, **env})
    commit, when = commit_of([spec])
    assert len(commit) == 40 and when == 1767323045.0


def test_oom_kills_count_containers_of_the_selected_pods_whose_termination_was_oomkilled():
    from shiplane.observing.metrics import oom_kills

    def pod(labels, *statuses):
        return {"metadata": {"labels": labels}, "status": {"containerStatuses": list(statuses)}}

    oom = {"terminated": {"reason": "OOMKilled"}}
    pods = [
        pod({"app": "web"}, {"lastState": oom, "state": {"running": {}}}, {"state": oom}),
        pod({"app": "web"}, {"lastState": {"terminated": {"reason": "Error"}}}),
        pod({"app": "db"}, {"lastState": oom}),
    ]
    assert oom_kills(pods, {"app": "web"}) == 2
    assert oom_kills(pods, {"app": "db"}) == 1
    assert oom_kills(pods, {}) == 0  # no selector selects nothing
