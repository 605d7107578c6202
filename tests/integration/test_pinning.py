"""Digest pinning on the local control plane with a real local registry: deploy, plan, promote, failures."""

from __future__ import annotations

import json
import uuid

import pytest

from shiplane.kube import Ref
from shiplane.localcluster.processes import free_ports
from shiplane.registry import Client
from tests.integration.deploying import cli, history, spec, write
from tests.ociimages import image, push

pytestmark = pytest.mark.integration


def pinned_app(namespace: str, registry: str, repo: str, **stage) -> dict:
    data = spec(namespace)
    data["services"]["web"]["image"] = f"{registry}/{repo}/web:1.0"
    data["services"]["db"]["image"] = f"{registry}/{repo}/db:16"
    data["stages"] = {"dev": {"namespace": namespace, "images": {"pin": True}, **stage}}
    return data


def container_image(kube, kind: str, name: str, ns: str) -> str:
    api = "apps/v1"
    return kube.get(Ref(api, kind, name, ns))["spec"]["template"]["spec"]["containers"][0]["image"]


def push_app(registry: str, repo: str, seed: str = "") -> dict[str, str]:
    with Client(insecure={registry}) as client:
        return {
            "web": push(client, f"{registry}/{repo}/web:1.0", image(seed=f"web{seed}")),
            "db": push(client, f"{registry}/{repo}/db:16", image(seed=f"db{seed}")),
        }


def test_deploy_pins_digests_and_records_tag_and_digest(local_cluster, local_registry, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    repo = f"pin{uuid.uuid4().hex[:6]}"
    digests = push_app(local_registry, repo)
    path = write(tmp_path, pinned_app(namespace, local_registry, repo))

    planned = cli("plan", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc)
    assert planned.returncode == 1, planned.stderr
    assert json.loads(planned.stdout)["pins"]["Deployment/web/web"]["digest"] == digests["web"]

    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    web_ref = f"{local_registry}/{repo}/web:1.0@{digests['web']}"
    assert f"pin: {local_registry}/{repo}/web:1.0 → {web_ref}" in out.stderr
    assert container_image(kube, "Deployment", "web", namespace) == web_ref
    assert container_image(kube, "StatefulSet", "db", namespace) == f"{local_registry}/{repo}/db:16@{digests['db']}"
    [record] = history(path, kc)
    assert record["pins"]["Deployment/web/web"] == {
        "image": f"{local_registry}/{repo}/web:1.0",
        "digest": digests["web"],
        "reference": web_ref,
    }
    assert record["pins"]["StatefulSet/db/db"]["digest"] == digests["db"]

    # the tags move: plan shows the two workloads' images changing to the new digests, nothing else
    moved = push_app(local_registry, repo, seed="-v2")
    again = cli("plan", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert again.returncode == 1
    assert again.stdout.strip().endswith("plan: 10 unchanged, 2 update")
    assert f"pin: {local_registry}/{repo}/web:1.0 → {local_registry}/{repo}/web:1.0@{moved['web']}" in again.stderr

    # deploy the moved tags, then roll back: the first digests run again, and the record says so
    assert cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    assert container_image(kube, "Deployment", "web", namespace).endswith(moved["web"])
    back = cli("rollback", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert back.returncode == 0, back.stderr
    assert container_image(kube, "Deployment", "web", namespace) == web_ref
    assert history(path, kc)[-1]["pins"] == record["pins"]


def test_promote_runs_the_same_digests_even_after_the_tag_moved(local_cluster, local_registry, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    suffix = uuid.uuid4().hex[:6]
    repo, test_ns, prod_ns = f"promo{suffix}", f"pin-test-{suffix}", f"pin-prod-{suffix}"
    tested = push_app(local_registry, repo)
    data = pinned_app(test_ns, local_registry, repo)
    data["stages"] = {
        "test": {"namespace": test_ns, "images": {"pin": True}},
        "prod": {"namespace": prod_ns, "images": {"pin": True}},
    }
    path = write(tmp_path, data)
    try:
        assert cli("deploy", "-f", str(path), "--stage", "test", "--plain", kubeconfig=kc).returncode == 0
        push_app(local_registry, repo, seed="-newer")  # someone pushes over the tags after test passed
        out = cli("promote", "-f", str(path), "--from", "test", "--to", "prod", "--plain", kubeconfig=kc)
        assert out.returncode == 0, out.stderr
        assert "not pinned" not in out.stderr
        assert container_image(kube, "Deployment", "web", prod_ns) == f"{local_registry}/{repo}/web:1.0@{tested['web']}"
        records = {
            stage: json.loads(cli("history", "-f", str(path), "--stage", stage, "-o", "json", kubeconfig=kc).stdout)[
                -1
            ]["pins"]
            for stage in ("test", "prod")
        }
        assert {k: v["digest"] for k, v in records["test"].items()} == {
            k: v["digest"] for k, v in records["prod"].items()
        }
        assert records["prod"]["Deployment/web/web"]["digest"] == tested["web"]
    finally:
        for ns in (test_ns, prod_ns):
            kube.delete(Ref("v1", "Namespace", ns), propagation="Background")


def _nothing_applied(kube, namespace: str, path, kc) -> None:
    assert kube.list("apps/v1", "Deployment", namespace=namespace) == []
    assert kube.list("apps/v1", "StatefulSet", namespace=namespace) == []
    assert history(path, kc) == []


def test_registry_down_is_exit_3_and_nothing_is_applied(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    down = f"127.0.0.1:{free_ports(1)[0]}"
    path = write(tmp_path, pinned_app(namespace, down, "app"))
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert out.returncode == 3, out.stderr
    assert "nothing was applied" in out.stderr and f"{down}/app/web:1.0" in out.stderr
    assert "Deployment/web/web" in out.stderr and "connection refused" in out.stderr
    assert "Traceback" not in out.stderr
    _nothing_applied(kube, namespace, path, kc)


def test_missing_image_is_a_preflight_error_naming_the_service(local_cluster, local_registry, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    repo = f"miss{uuid.uuid4().hex[:6]}"
    with Client(insecure={local_registry}) as client:
        push(client, f"{local_registry}/{repo}/db:16", image(seed="db-only"))
    path = write(tmp_path, pinned_app(namespace, local_registry, repo))
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert out.returncode == 2, out.stderr
    assert f"Deployment/web/web: image '{local_registry}/{repo}/web:1.0': cannot be resolved" in out.stderr
    assert "StatefulSet/db" not in out.stderr  # the image that exists is not reported
    _nothing_applied(kube, namespace, path, kc)


def test_refused_credentials_are_exit_3_naming_the_workload(local_registry, tmp_path, monkeypatch):
    from shiplane.actions import pinning
    from shiplane.errors import RegistryDenied
    from shiplane.spec.app import Stage
    from tests.registryproxy import AuthProxy

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no config file: anonymous
    with AuthProxy(local_registry, mode="bearer") as proxy:
        objects = [
            {
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {"template": {"spec": {"containers": [{"name": "web", "image": f"{proxy.host}/a/web:1"}]}}},
            }
        ]
        stage = Stage(namespace="x", images={"pin": True})
        with pinning.client_for(None, [f"{proxy.host}/a/web:1"]) as client, pytest.raises(RegistryDenied) as err:
            pinning.resolve(objects, stage, client)
    assert err.value.exit_code == 3
    assert "Deployment/web/web" in err.value.message and "anonymously" in err.value.message
