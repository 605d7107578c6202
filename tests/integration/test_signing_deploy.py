"""The signature gate on the local control plane with the local registry: a stage whose
`images.signatures` are required refuses unsigned, wrong-key and tampered images (exit 5, naming the
workload, image and why) with nothing applied; a signed image deploys and its key is in the release;
promotion into such a stage is gated the same way."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shiplane.kube import Ref
from shiplane.registry import Client, Reference
from shiplane.signing import keys, remote
from tests.integration.deploying import cli, write
from tests.ociimages import image, push

pytestmark = pytest.mark.integration


def _pair(where: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = where / f"{name}.pem", where / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def _spec(registry: str, image_ref: str, stages: dict) -> dict:
    return {
        "app": {"name": "signed"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "services": {"web": {"image": image_ref, "ports": {"http": 8080}}},
        "stages": {
            name: {"namespace": ns, "registry": {"host": registry, "insecure": True}, **extra}
            for name, (ns, extra) in stages.items()
        },
    }


def _required(pub: str) -> dict:
    return {"images": {"signatures": {"keys": [pub], "required": True}}}


def _push(registry: str, seed: str) -> str:
    ref = f"{registry}/app/web-{uuid.uuid4().hex[:6]}:1.0"
    with Client(insecure={registry}) as client:
        push(client, Reference.parse(ref), image(seed=seed))
    return ref


def _nothing_applied(kube, namespace: str) -> None:
    assert kube.get(Ref("apps/v1", "Deployment", "web", namespace)) is None
    assert not kube.list("v1", "Secret", namespace=namespace, label_selector="app.kubernetes.io/managed-by=shiplane")


def test_required_signatures_gate_deploy(local_cluster, namespace, local_registry, tmp_path):
    kube, kubeconfig = local_cluster.kube, local_cluster.kubeconfig
    private, public = _pair(tmp_path, "team")
    wrong_private, _ = _pair(tmp_path, "other")
    stages = {"dev": (namespace, _required("team.pub"))}

    def deploy(ref: str):
        path = write(tmp_path, _spec(local_registry, ref, stages))
        return cli("deploy", "-f", str(path), "--stage", "dev", "--plain", "--timeout", "60", kubeconfig=kubeconfig)

    unsigned = _push(local_registry, "unsigned")
    out = deploy(unsigned)
    assert out.returncode == 5, out.stderr
    assert "Deployment/web container web" in out.stderr and unsigned in out.stderr and "no signature" in out.stderr
    _nothing_applied(kube, namespace)

    wrong = _push(local_registry, "wrong-key")
    with Client(insecure={local_registry}) as client:
        remote.sign(client, wrong, keys.read_private(str(wrong_private)))
    out = deploy(wrong)
    assert out.returncode == 5 and "none of the trusted keys" in out.stderr, out.stderr
    _nothing_applied(kube, namespace)

    tampered = _push(local_registry, "tampered")
    with Client(insecure={local_registry}) as client:
        remote.sign(client, tampered, keys.read_private(str(private)))
        push(client, Reference.parse(tampered), image(seed="changed after signing"))
    out = deploy(tampered)
    assert out.returncode == 5 and tampered in out.stderr, out.stderr
    _nothing_applied(kube, namespace)

    good = _push(local_registry, "good")
    with Client(insecure={local_registry}) as client:
        remote.sign(client, good, keys.read_private(str(private)))
        digest = client.resolve(Reference.parse(good))
    out = deploy(good)
    assert out.returncode == 0, out.stderr
    assert "verified with sha256:" in out.stderr
    history = cli(
        "history", "-f", str(tmp_path / "shiplane.yaml"), "--stage", "dev", "-o", "json", kubeconfig=kubeconfig
    )
    [release] = json.loads(history.stdout)
    [record] = release["signatures"]
    # the stage has a registry, so the image was pinned before the gate: the pinned reference is verified
    assert record["image"] == f"{good}@{digest}" and record["digest"] == digest and record["verified"]
    assert record["fingerprint"] == keys.read_public(str(public)).fingerprint and record["layout"] == "legacy"
    live = kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == f"{good}@{digest}"  # what was verified


def test_promotion_into_a_signed_stage_is_gated(local_cluster, namespace, local_registry, tmp_path):
    kube, kubeconfig = local_cluster.kube, local_cluster.kubeconfig
    _pair(tmp_path, "team")
    prod = f"{namespace[:40]}-prod"
    unsigned = _push(local_registry, "promote-unsigned")
    path = write(
        tmp_path, _spec(local_registry, unsigned, {"test": (namespace, {}), "prod": (prod, _required("team.pub"))})
    )
    try:
        out = cli("deploy", "-f", str(path), "--stage", "test", "--plain", "--timeout", "60", kubeconfig=kubeconfig)
        assert out.returncode == 0, out.stderr
        out = cli("promote", "-f", str(path), "--from", "test", "--to", "prod", "--plain", kubeconfig=kubeconfig)
        assert out.returncode == 5, out.stderr
        assert "signature policy refuses" in out.stderr and unsigned in out.stderr
        assert kube.get(Ref("apps/v1", "Deployment", "web", prod)) is None
    finally:
        kube.delete(Ref("v1", "Namespace", prod), propagation="Background")


@pytest.mark.parametrize("copy_signatures", [True, False])
def test_relocated_image_is_verified(
    local_cluster, namespace, local_registry, second_registry, tmp_path, copy_signatures
):
    """Signed in the source registry, relocated with `images push` into the stage's registry: with its
    signatures copied along (the default) the gate finds them where the image is deployed; with
    `--no-referrers` it finds the signature of the same digest at the source (recorded as signedAt)."""
    kube, kubeconfig = local_cluster.kube, local_cluster.kubeconfig
    private, public = _pair(tmp_path, "team")
    source = _push(local_registry, f"relocated-{copy_signatures}")
    with Client(insecure={local_registry}) as client:
        remote.sign(client, source, keys.read_private(str(private)))
        digest = client.resolve(Reference.parse(source))
    doc = _spec(second_registry, source, {"prod": (namespace, _required("team.pub"))})
    doc["stages"]["prod"]["registry"]["prefix"] = "mirror"
    path = write(tmp_path, doc)
    flags = [] if copy_signatures else ["--no-referrers"]
    out = cli("images", "push", "-f", str(path), "--stage", "prod", "--plain", *flags, kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stderr
    out = cli("deploy", "-f", str(path), "--stage", "prod", "--plain", "--timeout", "60", kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stderr
    relocated = f"{second_registry}/mirror/{source.split('/', 1)[1]}@{digest}"
    live = kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == relocated
    history = cli("history", "-f", str(path), "--stage", "prod", "-o", "json", kubeconfig=kubeconfig)
    [record] = json.loads(history.stdout)[0]["signatures"]
    assert record["image"] == relocated and record["verified"]
    assert record["fingerprint"] == keys.read_public(str(public)).fingerprint
    assert record.get("signedAt") == (None if copy_signatures else f"{source}@{digest}")


def test_unreachable_registry_is_exit_3_with_nothing_applied(local_cluster, namespace, tmp_path):
    """No stage registry, no pinning: the signature gate is the first to ask the registry; it being down
    is exit 3 naming the image, never "unsigned" and never a partial deploy."""
    from shiplane.localcluster.processes import free_ports

    kube, kubeconfig = local_cluster.kube, local_cluster.kubeconfig
    _pair(tmp_path, "team")
    down = f"127.0.0.1:{free_ports(1)[0]}"
    doc = _spec(down, f"{down}/app/web:1.0", {"dev": (namespace, _required("team.pub"))})
    del doc["stages"]["dev"]["registry"]
    path = write(tmp_path, doc)
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kubeconfig)
    assert out.returncode == 3, out.stderr
    assert f"cannot verify the signature of {down}/app/web:1.0" in out.stderr
    _nothing_applied(kube, namespace)
