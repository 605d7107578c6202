"""The image-audit gate of deploy on the local control plane, the stage's image served by a real local
registry: refused at exit 5 with the finding named and nothing applied, then accepted with a reasoned
exceptions file, the scan summary in the release record; an image that cannot be read refuses too,
until a reasoned override (recorded with the release)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from shiplane.kube import Ref
from tests.integration.deploying import env, history
from tests.unit.images import realdata
from tests.unit.images.conftest import OS_RELEASE
from tests.unit.images.imagebuilder import Dir, build_layer, push_oci

pytestmark = pytest.mark.integration
DATA = Path(__file__).parents[1] / "data"
FUTURE = (dt.date.today() + dt.timedelta(days=60)).isoformat()


def _spec(namespace: str, image: str, images: dict) -> dict:
    return {
        "app": {"name": "shop", "version": "1"},
        "defaults": {"resources": {"limits": {"cpu": "200m", "memory": "128Mi"}}},
        "services": {"web": {"image": image, "replicas": 1, "ports": {"http": 8080}}},
        "stages": {"dev": {"namespace": namespace, "images": images}},
    }


def _cli(*args: str, kubeconfig: Path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shiplane", *args],
        env={**env(kubeconfig), **extra},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_deploy_is_gated_on_the_stages_image_audit(local_cluster, namespace, local_registry, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    urllib3 = realdata.wheel("urllib3==1.24.1")
    image = push_oci(
        local_registry,
        f"shop/web-{uuid.uuid4().hex[:6]}:1.0",
        [build_layer([Dir("etc"), OS_RELEASE]), realdata.site_packages_layer([urllib3])],
    )
    extra = {"SHIPLANE_CACHE": str(tmp_path / "cache"), "SHIPLANE_INSECURE_REGISTRIES": local_registry}
    imported = _cli("images", "db", "import", str(DATA / "advisories"), kubeconfig=kc, extra=extra)
    assert imported.returncode == 0, imported.stderr
    path = tmp_path / "shiplane.yaml"
    path.write_text(yaml.safe_dump(_spec(namespace, image, {"failOn": "high"})))

    dry = _cli("deploy", "-f", str(path), "--stage", "dev", "--dry-run", kubeconfig=kc, extra=extra)
    assert dry.returncode == 5 and "PYSEC-2023-192" in dry.stderr  # the dry-run gates too ...
    assert not (tmp_path / "cache" / "image-scans").exists()  # ... and writes nothing, not even the cache
    refused = _cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc, extra=extra)
    assert refused.returncode == 5, refused.stderr
    assert "image audit refuses this deploy" in refused.stderr
    assert f"{image}: [high] PYSEC-2023-192 in urllib3 1.24.1 (fixed in 1.26.17)" in refused.stderr
    assert kube.list("apps/v1", "Deployment", namespace=namespace) == []  # nothing was applied

    (tmp_path / "exceptions.yaml").write_text(
        "exceptions:\n"
        + "".join(
            f"  - id: {i}\n    package: pkg:pypi/urllib3\n    reason: no redirects to other hosts\n"
            f"    expires: {FUTURE}\n"
            for i in ("PYSEC-2023-192", "CVE-2019-11236", "PYSEC-2020-148")
        )
    )
    path.write_text(yaml.safe_dump(_spec(namespace, image, {"failOn": "high", "exceptions": "exceptions.yaml"})))
    ok = _cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc, extra=extra)
    assert ok.returncode == 0, ok.stderr
    record = history(path, kc)[-1]
    audit = record["image_audit"]
    (scanned,) = audit["images"]
    assert scanned["image"] == image and scanned["scanned"] and scanned["digest"].startswith("sha256:")
    assert sorted(e["id"] for e in scanned["excepted"]) == ["PYSEC-2019-132", "PYSEC-2020-148", "PYSEC-2023-192"]
    assert audit["failOn"] == "high" and audit["failing"] == []
    cached = list((tmp_path / "cache" / "image-scans").iterdir())
    assert [c.name for c in cached] == [scanned["digest"].replace(":", "-") + ".json"]

    # An image nobody can read is never clean: refused, until an override with a reason.
    gone = f"{local_registry}/shop/never-pushed-{uuid.uuid4().hex[:6]}:1"
    path.write_text(yaml.safe_dump(_spec(namespace, gone, {"failOn": "critical"})))
    refused = _cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc, extra=extra)
    assert refused.returncode == 5 and f"{gone}: not scanned: " in refused.stderr
    reason = "pushed by the release pipeline after this deploy"
    allowed = _cli(
        "deploy", "-f", str(path), "--stage", "dev", "--plain", "--allow-image-finding", f"unreadable={reason}",
        kubeconfig=kc, extra=extra,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    record = history(path, kc)[-1]
    assert record["overrides"] == [{"rule": "images:unreadable", "object": gone, "reason": reason}]
    assert record["image_audit"]["images"][0]["scanned"] is False
    # A stage that does not opt in is not scanned at all (nothing recorded).
    path.write_text(yaml.safe_dump(_spec(namespace, gone, {})))
    plain = _cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc, extra=extra)
    assert plain.returncode == 0, plain.stderr
    assert history(path, kc)[-1]["image_audit"] == {}
    assert json.dumps(history(path, kc))  # the records stay JSON


def test_promote_is_gated_on_the_target_stages_image_audit(local_cluster, local_registry, tmp_path):
    """test runs a vulnerable image (no gate there); promoting it to prod, which gates on high, is refused."""
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    urllib3 = realdata.wheel("urllib3==1.24.1")
    image = push_oci(
        local_registry,
        f"shop/promo-{uuid.uuid4().hex[:6]}:1.0",
        [build_layer([Dir("etc"), OS_RELEASE]), realdata.site_packages_layer([urllib3])],
    )
    extra = {"SHIPLANE_CACHE": str(tmp_path / "cache"), "SHIPLANE_INSECURE_REGISTRIES": local_registry}
    assert _cli("images", "db", "import", str(DATA / "advisories"), kubeconfig=kc, extra=extra).returncode == 0
    suffix = uuid.uuid4().hex[:6]
    spaces = {"test": f"img-promo-test-{suffix}", "prod": f"img-promo-prod-{suffix}"}
    data = _spec(spaces["test"], image, {})
    data["stages"] = {
        "test": {"namespace": spaces["test"]},
        "prod": {"namespace": spaces["prod"], "images": {"failOn": "high"}},
    }
    path = tmp_path / "shiplane.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        deployed = _cli("deploy", "-f", str(path), "--stage", "test", "--plain", kubeconfig=kc, extra=extra)
        assert deployed.returncode == 0, deployed.stderr
        promoted = _cli(
            "promote", "-f", str(path), "--from", "test", "--to", "prod", "--plain", kubeconfig=kc, extra=extra
        )
        assert promoted.returncode == 5, promoted.stderr
        assert f"{image}: [high] PYSEC-2023-192 in urllib3 1.24.1" in promoted.stderr
        assert kube.list("apps/v1", "Deployment", namespace=spaces["prod"]) == []
    finally:
        for ns in spaces.values():
            kube.delete(Ref("v1", "Namespace", ns), propagation="Background")
