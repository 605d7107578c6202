"""Relocation: `images push --stage` copies a 3-image app from registry A to the stage's registry B;
the stage's deploy on the local control plane runs the images from B, pinned, and records both."""

from __future__ import annotations

import json
import uuid

import pytest

from shiplane.kube import Ref
from shiplane.registry import Client, Reference
from tests.integration.deploying import cli, history, spec, write
from tests.ociimages import image, push, push_index

pytestmark = pytest.mark.integration


def test_push_then_deploy_runs_images_from_the_stage_registry(
    local_cluster, local_registry, second_registry, namespace, tmp_path
):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    repo = f"reloc{uuid.uuid4().hex[:6]}"
    a, b = local_registry, second_registry
    with Client(insecure={a}) as client:
        digests = {
            "web": push_index(
                client, f"{a}/{repo}/web:1.0", [image(seed="web"), image(seed="web-arm", platform="linux/arm64")]
            ),
            "db": push(client, f"{a}/{repo}/db:16", image([{"pg": b"x" * 5000}, {"conf": b"y"}], seed="db")),
            "worker": push(client, f"{a}/{repo}/worker:3", image(seed="worker")),
        }
    data = spec(namespace, extra_services={"worker": {"image": f"{a}/{repo}/worker:3"}})
    data["services"]["web"]["image"] = f"{a}/{repo}/web:1.0"
    data["services"]["db"]["image"] = f"{a}/{repo}/db:16"
    data["stages"] = {"dev": {"namespace": namespace, "registry": {"host": b, "prefix": "mirror", "insecure": True}}}
    path = write(tmp_path, data)

    # before the push, a deploy refuses: the images are not in the stage's registry (nothing applied)
    early = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert early.returncode == 2, early.stderr
    assert "images push --stage dev" in early.stderr
    assert kube.list("apps/v1", "Deployment", namespace=namespace) == []

    dry = cli("images", "push", "-f", str(path), "--stage", "dev", "--dry-run", "-o", "json", kubeconfig=kc)
    assert dry.returncode == 0, dry.stderr
    assert {m["action"] for m in json.loads(dry.stdout)["images"]} == {"would-copy"}
    with Client(insecure={b}) as reader:
        assert not reader.has_manifest(Reference.parse(f"{b}/mirror/{repo}/web:1.0"))  # dry run wrote nothing

    out = cli("images", "push", "-f", str(path), "--stage", "dev", "-o", "json", "--plain", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    moved = {m["image"].split("/")[-1]: m for m in json.loads(out.stdout)["images"]}
    assert {m["action"] for m in moved.values()} == {"copied"} and len(moved) == 3
    assert moved["web:1.0"]["target"] == f"{b}/mirror/{repo}/web:1.0@{digests['web']}"
    assert "[1/3]" in out.stderr  # progress per image
    again = cli("images", "push", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc)
    assert {m["action"] for m in json.loads(again.stdout)["images"]} == {"present"}
    with Client(insecure={b}) as reader:  # both platforms of the index arrived
        ref = Reference.parse(f"{b}/mirror/{repo}/web:1.0")
        assert reader.resolve(ref) == digests["web"]
        assert (
            reader.manifest(ref, platform="linux/arm64").digest == image(seed="web-arm", platform="linux/arm64").digest
        )

    rendered = cli("render", "-f", str(path), "--stage", "dev", "--pin", kubeconfig=kc)
    assert rendered.returncode == 0, rendered.stderr
    assert f"image: {b}/mirror/{repo}/worker:3@{digests['worker']}" in rendered.stdout
    offline = cli("render", "-f", str(path), "--stage", "dev", kubeconfig=kc)  # offline: as written
    assert f"image: {a}/{repo}/worker:3\n" in offline.stdout

    deployed = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert deployed.returncode == 0, deployed.stderr
    live = {
        name: kube.get(Ref("apps/v1", kind, name, namespace))["spec"]["template"]["spec"]["containers"][0]["image"]
        for kind, name in (("Deployment", "web"), ("StatefulSet", "db"), ("Deployment", "worker"))
    }
    assert live == {
        "web": f"{b}/mirror/{repo}/web:1.0@{digests['web']}",
        "db": f"{b}/mirror/{repo}/db:16@{digests['db']}",
        "worker": f"{b}/mirror/{repo}/worker:3@{digests['worker']}",
    }
    [record] = history(path, kc)
    assert record["pins"]["Deployment/web/web"] == {
        "image": f"{a}/{repo}/web:1.0",
        "digest": digests["web"],
        "reference": live["web"],
        "source": f"{a}/{repo}/web:1.0@{digests['web']}",
    }


def test_push_needs_a_stage_registry(tmp_path, local_registry):
    data = spec("x")
    path = write(tmp_path, data)
    out = cli("images", "push", "-f", str(path), "--stage", "dev", kubeconfig=tmp_path / "none")
    assert out.returncode == 2 and "stage 'dev' has no registry" in out.stderr


def test_promote_into_a_relocated_stage_runs_the_same_digest_from_its_registry(
    local_cluster, local_registry, second_registry, tmp_path
):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    suffix = uuid.uuid4().hex[:6]
    repo, test_ns, prod_ns = f"promo{suffix}", f"reloc-test-{suffix}", f"reloc-prod-{suffix}"
    a, b = local_registry, second_registry
    with Client(insecure={a}) as client:
        web = push(client, f"{a}/{repo}/web:1.0", image(seed=f"web{suffix}"))
        db = push(client, f"{a}/{repo}/db:16", image(seed=f"db{suffix}"))
    data = spec(test_ns)
    data["services"]["web"]["image"] = f"{a}/{repo}/web:1.0"
    data["services"]["db"]["image"] = f"{a}/{repo}/db:16"
    data["stages"] = {
        "test": {"namespace": test_ns, "images": {"pin": True}},
        "prod": {"namespace": prod_ns, "registry": {"host": b, "prefix": "eu"}},
    }
    path = write(tmp_path, data)
    try:
        assert cli("deploy", "-f", str(path), "--stage", "test", "--plain", kubeconfig=kc).returncode == 0
        early = cli("promote", "-f", str(path), "--from", "test", "--to", "prod", "--plain", kubeconfig=kc)
        assert early.returncode == 2 and "images push --stage prod" in early.stderr, early.stderr
        assert cli("images", "push", "-f", str(path), "--stage", "prod", kubeconfig=kc).returncode == 0
        with Client(insecure={a}) as client:  # the tag moves at the source after the push: prod still gets test's
            push(client, f"{a}/{repo}/web:1.0", image(seed=f"web-newer{suffix}"))
        out = cli("promote", "-f", str(path), "--from", "test", "--to", "prod", "--plain", kubeconfig=kc)
        assert out.returncode == 0, out.stderr
        live = kube.get(Ref("apps/v1", "Deployment", "web", prod_ns))["spec"]["template"]["spec"]["containers"][0]
        assert live["image"] == f"{b}/eu/{repo}/web:1.0@{web}"
        prod = json.loads(cli("history", "-f", str(path), "--stage", "prod", "-o", "json", kubeconfig=kc).stdout)
        pins = prod[-1]["pins"]
        assert pins["Deployment/web/web"]["source"] == f"{a}/{repo}/web:1.0@{web}"
        assert pins["StatefulSet/db/db"]["digest"] == db
    finally:
        for ns in (test_ns, prod_ns):
            kube.delete(Ref("v1", "Namespace", ns), propagation="Background")
