"""Usage against limits in `status`, from metrics.k8s.io served by a real metrics-server.

A second local plane is started with `--metrics-server` (metrics-server v0.8.0 built from the Go
module proxy, registered through the aggregation layer); kwok simulates each container's usage from
the pod annotations `kwok.x-k8s.io/usage-memory|cpu`, and metrics-server scrapes it as it would a
kubelet's /metrics/resource. Without metrics.k8s.io (the session plane), `status` shows no usage
and still exits 0.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from shiplane.kube import Kube, Ref
from shiplane.localcluster import cluster as lc
from shiplane.localcluster.stages import USAGE_CPU, USAGE_MEMORY
from tests.conftest import _consume, go_tool
from tests.integration.deploying import cli, spec, write

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def metrics_cluster(local_cluster):
    go_tool("metrics-server")  # built before the plane starts (skips locally without Go; fails in CI)
    name = f"pytest-{os.getpid()}-metrics"
    try:
        yield _consume(lc.up(name, nodes=1, metrics_server=True), "metrics cluster up")
    finally:
        _consume(lc.down(name), "metrics cluster down")


def _containers(status: dict, workload: str) -> list[dict]:
    (w,) = [w for w in status["tree"]["workloads"] if w["name"] == workload]
    return [c for r in w["revisions"] for p in r["pods"] for c in p["containers"]] + [
        c for p in w["pods"] for c in p["containers"]
    ]


def test_status_shows_usage_against_limits(metrics_cluster, tmp_path):
    kc = metrics_cluster.kubeconfig
    kube = Kube.connect(str(kc))
    ns = "usage-test"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    data = spec(ns, replicas=1, annotations={USAGE_MEMORY: "120Mi", USAGE_CPU: "50m"})
    path = write(tmp_path, data)
    deployed = cli("deploy", "-f", str(path), "-s", "dev", kubeconfig=kc)
    assert deployed.returncode == 0, deployed.stderr
    # metrics-server needs two scrapes 10 s apart after a container starts
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        listed = kube.list("metrics.k8s.io/v1beta1", "PodMetrics", namespace=ns)
        if {m["metadata"]["name"].rsplit("-", 2)[0] for m in listed} >= {"web"} and any(
            m["metadata"]["name"] == "db-0" for m in listed
        ):
            break
        time.sleep(2)
    else:
        pytest.fail(f"metrics.k8s.io had no usage for the pods after 90 s: {listed}")

    out = cli("status", "-f", str(path), "-s", "dev", "-o", "json", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    (web,) = _containers(status, "web")
    assert web["usage"]["memory"] in ("120Mi", str(120 * 2**20), f"{120 * 1024}Ki")
    assert web["limits"]["memory"] == "128Mi"
    assert round(web["memory_share"], 2) == 0.94 and web["near_memory_limit"] is True
    (db,) = _containers(status, "db")
    assert db["near_memory_limit"] is False and db["memory_share"] < 0.1  # kwok's default 1Mi of 128Mi

    text = cli("status", "-f", str(path), "-s", "dev", kubeconfig=kc)
    assert text.returncode == 0, text.stderr
    assert "mem 120Mi/128Mi (94%)" in text.stdout
    assert "near its memory limit" in text.stdout

    # the dashboard's status page reads the same tree
    from starlette.testclient import TestClient

    from shiplane.actions.target import Target
    from shiplane.dashboard.app import Settings, create
    from shiplane.dashboard.sources import Stage
    from tests.integration.test_dashboard import text as page_text

    web_ui = TestClient(create(Settings("shop", [Stage(Target(kube, "shop", "dev", ns))])), base_url="http://127.0.0.1")
    page = web_ui.get("/stages/dev/status")
    assert page.status_code == 200
    assert "mem 120Mi/128Mi (94%)" in page_text(page.text)
    assert 'class="usage bad"' in page.text
    kube.delete(Ref("v1", "Namespace", ns), propagation="Background")


def test_status_without_metrics_api_shows_no_usage(local_cluster, namespace, tmp_path):
    """The session plane serves no metrics.k8s.io: no usage, no error, exit 0."""
    path = write(tmp_path, spec(namespace, replicas=1))
    kc = local_cluster.kubeconfig
    assert cli("deploy", "-f", str(path), "-s", "dev", kubeconfig=kc).returncode == 0
    out = cli("status", "-f", str(path), "-s", "dev", "-o", "json", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    (web,) = _containers(json.loads(out.stdout), "web")
    assert web["usage"] is None and web["near_memory_limit"] is False
