"""The voting example, rendered per stage, is accepted by a real API server and becomes ready.

Every object is first server-side dry-run (the API server's own validation and
admission), then applied with `kubectl apply --server-side` into a fresh namespace of
the local control plane; kwok runs the pods, so Deployments must become Available and
the StatefulSet's replicas ready.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from shiplane import rendering, schemas, spec
from shiplane.rendering import exporting
from shiplane.spec.inputs import gather

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "voting" / "shiplane.yaml"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("stage_name", ["dev", "test", "prod"])
def test_voting_stage_deploys_and_becomes_ready(local_cluster, namespace: str, stage_name: str) -> None:
    stage = spec.load([EXAMPLE]).stage(stage_name)
    objects = rendering.render(
        stage, gather(stage, {"VOTING_POSTGRES_PASSWORD": "integration-test"}), namespace=namespace
    )
    schemas.validate(objects, stage.kubernetes_version)
    manifest = exporting.to_stream(objects)
    kc = local_cluster.kubeconfig

    # 1. Every object passes the API server's validation and admission without being stored.
    for obj in objects:
        kubectl(
            kc,
            "apply",
            "--server-side",
            "--field-manager=shiplane",
            "--dry-run=server",
            "-f",
            "-",
            stdin=exporting.to_yaml(obj),
        )
    assert json.loads(kubectl(kc, "get", "all", "-n", namespace, "-o", "json"))["items"] == []

    # 2. Apply for real, in apply order, and check everything arrived.
    kubectl(kc, "apply", "--server-side", "--field-manager=shiplane", "-f", "-", stdin=manifest)
    for obj in objects:
        kind, name = obj["kind"].lower(), obj["metadata"]["name"]
        kubectl(kc, "get", "-n", namespace, f"{kind}/{name}", "-o", "name")

    # 3. Workloads become ready.
    deployments = [o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"]
    assert deployments, "the voting app has Deployments"
    kubectl(
        kc,
        "wait",
        "-n",
        namespace,
        "--for=condition=Available",
        "--timeout=240s",
        *[f"deployment/{d}" for d in deployments],
        timeout=300,
    )
    for sts in (o for o in objects if o["kind"] == "StatefulSet"):
        want = sts["spec"].get("replicas", 1)
        kubectl(
            kc,
            "wait",
            "-n",
            namespace,
            f"--for=jsonpath={{.status.readyReplicas}}={want}",
            "--timeout=240s",
            f"statefulset/{sts['metadata']['name']}",
            timeout=300,
        )
    # the StatefulSet's claim was bound by the cluster's default StorageClass
    claims = json.loads(kubectl(kc, "get", "pvc", "-n", namespace, "-o", "json"))["items"]
    assert claims and all(c["status"]["phase"] == "Bound" for c in claims)
