"""API server restart mid-deploy, a long history, and promotion between stages."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from shiplane import status
from shiplane.actions import desired
from shiplane.actions.deploy import Deploy, Options
from shiplane.actions.target import Target
from shiplane.kube import Kube, Ref
from shiplane.localcluster import cluster as lc
from shiplane.localcluster.stages import READY_AFTER
from tests.integration.deploying import SECRET_VALUE, cli, drain, history, spec, start, write

pytestmark = pytest.mark.integration

VOTING = Path(__file__).parents[2] / "examples" / "voting" / "shiplane.yaml"


@pytest.fixture
def own_cluster(local_cluster):
    """A cluster of this test's own (its API server gets restarted); shares the session's state dir."""
    name = f"restart-{os.getpid()}"
    state = drain(lc.up(name))
    yield name, state.kubeconfig
    drain(lc.down(name))


def test_api_server_restart_mid_deploy_completes_cleanly(own_cluster, tmp_path):
    name, kc = own_cluster
    path = write(tmp_path, spec("shop-dev", annotations={READY_AFTER: "10s"}))
    proc = start("deploy", "-f", str(path), "--stage", "dev", "--plain", "--timeout", "120", kubeconfig=kc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(r["outcome"] == "pending" for r in history(path, kc)):
        time.sleep(0.3)
    drain(lc.restart(name, "kube-apiserver"))  # while the deploy waits for its rollout
    _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert [(r["revision"], r["outcome"]) for r in history(path, kc)] == [(1, "deployed")]
    kube = Kube.connect(kc)
    assert status.compute(kube.get(Ref("apps/v1", "Deployment", "web", "shop-dev"))).ready


def test_history_of_100_voting_releases_stays_intact(local_cluster, namespace, monkeypatch):
    monkeypatch.setenv("VOTING_POSTGRES_PASSWORD", SECRET_VALUE)
    kube = local_cluster.kube
    want = desired.load([VOTING], "dev", namespace=namespace)
    target = Target(kube, "voting", "dev", namespace)
    for _ in range(100):
        drain(Deploy(target, want.objects, spec_digest=want.spec_digest, options=Options(retention=150)).run())
    records = target.store().list()
    assert [r.revision for r in records] == list(range(1, 101))
    assert [str(r.outcome) for r in records] == ["superseded"] * 99 + ["deployed"]
    assert all(len(r.objects) == len(want.objects) and r.spec_digest == want.spec_digest for r in records)
    # Default retention then trims to the newest 20, never losing the last success.
    drain(Deploy(target, want.objects, spec_digest=want.spec_digest).run())
    records = target.store().list()
    assert [r.revision for r in records] == list(range(82, 102))


def test_promote_deploys_what_test_runs(local_cluster, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    data = spec("shop-test", tag="1.29")
    data["stages"] = {"test": {"namespace": "promo-test"}, "prod": {"namespace": "promo-prod"}}
    data["services"]["web"]["image"] = "nginx:latest-build"  # what the spec says for every stage
    path = write(tmp_path, data)
    tested = write(
        tmp_path,
        {**data, "services": {**data["services"], "web": {**data["services"]["web"], "image": "nginx:1.29"}}},
        "tested.yaml",
    )
    assert cli("deploy", "-f", str(tested), "--stage", "test", "--plain", kubeconfig=kc).returncode == 0
    out = cli("promote", "-f", str(path), "--from", "test", "--to", "prod", "--plain", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    assert "not pinned to a digest" in out.stderr  # kwok reports no image digests: said, not hidden
    web = kube.get(Ref("apps/v1", "Deployment", "web", "promo-prod"))
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.29"
    assert status.compute(web).ready
    for ns in ("promo-test", "promo-prod"):
        kube.delete(Ref("v1", "Namespace", ns), propagation="Background")
