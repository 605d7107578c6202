"""Inventory on images built from real packages: Debian .debs (apt-get download), a PyPI wheel,
a Go binary built here (cross-checked with `go version -m`), a real Debian jar nested in a war."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from shiplane.cli import main
from shiplane.images import inventory, open_image
from shiplane.images.inventory import gobinary
from tests.unit.images import realdata
from tests.unit.images.conftest import OS_RELEASE
from tests.unit.images.imagebuilder import File, build_layer, write_oci


def test_inventory_of_real_packages(real_image: Path) -> None:
    img = open_image(real_image, wanted=inventory.WANTED)
    inv = inventory.take(img.fs)
    by = {(p.type, p.name): p for p in inv.packages}
    assert inv.os.id == "debian" and inv.os.version_id == "12"

    bz2 = by["deb", "libbz2-1.0"]
    assert (bz2.version, bz2.source_name, bz2.source_version, bz2.arch) == ("1.0.8-5+b1", "bzip2", "1.0.8-5", "amd64")
    assert bz2.purl == "pkg:deb/debian/libbz2-1.0@1.0.8-5%2Bb1?arch=amd64&distro=debian-12&upstream=bzip2%401.0.8-5"
    assert bz2.ecosystem == "Debian:12"
    # status was rewritten by layer 2, but the package came with layer 1 (its .list file says so)
    assert bz2.layer == 1 and by["deb", "libcommons-lang3-java"].layer == 2

    urllib3 = by["pypi", "urllib3"]
    assert (urllib3.version, urllib3.purl, urllib3.layer) == ("1.24.1", "pkg:pypi/urllib3@1.24.1", 4)
    assert urllib3.location.endswith("site-packages/urllib3-1.24.1.dist-info/METADATA")

    node = by["npm", "@types/node"]
    assert node.purl == "pkg:npm/%40types/node@20.1.0" and node.layer == 3
    assert len([p for p in inv.packages if p.type == "npm"]) == 1  # the name-less test/package.json is no package

    lang = [p for p in inv.packages if p.type == "maven"]
    assert {(p.purl, p.location) for p in lang} == {
        (
            "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
            "srv/app.war!/WEB-INF/lib/commons-lang3-3.12.0.jar!/META-INF/maven/org.apache.commons/commons-lang3/pom.properties",
        ),
        (
            "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
            "usr/share/java/commons-lang3.jar!/META-INF/maven/org.apache.commons/commons-lang3/pom.properties",
        ),
    }
    text = by["golang", "golang.org/x/text"]
    assert (text.version, text.purl, text.location, text.layer) == (
        "v0.3.5",
        "pkg:golang/golang.org/x/text@v0.3.5",
        "usr/local/bin/textdemo",
        3,
    )


def _go_version_m(binary: Path) -> tuple[str, set[tuple[str, str]]]:
    out = subprocess.run(["go", "version", "-m", str(binary)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    go = lines[0].split(": ", 1)[1].strip()
    mods = set()
    for line in lines[1:]:
        parts = line.strip().split("\t")
        if parts[0] in ("mod", "dep"):
            mods.add((parts[1], parts[2]))
        elif parts[0] == "=>":
            mods.pop()  # (set order: only used for binaries without replaces here)
    return go, mods


def test_go_buildinfo_matches_go_version_m(go_text_binary: Path) -> None:
    go, mods = _go_version_m(go_text_binary)
    info = gobinary.buildinfo(go_text_binary.read_bytes())
    assert info is not None and info[0] == go
    found = gobinary.packages(info, "bin", 0)
    assert {(p.name, p.version) for p in found if p.name != "stdlib"} == mods
    stdlib = next(p for p in found if p.name == "stdlib")
    assert stdlib.version == gobinary.stdlib_version(go) and stdlib.detail["go"] == go


def test_go_stdlib_versions_as_osv_names_them() -> None:
    assert gobinary.stdlib_version("go1.21.5") == "1.21.5"
    assert gobinary.stdlib_version("go1.20") == "1.20.0"
    assert gobinary.stdlib_version("go1.21rc2") == "1.21.0-rc.2"


def test_non_go_elf_and_garbage_have_no_buildinfo() -> None:
    assert gobinary.buildinfo(Path("/bin/ls").read_bytes()) is None
    assert gobinary.buildinfo(b"\x7fELF" + b"\xff" * 200) is None


def test_distroless_status_d_and_apk(tmp_path: Path, debian_bz2: Path) -> None:
    fields, _ = realdata.deb_files(debian_bz2)
    stanza = "\n".join(f"{k}: {v}" for k, v in fields.items()).encode()
    distroless = build_layer(
        [
            OS_RELEASE,
            File("var/lib/dpkg/status.d/libbz2-1.0", stanza),
            File("var/lib/dpkg/status.d/libbz2-1.0.md5sums", b"00  usr/lib/x\n"),
        ]
    )
    inv = inventory.take(open_image(write_oci(tmp_path / "d", [distroless]), wanted=inventory.WANTED).fs)
    assert [(p.name, p.version, p.source_name, p.location) for p in inv.packages] == [
        ("libbz2-1.0", "1.0.8-5+b1", "bzip2", "var/lib/dpkg/status.d/libbz2-1.0")
    ]

    apk_db = (
        b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nC:Q1def=\nP:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\n\n"
    )
    alpine = build_layer(
        [File("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"), File("lib/apk/db/installed", apk_db)]
    )
    inv = inventory.take(open_image(write_oci(tmp_path / "a", [alpine]), wanted=inventory.WANTED).fs)
    crypto = next(p for p in inv.packages if p.name == "libcrypto3")
    assert crypto.purl == "pkg:apk/alpine/libcrypto3@3.1.4-r1?arch=x86_64&distro=alpine-3.19.1&upstream=openssl"
    assert crypto.ecosystem == "Alpine:v3.19" and crypto.source_name == "openssl"


def test_cli_inventory_json_and_text(real_image: Path, capsys) -> None:
    assert main(["images", "inventory", str(real_image), "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "oci-tar" and len(doc["layers"]) == 5 and doc["os"]["id"] == "debian"
    assert {
        "name": "urllib3",
        "version": "1.24.1",
        "type": "pypi",
        "ecosystem": "PyPI",
        "purl": "pkg:pypi/urllib3@1.24.1",
        "location": "usr/local/lib/python3.11/site-packages/urllib3-1.24.1.dist-info/METADATA",
        "layer": 4,
    } in doc["packages"]
    assert main(["images", "inventory", str(real_image)]) == 0
    out = capsys.readouterr().out
    assert "Debian GNU/Linux 12 (bookworm)" in out and "libbz2-1.0" in out and "golang.org/x/text" in out


def test_cli_bad_image_is_exit_2(tmp_path: Path, capsys) -> None:
    path = write_oci(tmp_path / "evil", [build_layer([File("../x", b"")])])
    assert main(["images", "inventory", str(path)]) == 2
    assert "escapes the image root" in capsys.readouterr().err


def test_dpkg_parser_agrees_with_dpkg_query_on_this_machines_database(tmp_path: Path) -> None:
    """A real, large status file (this machine's), read by shiplane and by dpkg-query itself."""
    status = Path("/var/lib/dpkg/status")
    if not status.is_file() or not shutil.which("dpkg-query"):
        pytest.skip("no dpkg database on this machine")
    out = subprocess.run(
        [
            "dpkg-query",
            "--admindir",
            "/var/lib/dpkg",
            "-W",
            "-f",
            "${Package}\\t${Version}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = {tuple(line.split("\t")[:4]) for line in out.splitlines() if line.split("\t")[4].startswith("ii")}
    layer = build_layer([OS_RELEASE, File("var/lib/dpkg/status", status.read_bytes())])
    inv = inventory.take(open_image(write_oci(tmp_path / "host", [layer]), wanted=inventory.WANTED).fs)
    found = {(p.name, p.version, p.source_name, p.source_version) for p in inv.packages if p.type == "deb"}
    assert found == expected and len(found) > 50


def test_go_replace_directives() -> None:
    """As a real binary (google-cloud-sdk's anthoscli) has them: module and local-directory replacements."""
    modinfo = (
        "path\tcommand-line-arguments\n"
        "dep\tanthoscli\t(devel)\t\n"
        "dep\tcnrm.googlesource.com/cnrm\tv0.0.0\t\n"
        "=>\t./private_repos/cnrm.googlesource.com/cnrm/\t(devel)\t\n"
        "dep\tgolang.org/x/net\tv0.0.1\th1:x=\n"
        "=>\tgithub.com/fork/net\tv0.17.0\th1:y=\n"
    )
    found = {p.name: p for p in gobinary.packages(("go1.21.5", modinfo), "bin/x", 2)}
    assert found["cnrm.googlesource.com/cnrm"].version == "(devel)"
    assert found["cnrm.googlesource.com/cnrm"].detail["replacedByLocal"].startswith("./private_repos")
    fork = found["github.com/fork/net"]
    assert (fork.version, fork.detail["replaces"], fork.purl) == (
        "v0.17.0",
        "golang.org/x/net",
        "pkg:golang/github.com/fork/net@v0.17.0",
    )
    assert "golang.org/x/net" not in found and found["stdlib"].version == "1.21.5"


def test_go_binaries_and_archives_are_parsed_in_the_first_pass(real_image):
    """No second pass over the layers: with the layers unreadable afterwards, the inventory is the same."""
    from shiplane.images import inventory, open_image

    img = open_image(real_image, wanted=inventory.WANTED, inspect=inventory.INSPECT)
    assert {"usr/local/bin/textdemo", "srv/app.war"} <= set(img.fs.inspected)
    img.fs.reopen = None  # any attempt to read a layer again would now fail
    first_pass = inventory.take(img.fs)
    img.close()
    again = open_image(real_image, wanted=inventory.WANTED)  # without inspection: the second pass
    second_pass = inventory.take(again.fs)
    again.close()
    assert first_pass.packages == second_pass.packages and not first_pass.notes
    assert any(p.type == "golang" for p in first_pass.packages) and any(p.type == "maven" for p in first_pass.packages)
