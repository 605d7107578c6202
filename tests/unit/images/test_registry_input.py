"""Registry references as image inputs: real images pushed to a real local registry (crane serve),
read over the OCI distribution API with layers streamed (nothing on disk), the same inventory as
the same image read from an OCI layout; missing images, unreachable registries and corrupt blobs
are clear errors, and an image that cannot be read is never scanned as clean."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from shiplane.cli import main
from shiplane.images.database import Database, run_import
from shiplane.localcluster.processes import free_ports
from tests.unit.images import realdata
from tests.unit.images.conftest import OS_RELEASE
from tests.unit.images.imagebuilder import Dir, File, build_layer, push_oci, write_oci

pytestmark = pytest.mark.integration
DATA = Path(__file__).parents[2] / "data"


def _layers(old_urllib3: Path, debian_bz2: Path) -> list[bytes]:
    return [
        build_layer([Dir("etc"), OS_RELEASE]),
        realdata.dpkg_layer([debian_bz2]),
        realdata.site_packages_layer([old_urllib3]),
        build_layer([File("srv/app.txt", b"hello")]),
    ]


def _json(capsys, *args: str) -> tuple[int, dict]:
    code = main(list(args))
    return code, json.loads(capsys.readouterr().out)


def test_an_image_in_a_registry_has_the_inventory_of_the_same_image_on_disk(
    local_registry, old_urllib3, debian_bz2, tmp_path, capsys
):
    layers = _layers(old_urllib3, debian_bz2)
    ref = push_oci(local_registry, f"audit/{uuid.uuid4().hex[:8]}:1.0", layers)
    on_disk = write_oci(tmp_path / "same", layers)
    code, remote = _json(capsys, "images", "inventory", ref, "--insecure-registry", local_registry, "-o", "json")
    assert code == 0
    _, local = _json(capsys, "images", "inventory", str(on_disk), "-o", "json")
    assert remote["kind"] == "registry" and remote["tags"] == [ref]
    assert remote["packages"] == local["packages"] and len(remote["packages"]) == 2
    assert remote["manifestDigest"] == local["manifestDigest"]
    assert [la["diffId"] for la in remote["layers"]] == [la["diffId"] for la in local["layers"]]
    # By digest too.
    code, pinned = _json(
        capsys,
        "images",
        "inventory",
        f"{ref.rsplit(':', 1)[0]}@{remote['manifestDigest']}",
        "--insecure-registry",
        local_registry,
        "-o",
        "json",
    )
    assert code == 0 and pinned["packages"] == remote["packages"]


def test_scan_of_a_registry_image_and_of_one_that_cannot_be_read(
    local_registry, old_urllib3, debian_bz2, tmp_path, capsys
):
    db = tmp_path / "a.db"
    run_import(Database(db), [DATA / "advisories"])
    ref = push_oci(local_registry, f"audit/{uuid.uuid4().hex[:8]}:2", _layers(old_urllib3, debian_bz2))
    (port,) = free_ports(1)
    nowhere = f"127.0.0.1:{port}/audit/app:1"
    missing = f"{local_registry}/audit/never-pushed:1"
    insecure = ["--insecure-registry", local_registry, "--insecure-registry", f"127.0.0.1:{port}"]
    code = main(["images", "scan", ref, nowhere, missing, "--db", str(db), "-o", "json", *insecure])
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert code == 2  # some images could not be read: never reported clean
    found, unreachable, absent = doc["images"]
    assert {f["id"] for f in found["findings"]} >= {"PYSEC-2023-192"}
    assert unreachable["findings"] is None and f"127.0.0.1:{port}" in unreachable["error"]
    assert absent["findings"] is None and "never-pushed" in absent["error"]


def test_registry_errors_keep_their_exit_codes_for_single_image_commands(local_registry, capsys):
    (port,) = free_ports(1)
    assert main(["images", "lean", f"127.0.0.1:{port}/x/y:1", "--insecure-registry", f"127.0.0.1:{port}"]) == 3
    assert main(["images", "inventory", f"{local_registry}/x/none:1", "--insecure-registry", local_registry]) == 2
    err = capsys.readouterr().err
    assert "x/none" in err


def test_a_layer_whose_diff_id_lies_is_refused_from_a_registry_too(local_registry, capsys):
    layer = build_layer([File("etc/x", b"x")])
    ref = push_oci(local_registry, f"audit/{uuid.uuid4().hex[:8]}:lie", [layer], diff_ids=["sha256:" + "0" * 64])
    assert main(["images", "inventory", ref, "--insecure-registry", local_registry]) == 2
    assert "diff_id" in capsys.readouterr().err


def test_check_stage_images_reports_per_image(local_registry, old_urllib3, debian_bz2, tmp_path, capsys, monkeypatch):
    """`check --stage S --images`: each image of the rendered stage scanned, its advisories, the build
    tools it really holds (no compiler in production) and an unreadable image, as check findings."""
    monkeypatch.setenv("SHIPLANE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SHIPLANE_INSECURE_REGISTRIES", local_registry)
    run_import(Database(), [DATA / "advisories"])
    make = realdata.debian_package("make")
    web = push_oci(
        local_registry,
        f"audit/web-{uuid.uuid4().hex[:6]}:1",
        [*_layers(old_urllib3, debian_bz2), realdata.dpkg_layer([make], installed_before=[debian_bz2])],
    )
    gone = f"{local_registry}/audit/never-pushed:2"
    (tmp_path / "exceptions.yaml").write_text(
        "exceptions:\n- id: PYSEC-2023-192\n  package: urllib3\n  reason: no cross-origin redirects\n"
        "  expires: 2999-01-01\n- id: PYSEC-2019-132\n  package: urllib3\n  expires: 2999-01-01\n"
    )
    spec = {
        "app": {"name": "shop", "version": "1"},
        "defaults": {"resources": {"limits": {"cpu": "200m", "memory": "128Mi"}}},
        "services": {
            "web": {"image": web, "ports": {"http": 8080}},
            "worker": {"image": gone},
        },
        "stages": {"dev": {"namespace": "shop-dev", "images": {"exceptions": "exceptions.yaml"}}},
    }
    (tmp_path / "shiplane.yaml").write_text(json.dumps(spec))
    code = main(["check", "-f", str(tmp_path / "shiplane.yaml"), "--stage", "dev", "--images", "-o", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    mine = [f for f in doc["findings"] if f["rule"].startswith("image-") or f["rule"].startswith("dockerfile-")]
    by_rule: dict[str, list[dict]] = {}
    for f in mine:
        by_rule.setdefault(f["rule"], []).append(f)
    vulns = {f["message"].split(" ")[0] for f in by_rule["image-vulnerability"]}
    # PYSEC-2023-192 is excepted; PYSEC-2019-132's exception has no reason, so it does not apply.
    assert vulns == {"PYSEC-2019-132", "PYSEC-2020-148"}
    assert all(f["file"] == web for f in by_rule["image-vulnerability"])
    (tool,) = [f for f in by_rule["dockerfile-build-tools-in-final-stage"] if "/usr/bin/make " in f["message"]]
    assert tool["file"] == web and "installed by deb:make" in tool["message"]
    (unread,) = by_rule["image-not-scanned"]
    assert unread["file"] == gone and unread["message"].startswith("not scanned: ")
    (problem,) = by_rule["image-exception-invalid"]
    assert problem["file"].endswith("exceptions.yaml") and problem["line"] == 6
    excepted = [s for s in doc["suppressed"] if s["source"] == "exception"]
    assert [s["reason"] for s in excepted] == [
        "no cross-origin redirects (until 2999-01-01, " + f"{tmp_path / 'exceptions.yaml'}:2)"
    ]
