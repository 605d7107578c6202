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
