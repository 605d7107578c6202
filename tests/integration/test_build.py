"""`shiplane build` and `deploy --build` with a real builder (buildah or podman from Debian, docker
buildx where a daemon runs) against the local registry and control plane. The base image is made
here from Debian's busybox-static package and pushed with shiplane's registry client, so nothing is
pulled from the internet. Skipped with the reason where no builder runs, except in CI."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from shiplane.building import builders
from shiplane.errors import EnvironmentProblem
from shiplane.kube import Ref
from shiplane.registry import OCI_MANIFEST, Client, Reference
from tests.conftest import IN_CI
from tests.integration.deploying import cli, write
from tests.ociimages import CONFIG_TYPE, sha256
from tests.unit.images.realdata import deb_files, debian_package

pytestmark = pytest.mark.integration
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@pytest.fixture(scope="module")
def builder() -> builders.Builder:
    try:
        return builders.detect()
    except EnvironmentProblem as err:
        if IN_CI:
            pytest.fail(f"no container builder in CI: {err.message}", pytrace=False)
        pytest.skip(f"no container builder runs here: {err.message}")


@pytest.fixture
def builder_images(builder):
    """References the test built or pulled, removed from the builder's local storage afterwards."""
    made: list[str] = []
    yield made
    if builder.name in ("buildah", "podman", "docker"):
        for ref in made:
            subprocess.run([builder.name, "rmi", "-f", ref], capture_output=True, timeout=120)


def _busybox_layer() -> bytes:
    """busybox-static's files as a layer, with /bin/sh pointing at busybox (what RUN needs)."""
    _, members = deb_files(debian_package("busybox-static"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for member, data in members:
            member.name = member.name.lstrip("./")
            if member.name:
                tf.addfile(member, io.BytesIO(data) if data is not None else None)
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tf.addfile(link)
    return buf.getvalue()


def _push_base(registry: str) -> str:
    tar = _busybox_layer()
    layer = gzip.compress(tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": CONFIG_TYPE, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPE, "digest": sha256(layer), "size": len(layer)}],
        }
    ).encode()
    ref = Reference.parse(f"{registry}/base/busybox:{uuid.uuid4().hex[:6]}")
    with Client(insecure={registry}) as client:
        for blob in (layer, config):
            client.put_blob(ref, blob, sha256(blob))
        client.put_manifest(ref, manifest, OCI_MANIFEST)
    return str(ref)


def _files_of_last_layer(registry: str, reference: str) -> dict[str, bytes]:
    ref = Reference.parse(reference)
    with Client(insecure={registry}) as client:
        layer = client.manifest(ref).layers[-1]
        raw = client.blob(ref, layer["digest"])
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name.lstrip("./"): tf.extractfile(m).read() for m in tf.getmembers() if m.isreg()}


def test_build_push_and_deploy_by_digest(builder, builder_images, local_cluster, namespace, local_registry, tmp_path):
    kube, kubeconfig = local_cluster.kube, local_cluster.kubeconfig
    base = _push_base(local_registry)
    builder_images.append(base)
    app = tmp_path / "web"
    app.mkdir()
    (app / "Dockerfile").write_text(f"FROM {base}\nRUN echo built-by-shiplane > /built.txt\n")
    (app / ".dockerignore").write_text("*.log\n")
    doc = {
        "app": {"name": f"b{uuid.uuid4().hex[:6]}"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "services": {"web": {"image": "shop/web:dev", "build": {"context": "web"}, "ports": {"http": 8080}}},
        "stages": {"dev": {"namespace": namespace, "registry": {"host": local_registry, "insecure": True}}},
    }
    path = write(tmp_path, doc)

    out = cli("build", "-f", str(path), "--plain", "-o", "json", kubeconfig=kubeconfig, timeout=600)
    assert out.returncode == 0, out.stderr
    [built] = json.loads(out.stdout)["images"]
    builder_images.append(built["image"])
    assert built["service"] == "web" and not built["reused"] and built["digest"].startswith("sha256:")
    assert built["image"].startswith(f"{local_registry}/{doc['app']['name']}/web:src-")
    with Client(insecure={local_registry}) as client:
        assert client.resolve(Reference.parse(built["image"])) == built["digest"]
    assert _files_of_last_layer(local_registry, built["pinned"])["built.txt"] == b"built-by-shiplane\n"
    assert f"build web with {builder.name}" in out.stderr

    (app / "debug.log").write_text("ignored by .dockerignore")  # same content hash: not rebuilt
    again = cli("build", "-f", str(path), "--plain", "-o", "json", kubeconfig=kubeconfig, timeout=600)
    assert again.returncode == 0, again.stderr
    [reused] = json.loads(again.stdout)["images"]
    assert reused["reused"] and reused["digest"] == built["digest"]
    (app / "new.txt").write_text("a change")  # a dry run sees the new hash, asks the registry, builds nothing
    dry = cli("build", "-f", str(path), "--dry-run", "--plain", "-o", "json", kubeconfig=kubeconfig)
    assert dry.returncode == 0, dry.stderr
    [planned] = json.loads(dry.stdout)["images"]
    assert planned["image"] != built["image"] and not planned["reused"] and planned["digest"] is None
    with Client(insecure={local_registry}) as client:
        assert not client.has_manifest(Reference.parse(planned["image"]))
    (app / "new.txt").unlink()

    deployed = cli("deploy", "-f", str(path), "--stage", "dev", "--build", "--plain", kubeconfig=kubeconfig)
    assert deployed.returncode == 0, deployed.stderr
    live = kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == built["pinned"]


def test_failed_build_names_the_log(builder, local_registry, tmp_path, local_cluster):
    app = tmp_path / "web"
    app.mkdir()
    (app / "Dockerfile").write_text("FROM scratch\nCOPY missing-file /x\n")
    doc = {
        "app": {"name": "broken"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "services": {"web": {"image": "shop/web:dev", "build": {"context": "web"}}},
        "stages": {"dev": {"namespace": "broken", "registry": {"host": local_registry, "insecure": True}}},
    }
    out = cli("build", "-f", str(write(tmp_path, doc)), "--plain", kubeconfig=local_cluster.kubeconfig, timeout=600)
    assert out.returncode == 1, out.stderr
    log = Path(out.stderr.split("builder output: ", 1)[1].split()[0])
    assert log.is_file() and "missing-file" in log.read_text()
