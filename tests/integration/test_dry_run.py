"""Dry-runs change nothing, and read-only commands need no secret values (local control plane).

"Nothing" is measured: every object's resourceVersion in the namespace (each kind shiplane deploys,
plus the Secrets, Leases and ConfigMaps of its bookkeeping and the Pods and ReplicaSets a rollout
would create) and the release list, before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shiplane.kube import Ref
from tests.integration.deploying import SECRET_VALUE, cli, no_secret_in, outcomes, spec, write
from tests.integration.deploying import history as history_of

pytestmark = pytest.mark.integration

KINDS = [
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("coordination.k8s.io/v1", "Lease"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("networking.k8s.io/v1", "Ingress"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
]


def versions(kube, namespace: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for api, kind in KINDS:
        for obj in kube.list(api, kind, namespace=namespace):
            out[f"{kind}/{obj['metadata']['name']}"] = obj["metadata"]["resourceVersion"]
    ns = kube.get(Ref("v1", "Namespace", namespace))
    out["Namespace"] = ns["metadata"]["resourceVersion"] if ns else None
    return out


def settled(kube, namespace: str) -> dict[str, str | None]:
    """The versions once controllers stopped writing status (two reads 2 s apart agree)."""
    previous = versions(kube, namespace)
    for _ in range(20):
        time.sleep(2)
        now = versions(kube, namespace)
        if now == previous:
            return now
        previous = now
    raise AssertionError(f"namespace {namespace} kept changing; cannot measure a dry-run against it")


def bare(*args: str, kubeconfig: Path, **env: str) -> subprocess.CompletedProcess:
    """The CLI without any secret value in its environment (unless given here)."""
    environ = {k: v for k, v in os.environ.items() if k != "SHOP_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "shiplane", *args],
        env={**environ, "KUBECONFIG": str(kubeconfig), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def web_image(kube, namespace: str) -> str:
    return kube.get(Ref("apps/v1", "Deployment", "web", namespace))["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]


def test_deploy_dry_run_writes_nothing(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    fresh = f"{namespace}-new"
    first = write(tmp_path, spec(fresh), "fresh.yaml")
    out = cli("deploy", "-f", str(first), "--stage", "dev", "--dry-run", kubeconfig=kc)
    assert out.returncode == 1, out.stderr  # 1: something would change
    assert "+ Deployment" in out.stdout and "(create)" in out.stdout
    assert kube.get(Ref("v1", "Namespace", fresh)) is None  # not even the namespace was created

    path = write(tmp_path, spec(namespace))
    assert cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    path = write(tmp_path, spec(namespace, tag="1.28"))
    before = settled(kube, namespace)
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--dry-run", kubeconfig=kc)
    assert out.returncode == 1, out.stderr
    assert "~ spec.template.spec.containers[0].image: nginx:1.27 -> nginx:1.28" in out.stdout
    assert versions(kube, namespace) == before
    assert outcomes(path, kc) == [(1, "deployed")]
    assert web_image(kube, namespace) == "nginx:1.27"

    # The gate runs in a dry-run as in the real run: refused (exit 5), still nothing written.
    latest = write(tmp_path, spec(namespace, tag="latest"), "latest.yaml")
    refused = cli("deploy", "-f", str(latest), "--stage", "dev", "--dry-run", kubeconfig=kc)
    assert refused.returncode == 5 and "image-tag-latest" in refused.stderr
    assert versions(kube, namespace) == before
    no_secret_in(out.stdout, out.stderr)


def test_rollback_dry_run_writes_nothing_and_rollback_needs_no_secret(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    path = write(tmp_path, spec(namespace))
    assert cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    first_secrets = {s["metadata"]["name"] for s in kube.list("v1", "Secret", namespace=namespace)}
    path = write(tmp_path, spec(namespace, tag="1.28"))
    # Revision 2 rotates the secret: revision 1's Secret is only kept for a rollback.
    second = bare("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc, SHOP_API_KEY="rotated")
    assert second.returncode == 0, second.stderr
    before = settled(kube, namespace)

    dry = bare("rollback", "-f", str(path), "--stage", "dev", "--dry-run", kubeconfig=kc)
    assert dry.returncode == 1, dry.stderr
    assert "rollback of shop/dev to revision 1 would:" in dry.stdout
    assert "~ spec.template.spec.containers[0].image: nginx:1.28 -> nginx:1.27" in dry.stdout
    assert not any(f"/{name} (prune)" in dry.stdout for name in first_secrets)  # its own Secret stays
    as_data = bare("rollback", "-f", str(path), "--stage", "dev", "--dry-run", "-o", "json", kubeconfig=kc)
    assert as_data.returncode == 1, as_data.stderr
    assert {c["name"] for c in json.loads(as_data.stdout)["changes"] if c["action"] == "update"} >= {"web"}
    assert versions(kube, namespace) == before  # no record, no lock, no object
    assert outcomes(path, kc) == [(1, "superseded"), (2, "deployed")]
    assert web_image(kube, namespace) == "nginx:1.28"

    # The real rollback, also without the secret value: the recorded release's Secrets are in the cluster.
    real = bare("rollback", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert real.returncode == 0, real.stderr
    assert web_image(kube, namespace) == "nginx:1.27"
    assert outcomes(path, kc)[-1] == (3, "deployed")
    still = {s["metadata"]["name"] for s in kube.list("v1", "Secret", namespace=namespace)}
    assert {n for n in first_secrets if not n.startswith("shiplane.release.")} <= still
    no_secret_in(dry.stdout, dry.stderr, real.stdout, real.stderr)


def test_promote_dry_run_writes_nothing(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    prod = f"{namespace}-prod"
    data = spec(namespace, tag="1.27")
    data["stages"] = {"test": {"namespace": namespace}, "prod": {"namespace": prod}}
    path = write(tmp_path, data)
    tested = {**data, "services": {**data["services"], "web": {**data["services"]["web"], "image": "nginx:1.29"}}}
    tested_path = write(tmp_path, tested, "tested.yaml")
    try:
        assert cli("deploy", "-f", str(tested_path), "--stage", "test", "--plain", kubeconfig=kc).returncode == 0
        fresh = cli("promote", "-f", str(path), "--from", "test", "--to", "prod", "--dry-run", kubeconfig=kc)
        assert fresh.returncode == 1, fresh.stderr
        assert kube.get(Ref("v1", "Namespace", prod)) is None  # nothing created in the target stage

        assert cli("deploy", "-f", str(path), "--stage", "prod", "--plain", kubeconfig=kc).returncode == 0
        before, test_before = settled(kube, prod), settled(kube, namespace)
        out = cli("promote", "-f", str(path), "--from", "test", "--to", "prod", "--dry-run", kubeconfig=kc)
        assert out.returncode == 1, out.stderr
        assert "promotion of shop from test to prod would:" in out.stdout
        assert "~ spec.template.spec.containers[0].image: nginx:1.27 -> nginx:1.29" in out.stdout
        assert versions(kube, prod) == before and versions(kube, namespace) == test_before
        prod_history = cli("history", "-f", str(path), "--stage", "prod", "-o", "json", kubeconfig=kc)
        assert '"revision": 1' in prod_history.stdout and '"revision": 2' not in prod_history.stdout
        assert web_image(kube, prod) == "nginx:1.27"
    finally:
        kube.delete(Ref("v1", "Namespace", prod), propagation="Background")


def test_read_only_commands_need_no_secret_values(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    cache = {"cache": {"image": "redis:7-alpine", "ports": {"redis": 6379}}}
    path = write(tmp_path, spec(namespace, extra_services=cache))
    assert cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    path = write(tmp_path, spec(namespace))  # drops the cache service
    before = settled(kube, namespace)

    history = bare("history", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert history.returncode == 0, history.stderr
    assert "deployed" in history.stdout
    status = bare("status", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert status.returncode == 0, status.stderr
    assert "Deployment   web" in status.stdout
    unlock = bare("unlock", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert unlock.returncode == 0 and "no lock was held" in unlock.stdout, unlock.stderr
    prune = bare("plan", "-f", str(path), "--stage", "dev", "--prune-only", kubeconfig=kc)
    assert prune.returncode == 1, prune.stderr  # 1: something would be pruned
    assert f"- Deployment {namespace}/cache (prune)" in prune.stdout
    assert f"- Service {namespace}/cache (prune)" in prune.stdout
    assert versions(kube, namespace) == before

    # Commands that render new Secrets still ask for the value, naming it.
    plan = bare("plan", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert plan.returncode == 2 and "environment variable SHOP_API_KEY is not set" in plan.stderr

    # What --prune-only listed is what the deploy prunes.
    deployed = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert deployed.returncode == 0, deployed.stderr
    shown = {line.strip() for line in prune.stdout.splitlines() if line.strip().endswith("(prune)")}
    pruned = {f"- {r['kind']} {r.get('namespace', '')}/{r['name']} (prune)" for r in history_of(path, kc)[-1]["pruned"]}
    assert shown == pruned
    assert SECRET_VALUE not in prune.stdout + history.stdout + status.stdout
