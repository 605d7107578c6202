"""`shiplane metrics` on the local control plane: a spec in git is deployed (its commit time is
recorded), then the exposition text is parsed back with prometheus_client's parser."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shiplane.localcluster.stages import FAULT
from tests.integration.deploying import cli, history, spec, write
from tests.integration.test_dry_run import bare

pytestmark = pytest.mark.integration


def _commit(repo) -> float:
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run(
        [*git, "commit", "-qm", "spec"], check=True, env={**os.environ, "GIT_COMMITTER_DATE": "@1700000000 +0000"}
    )
    return 1700000000.0


def test_metrics_of_a_deployed_stage_parse_back(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    path = write(tmp_path, spec(namespace))
    committed = _commit(tmp_path)
    deployed = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert deployed.returncode == 0, deployed.stderr
    (record,) = history(path, kc)
    assert record["committed"] == committed and len(record["commit"]) == 40

    out = bare("metrics", "-f", str(path), "--stage", "dev", kubeconfig=kc)  # no secret value needed
    assert out.returncode == 0, out.stderr
    samples = {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("app", "stage")))): s.value
        for family in text_string_to_metric_families(out.stdout)
        for s in family.samples
        if s.labels.get("app") == "shop" and s.labels.get("stage") == "dev"
    }
    assert samples[("shiplane_releases_total", (("outcome", "deployed"),))] == 1
    assert samples[("shiplane_current_revision", ())] == 1
    assert samples[("shiplane_rollbacks_total", ())] == 0
    assert samples[("shiplane_deploy_duration_seconds_count", ())] == 1
    web = (("kind", "Deployment"), ("workload", "web"))
    assert samples[("shiplane_workload_replicas_desired", web)] == 2
    assert samples[("shiplane_workload_replicas_ready", web)] == 2
    assert samples[("shiplane_workload_container_restarts", web)] == 0
    assert samples[("shiplane_workload_oom_kills", web)] == 0
    assert samples[("shiplane_workload_replicas_ready", (("kind", "StatefulSet"), ("workload", "db")))] == 1
    assert samples[("shiplane_dora_change_failure_rate", ())] == 0
    assert samples[("shiplane_dora_lead_time_seconds", ())] == pytest.approx(record["finished"] - committed)
    assert samples[("shiplane_dora_deployment_frequency", (("window", "30d"),))] == pytest.approx(1 / 30)

    data = json.loads(bare("metrics", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc).stdout)
    assert data[0]["dora"]["changes"] == 1 and data[0]["releases"] == 1

    # A change that never becomes ready is rolled back automatically: DORA counts a failure and a restore.
    bad = write(tmp_path, spec(namespace, tag="1.28", annotations={FAULT: "never-ready"}), "bad.yaml")
    failed = cli("deploy", "-f", str(bad), "--stage", "dev", "--plain", "--timeout", "15", kubeconfig=kc)
    assert failed.returncode == 1, failed.stderr
    rows = {r["revision"]: r for r in history(path, kc)}
    assert [rows[r]["outcome"] for r in (1, 2, 3)] == ["superseded", "rolled-back", "deployed"]
    after = {
        (s.name, s.labels.get("outcome", "")): s.value
        for family in text_string_to_metric_families(
            bare("metrics", "-f", str(path), "--stage", "dev", kubeconfig=kc).stdout
        )
        for s in family.samples
        if s.labels.get("stage") == "dev"
    }
    assert after[("shiplane_dora_change_failure_rate", "")] == 0.5  # 2 changes (1, 2); 3 is the rollback
    assert after[("shiplane_rollbacks_total", "")] == 1
    assert after[("shiplane_releases_total", "rolled-back")] == 1
    assert after[("shiplane_current_revision", "")] == 3
    assert after[("shiplane_dora_time_to_restore_seconds", "")] == pytest.approx(
        rows[3]["finished"] - rows[2]["finished"]
    )
