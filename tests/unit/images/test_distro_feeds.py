"""Distro feeds: a real labelled case from the Debian archive itself (two versions of libssl3 served at
once; the newer package's changelog names the CVEs each version fixed, written out in the Debian
security tracker's JSON format), and Alpine secdb."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest

from shiplane.images import inventory, open_image
from shiplane.images.database import Database, run_import
from shiplane.images.matching import lookup_key, match
from tests.unit.images import realdata
from tests.unit.images.conftest import OS_RELEASE
from tests.unit.images.imagebuilder import Dir, File, build_layer, write_oci


def _changelog_fixes(deb: Path) -> tuple[str, dict[str, tuple[str, str]]]:
    """(source package, CVE -> (first Debian version whose changelog entry names it, urgency))."""
    fields, members = realdata.deb_files(deb)
    log = next(data for m, data in members if m.name.endswith("changelog.Debian.gz"))
    text = gzip.decompress(log).decode()
    entries = re.split(r"^(?=\S+ \([^)]+\) [^;]+; urgency=)", text, flags=re.M)
    fixes: dict[str, tuple[str, str]] = {}
    for entry in reversed([e for e in entries if e.strip()]):  # oldest first: the first fix wins
        head = re.match(r"(\S+) \(([^)]+)\) [^;]+; urgency=(\w+)", entry)
        if head is None:
            continue
        for cve in re.findall(r"CVE-\d{4}-\d+", entry):
            fixes.setdefault(cve, (head.group(2), head.group(3)))
    source = fields.get("Source", fields["Package"]).split()[0]
    return source, fixes


def _older(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


@pytest.fixture(scope="module")
def libssl3(tmp_path_factory):
    versions = realdata.debian_versions("libssl3")
    if len(versions) < 2:
        pytest.skip(f"the apt sources serve only {versions} of libssl3; two versions are needed")
    old, new = realdata.debian_package("libssl3", versions[0]), realdata.debian_package("libssl3", versions[-1])
    source, fixes = _changelog_fixes(new)
    tracker = {
        source: {
            cve: {
                "description": f"named in the {source} {v} changelog",
                "scope": "local",
                "releases": {
                    "bookworm": {
                        "status": "resolved",
                        "fixed_version": v,
                        "urgency": u,
                        "repositories": {"bookworm": versions[-1]},
                    }
                },
            }
            for cve, (v, u) in fixes.items()
        }
    }
    folder = tmp_path_factory.mktemp("ssl")
    (folder / "debian-tracker.json").write_text(json.dumps(tracker))
    db = Database(folder / "a.db")
    run_import(db, [folder / "debian-tracker.json"])
    return versions[0], versions[-1], old, new, fixes, db


def _scan(deb: Path, db: Database, tmp: Path):
    image = write_oci(tmp, [build_layer([Dir("etc"), OS_RELEASE]), realdata.dpkg_layer([deb])])
    inv = inventory.take(open_image(image, wanted=inventory.WANTED).fs)
    return inv, match(inv.packages, db.lookup([lookup_key(p) for p in inv.packages]))


def test_old_libssl3_has_exactly_the_cves_fixed_after_it(libssl3, tmp_path: Path) -> None:
    old_version, _, old, _, fixes, db = libssl3
    inv, result = _scan(old, db, tmp_path / "old")
    (pkg,) = [p for p in inv.packages if p.name == "libssl3"]
    assert pkg.source_name == "openssl" and pkg.version == old_version
    expected = {f"DEBIAN-{cve}" for cve, (v, _) in fixes.items() if _older(old_version, v)}
    assert expected, "the newer changelog names no CVE fixed after the older version"
    assert {f.id for f in result.findings} == expected
    for f in result.findings:
        cve = f.aliases[0]
        assert f.fixed == (fixes[cve][0],) and f.installed == old_version
        assert f.severity == {"high": "high", "medium": "medium", "low": "low"}.get(fixes[cve][1], "unknown")


def test_new_libssl3_is_clean(libssl3, tmp_path: Path) -> None:
    _, _, _, new, _, db = libssl3
    _, result = _scan(new, db, tmp_path / "new")
    assert result.findings == [] and result.undecided == []


def test_alpine_secdb(tmp_path: Path) -> None:
    secdb = {
        "distroversion": "v3.19",
        "reponame": "main",
        "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
        "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
        "packages": [
            {
                "pkg": {
                    "name": "openssl",
                    "secfixes": {
                        "3.1.4-r1": ["CVE-2023-5678"],
                        "3.1.4-r5": ["CVE-2024-0727 CVE-2023-6237"],
                        "0": ["CVE-2022-0001"],
                    },
                }
            }
        ],
    }
    (tmp_path / "main.json").write_text(json.dumps(secdb))
    db = Database(tmp_path / "a.db")
    assert run_import(db, [tmp_path / "main.json"]) == 3
    apk_db = b"P:libcrypto3\nV:3.1.4-r3\nA:x86_64\no:openssl\n\n"
    image = write_oci(
        tmp_path / "img",
        [
            build_layer(
                [File("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"), File("lib/apk/db/installed", apk_db)]
            )
        ],
    )
    inv = inventory.take(open_image(image, wanted=inventory.WANTED).fs)
    result = match(inv.packages, db.lookup([lookup_key(p) for p in inv.packages]))
    assert sorted((f.id, f.fixed) for f in result.findings) == [
        ("ALPINE-CVE-2023-6237", ("3.1.4-r5",)),
        ("ALPINE-CVE-2024-0727", ("3.1.4-r5",)),
    ]


def test_debian_security_support_lists(tmp_path: Path, capsys) -> None:
    """The real lists of the debian-security-support package: binutils is 'limited', mbedtls 'ended'."""
    from shiplane.cli import main

    lists = tmp_path / "lists"
    lists.mkdir()
    for m, data in realdata.deb_files(realdata.debian_package("debian-security-support"))[1]:
        if "/usr/share/debian-security-support/security-support-" in "/" + m.name.lstrip("./") and data:
            (lists / Path(m.name).name).write_bytes(data)
    assert (lists / "security-support-limited").is_file()
    db = tmp_path / "a.db"
    advisories = Path(__file__).parents[2] / "data" / "advisories"
    assert main(["images", "db", "import", "--db", str(db), str(lists), str(advisories)]) == 0
    capsys.readouterr()
    assert main(["images", "db", "status", "--db", str(db), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["supportLines"] > 20
    debs = [
        realdata.debian_package("libctf-nobfd0"),
        realdata.debian_package("libmbedcrypto7"),
        realdata.debian_package("libbz2-1.0"),
    ]
    image = write_oci(tmp_path / "img", [build_layer([Dir("etc"), OS_RELEASE]), realdata.dpkg_layer(debs)])
    capsys.readouterr()
    assert main(["images", "scan", "--db", str(db), str(image), "-o", "json"]) == 0
    notices = {n["source"]: n for n in json.loads(capsys.readouterr().out)["images"][0]["support"]}
    assert set(notices) == {"binutils", "mbedtls"}  # bzip2 is fully supported
    assert notices["binutils"]["status"] == "limited" and "trusted content" in notices["binutils"]["details"]
    assert notices["mbedtls"]["status"] in ("ended", "ends") and notices["mbedtls"]["date"]
    assert main(["images", "scan", "--db", str(db), str(image)]) == 0
    assert "security support limited" in capsys.readouterr().out
