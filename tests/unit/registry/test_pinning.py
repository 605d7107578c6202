"""The pure parts of pinning and relocation: which images, pinned spellings, relocated names, render mapping."""

from __future__ import annotations

from shiplane import rendering, spec
from shiplane.actions import pinning
from shiplane.registry import Reference
from shiplane.spec.app import StageRegistry
from shiplane.spec.inputs import gather

D = "sha256:" + "cd" * 32

SPEC = f"""
app: {{name: shop}}
defaults: {{resources: {{limits: {{cpu: 100m, memory: 64Mi}}}}}}
services:
  web:
    image: nginx:1.27
    ports: {{http: 8080}}
    initContainers:
      wait: {{image: busybox:1.36, command: [sh, -c, "true"]}}
    migration: {{command: [migrate]}}
  worker: {{image: "ghcr.io/acme/worker@{D}"}}
stages:
  dev: {{namespace: shop-dev}}
"""


def _stage(tmp_path):
    path = tmp_path / "shiplane.yaml"
    path.write_text(SPEC)
    return spec.load([path]).stage("dev")


def test_users_lists_every_container_and_init_container(tmp_path) -> None:
    stage = _stage(tmp_path)
    found = pinning.users(rendering.render(stage, gather(stage)))
    assert found["nginx:1.27"][:1] == ["Deployment/web/web"] and any(k.startswith("Job/") for k in found["nginx:1.27"])
    assert found["busybox:1.36"] == ["Deployment/web/wait"]
    assert found[f"ghcr.io/acme/worker@{D}"] == ["Deployment/worker/worker"]


def test_render_takes_a_mapping_and_stays_pure(tmp_path) -> None:
    stage = _stage(tmp_path)
    plain = rendering.render(stage, gather(stage))
    mapping = {"nginx:1.27": f"nginx:1.27@{D}"}
    pinned = rendering.render(stage, gather(stage), images=mapping)
    assert pinning.users(pinned).keys() == {f"nginx:1.27@{D}", "busybox:1.36", f"ghcr.io/acme/worker@{D}"}
    assert rendering.render(stage, gather(stage)) == plain  # the mapping left nothing behind
    assert len(pinned) == len(plain)


def test_pinned_keeps_the_tag_readable() -> None:
    assert pinning.pinned("nginx:1.27", D) == f"nginx:1.27@{D}"
    assert pinning.pinned(f"nginx:1.27@{'sha256:' + 'ef' * 32}", D) == f"nginx:1.27@{D}"


def test_relocated_names() -> None:
    reg = StageRegistry(host="registry.eu.example:5000", prefix="shop/")
    assert (
        str(pinning.relocated(Reference.parse("nginx:1.27"), reg)) == "registry.eu.example:5000/shop/library/nginx:1.27"
    )
    assert (
        str(pinning.relocated(Reference.parse(f"ghcr.io/acme/w@{D}"), reg))
        == f"registry.eu.example:5000/shop/acme/w@{D}"
    )
    already = Reference.parse("registry.eu.example:5000/shop/app/web:2")
    assert pinning.relocated(already, reg) == already
    bare = StageRegistry(host="r.example")
    assert str(pinning.relocated(Reference.parse("quay.io/a/b:1"), bare)) == "r.example/a/b:1"


def test_loopback_registries_are_plain_http_like_docker() -> None:
    client = pinning.client_for(None, ["127.0.0.1:5000/a:1", "localhost:5001/b:1", "ghcr.io/c:1", "[::1]:5002/d:1"])
    assert client.insecure >= {"127.0.0.1:5000", "localhost:5001", "[::1]:5002"}
    assert "ghcr.io" not in client.insecure
    insecure = pinning.client_for(StageRegistry(host="reg.internal:5000", insecure=True))
    assert "reg.internal:5000" in insecure.insecure
