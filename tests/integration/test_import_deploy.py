"""Acceptance for `shiplane import compose`: every real-world compose file imports, without
edits, into a spec whose rendered objects pass server-side dry-run on the local control
plane and deploy there with every workload rolled out (kwok runs the pods).

Secrets the samples do not ship come from environment variables (SECRET_ENV), as the
import report says; the wasmedge sample's RuntimeClass prerequisite is created first,
as its report says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shiplane import rendering, spec, status
from shiplane.errors import InputErrors
from shiplane.events import result
from shiplane.kube import Kube, Ref
from shiplane.rendering import exporting
from shiplane.spec.inputs import gather
from tests.unit.importing.realworld import SAMPLES, SECRET_ENV, import_sample

pytestmark = pytest.mark.integration
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args], input=stdin, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def rolled_out(kube: Kube, obj: dict, timeout: float = 120) -> status.Result:
    ref = Ref(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"])
    stream = kube.wait_for(
        ref,
        lambda o: o is not None and status.compute(o).state in (status.State.CURRENT, status.State.FAILED),
        timeout=timeout,
        describe=lambda o: status.compute(o).message if o else "not found",
    )
    return status.compute(result(stream))


def _runtime_classes(kube: Kube, report_text: str) -> None:
    if "a RuntimeClass named wasmedge" in report_text:
        kube.apply(
            {
                "apiVersion": "node.k8s.io/v1",
                "kind": "RuntimeClass",
                "metadata": {"name": "wasmedge"},
                "handler": "wasmedge",
            }
        )


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_imported_compose_deploys(local_cluster, namespace: str, name: str, tmp_path: Path) -> None:
    """`shiplane deploy --stage dev` of the spec as imported, with the dev stage's own policy gate
    (the default: failOn critical), rolls every workload out; test/prod refuse a placeholder image."""
    imported, written = import_sample(name, tmp_path)
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    _runtime_classes(kube, imported.report.to_text())

    env = {**os.environ, "KUBECONFIG": str(kc), **SECRET_ENV}
    run = subprocess.run(
        [sys.executable, "-m", "shiplane", "deploy", "-f", str(written), "--stage", "dev", "-n", namespace],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"{name}: deploy failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"

    dev = spec.load([written]).stage("dev")
    objects = rendering.render(dev, gather(dev, SECRET_ENV))
    workloads = [o for o in objects if o["kind"] in WORKLOADS]
    assert len(workloads) == len(imported.spec["services"])
    for o in workloads:
        live = kube.get(Ref(o["apiVersion"], o["kind"], o["metadata"]["name"], namespace))
        assert live is not None and status.compute(live).state is status.State.CURRENT, f"{name}: {o['kind']}"
    claims = kube.list("v1", "PersistentVolumeClaim", namespace=namespace)
    assert all(c["status"].get("phase") == "Bound" for c in claims)

    placeholders = [s for s, svc in imported.spec["services"].items() if svc["image"].startswith("image-to-fill")]
    loaded = spec.load([written])
    for stage_name in ("test", "prod"):  # in-process: the CLI's exit 2 is checked once, below
        stage = loaded.stage(stage_name)
        if placeholders:
            with pytest.raises(InputErrors, match=f"stage {stage_name!r} pins images"):
                rendering.render(stage, gather(stage, SECRET_ENV))
    if name == "example-voting-app":
        refused = subprocess.run(
            [sys.executable, "-m", "shiplane", "render", "-f", str(written), "--stage", "prod"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 2, refused.stderr
        assert "stage 'prod' pins images" in refused.stderr and "Traceback" not in refused.stderr


def test_imported_voting_manifests_deploy(local_cluster, namespace: str, tmp_path: Path) -> None:
    """`shiplane import manifests` of the voting app's own k8s-specifications deploys the same way."""
    from shiplane.importing import manifests, writing
    from tests.unit.importing.realworld import REALWORLD

    docs, names = manifests.load([REALWORLD / "example-voting-app" / "k8s-specifications"])
    imported, _ = manifests.convert(docs, "voting", names)
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, {}), namespace=namespace)
    kubectl(
        local_cluster.kubeconfig,
        "apply",
        "--server-side",
        "--field-manager=shiplane",
        "-f",
        "-",
        stdin=exporting.to_stream(objects),
    )
    for o in (o for o in objects if o["kind"] in WORKLOADS):
        assert rolled_out(local_cluster.kube, o).state is status.State.CURRENT


