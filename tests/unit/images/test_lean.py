"""`shiplane images lean` on a real image: Debian's make, cpp (cc1), bash and kernel headers installed
into layers as apt-get would, a setuid program, a world-writable directory, and a later layer that
overwrites one big file and deletes another (the bytes still ship: wasted)."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from shiplane.cli import main
from tests.unit.images import realdata
from tests.unit.images.conftest import OS_RELEASE
from tests.unit.images.imagebuilder import Dir, File, Whiteout, build_layer, write_oci

BIG = os.urandom(3 << 20)  # random: compressing does not hide it


def _setuid(path: str, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.mode = mode
    return info


@pytest.fixture(scope="module")
def fat_image(tmp_path_factory) -> Path:
    make = realdata.debian_package("make")
    cpp = realdata.debian_package("cpp-12")
    bash = realdata.debian_package("bash")
    headers = realdata.debian_package("linux-libc-dev")
    base = build_layer([Dir("etc"), OS_RELEASE, Dir("tmp", 0o1777), Dir("srv/uploads", 0o777)])
    tools = realdata.dpkg_layer([make, cpp, bash, headers])
    app = build_layer(
        [
            File("srv/cache/deps.tar", BIG),
            File("srv/app/model.bin", BIG[: 1 << 20]),
            File("usr/local/bin/pip", b"#!/usr/bin/python3\nimport pip\n", 0o755),
            File("usr/local/bin/mount-helper", b"\x7fELF-not-really", 0o4755),
        ]
    )
    cleanup = build_layer([Whiteout("srv/cache/deps.tar"), File("srv/app/model.bin", b"v2")])
    return write_oci(tmp_path_factory.mktemp("lean") / "fat.tar", [base, tools, app, cleanup])


class Ran:
    def __init__(self, code: int, output: str, err: str = "") -> None:
        self.exit_code, self.output, self.err = code, output, err


@pytest.fixture
def lean(capsys):
    def run(image: Path, *args: str) -> Ran:
        code = main(["images", "lean", str(image), *args])
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


def test_lean_names_compilers_build_tools_shells_and_package_managers_with_their_package(fat_image, lean):
    result = lean(fat_image, "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    tools = {(t["category"], t["path"]): t for t in doc["tools"]}
    cc1 = [t for (cat, path), t in tools.items() if cat == "compiler" and path.endswith("/cc1")]
    assert cc1 and cc1[0]["package"] == "deb:cpp-12" and cc1[0]["layer"] == 1
    assert tools[("compiler", "/usr/bin/cpp-12")]["package"] == "deb:cpp-12"
    assert tools[("build-tool", "/usr/bin/make")]["package"] == "deb:make"
    assert tools[("shell", "/bin/bash")]["package"] == "deb:bash"
    assert ("package-manager", "/usr/local/bin/pip") in tools
    assert doc["headers"]["files"] > 100  # linux-libc-dev's /usr/include/linux/...
    setuid = {s["path"]: s for s in doc["setuid"]}
    assert setuid["/usr/local/bin/mount-helper"]["kind"] == "setuid"
    writable = [s["path"] for s in doc["worldWritable"]]
    assert "/srv/uploads" in writable and "/tmp" not in writable  # sticky /tmp is normal


def test_lean_counts_bytes_later_layers_overwrite_or_delete_as_wasted(fat_image, lean):
    doc = json.loads(lean(fat_image, "-o", "json").output)
    wasted = {w["path"]: w for w in doc["wasted"]}
    assert wasted["/srv/cache/deps.tar"] == {
        "path": "/srv/cache/deps.tar",
        "bytes": 3 << 20,
        "layer": 2,
        "by": 3,
        "how": "deleted",
    }
    assert wasted["/srv/app/model.bin"]["how"] == "overwritten" and wasted["/srv/app/model.bin"]["bytes"] == 1 << 20
    assert doc["wastedBytes"] == (3 << 20) + (1 << 20)
    layers = {la["index"]: la for la in doc["layers"]}
    assert layers[2]["wastedBytes"] == (3 << 20) + (1 << 20) and layers[3]["bytes"] == 2
    assert layers[2]["createdBy"] == "layer 2"
    # The deleted file is not in the merged filesystem, so it is not among the largest files.
    assert "/srv/cache/deps.tar" not in [e["path"] for e in doc["largest"]]
    assert doc["largest"][0]["bytes"] >= doc["largest"][-1]["bytes"]


def test_lean_text_and_the_build_tools_gate(fat_image, lean):
    result = lean(fat_image, "--fail-on-build-tools")
    assert result.exit_code == 1
    assert "/usr/bin/make" in result.output and "wasted" in result.output
    assert "/srv/cache/deps.tar" in result.output and "deleted in layer 3" in result.output


def test_a_slim_image_passes_the_build_tools_gate(tmp_path, lean):
    bash = realdata.debian_package("bash")
    image = write_oci(tmp_path / "slim", [build_layer([Dir("etc"), OS_RELEASE]), realdata.dpkg_layer([bash])])
    result = lean(image, "--fail-on-build-tools", "-o", "json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert [t["category"] for t in doc["tools"]] == ["shell"] * len(doc["tools"]) and doc["tools"]
    assert doc["wastedBytes"] == 0


def test_a_hostile_image_is_exit_2_with_the_member_named(tmp_path, lean):
    image = write_oci(tmp_path / "evil", [build_layer([File("../../etc/cron.d/x", b"* * * * * root sh\n")])])
    result = lean(image)
    assert result.exit_code == 2
    assert "escapes the image root" in result.err and "../../etc/cron.d/x" in result.err