def _deploy(spec_path: Path, namespace: str, kubeconfig: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shiplane", "deploy", "-f", str(spec_path), "--stage", "dev", "-n", namespace],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_imported_manifests_manage_their_objects(local_cluster, namespace: str, tmp_path: Path) -> None:
    """The voting app's k8s-specifications plus an annotated ServiceAccount, RBAC, a PriorityClass, a CRD
    and one of its resources: `import manifests` writes no raw/; `shiplane deploy --stage dev` (its own
    gate) applies every object with shiplane's labels, and prunes one once it leaves the spec."""
    import yaml

    from shiplane.importing import manifests, writing
    from tests.unit.importing.realworld import REALWORLD

    extra = Path(__file__).parents[1] / "data" / "import-cases-managed"
    docs, names = manifests.load([REALWORLD / "example-voting-app" / "k8s-specifications", extra])
    imported, raw = manifests.convert(docs, "voting", names)
    assert raw == []
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    assert not (tmp_path / "raw").exists()
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    try:
        run = _deploy(written, namespace, kc)
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
        sa = kube.get(Ref("v1", "ServiceAccount", "vote-reader", namespace))
        assert sa["metadata"]["annotations"]["example.com/role"].endswith(":role/vote-reader")
        assert sa["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "shiplane"
        assert kube.get(Ref("rbac.authorization.k8s.io/v1", "RoleBinding", "vote-reader", namespace)) is not None
        assert kube.get(Ref("scheduling.k8s.io/v1", "PriorityClass", "shiplane-test-import-voting-high")) is not None
        poll = kube.get(Ref("importtest.shiplane.io/v1", "PollSchedule", "cats-vs-dogs", namespace))
        assert poll["spec"] == {"opens": "2026-12-01T09:00:00Z"}
        for o in (o for o in imported.spec["services"]):
            assert kube.get(Ref("networking.k8s.io/v1", "NetworkPolicy", o, namespace)) is not None

        data = yaml.safe_load(written.read_text())
        data["objects"] = [o for o in data["objects"] if o["kind"] != "ServiceAccount"]
        written.write_text(yaml.safe_dump(data, sort_keys=False))
        run = _deploy(written, namespace, kc)
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
        gone = kube.get(Ref("v1", "ServiceAccount", "vote-reader", namespace))
        assert gone is None or gone["metadata"].get("deletionTimestamp"), "the ServiceAccount left the spec: pruned"
    finally:
        for ref in (
            Ref("scheduling.k8s.io/v1", "PriorityClass", "shiplane-test-import-voting-high"),
            Ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", "pollschedules.importtest.shiplane.io"),
        ):
            if kube.get(ref) is not None:
                kube.delete(ref)


def test_shared_claim_binds_and_both_services_roll_out(local_cluster, namespace: str, tmp_path: Path) -> None:
    """A compose volume two services mount becomes one ReadWriteMany claim on the local plane."""
    from shiplane.importing import import_compose, writing
    from tests.unit.importing.test_spec_gaps import SHARED

    (tmp_path / "compose.yaml").write_text(SHARED)
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={})
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    run = _deploy(written, namespace, local_cluster.kubeconfig)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    claim = local_cluster.kube.get(Ref("v1", "PersistentVolumeClaim", "media", namespace))
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for name in ("store", "thumbs"):
        live = local_cluster.kube.get(Ref("apps/v1", "Deployment", name, namespace))
        assert status.compute(live).state is status.State.CURRENT


def test_helm_import_deploys_with_least_privilege_network_policies(
    local_cluster, namespace: str, tmp_path: Path
) -> None:
    """The chart's web names api (API_URL) and api names db (DATABASE_HOST): each NetworkPolicy lets
    exactly that through; the annotated ServiceAccount the api uses is managed from `objects:`."""
    from shiplane.importing import rendered, writing
    from tests.conftest import go_tool

    chart = Path(__file__).parents[1] / "data" / "helm-chart"
    text = rendered.helm_template(go_tool("helm"), chart / "shop", [], "shop")
    imported = rendered.convert(rendered.documents(text, "shop"), "shop", "helm", "shop")
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    run = _deploy(written, namespace, local_cluster.kubeconfig)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    kube = local_cluster.kube
    web = kube.get(Ref("networking.k8s.io/v1", "NetworkPolicy", "web", namespace))["spec"]
    assert [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for rule in web["egress"] for peer in rule["to"]
    ] == ["api"]
    api = kube.get(Ref("networking.k8s.io/v1", "NetworkPolicy", "api", namespace))["spec"]
    assert [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for rule in api["egress"] for peer in rule["to"]
    ] == ["db"]
    api_from = [
        peer["podSelector"]["matchLabels"]
        for rule in api["ingress"]
        for peer in rule.get("from", [])
        if "podSelector" in peer
    ]
    assert {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "shop"} in api_from
    pod_account = kube.get(Ref("apps/v1", "Deployment", "api", namespace))["spec"]["template"]["spec"][
        "serviceAccountName"
    ]
    assert pod_account == "shop-api"
    assert kube.get(Ref("v1", "ServiceAccount", "shop-api", namespace))["metadata"]["annotations"] == {
        "iam.example.com/role": "shop-api"
    }


def test_public_manifests_deploy_with_least_privilege(local_cluster, namespace: str, tmp_path: Path) -> None:
    """Online Boutique's released manifests, as a user runs it: `shiplane import manifests`, then
    `shiplane deploy --stage dev` with the import's own (default) gate. Every Deployment rolls out;
    each NetworkPolicy lets a client reach exactly the services its env names, and a service only from
    those clients (plus the ones without evidence, which keep the broad rule); the ServiceAccounts come
    from objects:, and nothing is left in raw/."""
    from tests.unit.importing.realworld import REALWORLD
    from tests.unit.importing.test_manifests import FRONTEND_PEERS

    manifest = REALWORLD / "online-boutique" / "release" / "kubernetes-manifests.yaml"
    out = tmp_path / "boutique"
    run = subprocess.run(
        [sys.executable, "-m", "shiplane", "import", "manifests", str(manifest), "--name", "boutique", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Next: `shiplane cluster up`, then `shiplane deploy -f shiplane.yaml --stage dev`" in run.stdout
    assert not (out / "raw").exists()
    deployed = _deploy(out / "shiplane.yaml", namespace, local_cluster.kubeconfig)
    assert deployed.returncode == 0, f"{deployed.stdout}\n{deployed.stderr}"
    kube = local_cluster.kube
    deployments = kube.list("apps/v1", "Deployment", namespace=namespace)
    assert len(deployments) == 12
    assert all(status.compute(d).state is status.State.CURRENT for d in deployments)

    def peers(policy: dict, direction: str) -> set[str]:
        key = "to" if direction == "egress" else "from"
        return {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in policy["spec"].get(direction) or []
            for peer in rule.get(key) or []
            if "matchLabels" in peer.get("podSelector", {})
            and "app.kubernetes.io/name" in peer["podSelector"]["matchLabels"]
        }

    policy = {
        n: kube.get(Ref("networking.k8s.io/v1", "NetworkPolicy", n, namespace))
        for n in ("frontend", "cartservice", "productcatalogservice", "redis-cart", "paymentservice")
    }
    assert peers(policy["frontend"], "egress") == FRONTEND_PEERS
    assert peers(policy["cartservice"], "egress") == {"redis-cart"}
    # productcatalogservice is called by the three services whose env names it; the broad rule of
    # the services without evidence is a network label, not one of these names.
    assert peers(policy["productcatalogservice"], "ingress") == {"frontend", "recommendationservice", "checkoutservice"}
    assert peers(policy["redis-cart"], "ingress") == {"cartservice"}
    assert "frontend" not in peers(policy["paymentservice"], "ingress")
    sa = kube.get(Ref("v1", "ServiceAccount", "frontend", namespace))
    assert sa["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "shiplane"
    pod = kube.get(Ref("apps/v1", "Deployment", "frontend", namespace))["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "frontend"
    assert pod["containers"][0]["securityContext"]["runAsUser"] == 1000
