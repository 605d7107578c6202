"""OSV matching on real advisories: ranges, versions lists, withdrawn, aliases, severity."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane.images.database import Database, run_import
from shiplane.images.inventory import Package
from shiplane.images.matching import Finding, dedupe, evaluate, lookup_key, match
from shiplane.images.severity import cvss_score, of

DATA = Path(__file__).parents[2] / "data" / "advisories"


def pkg(name: str, version: str, type_: str, ecosystem: str, **kw) -> Package:
    return Package(name, version, type_, ecosystem, f"pkg:{type_}/{name}@{version}", "somewhere", 0, **kw)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Database:
    database = Database(tmp_path_factory.mktemp("db") / "a.db")
    run_import(database, [DATA])
    return database


def _scan(db: Database, packages: list[Package]):
    return match(packages, db.lookup([lookup_key(p) for p in packages]))


def test_old_urllib3_is_affected_and_the_fixed_versions_are_named(db: Database) -> None:
    found = _scan(db, [pkg("urllib3", "1.24.1", "pypi", "PyPI")]).findings
    by_id = {f.id: f for f in found}
    # PYSEC-2019-132 (CVE-2019-11324, fixed 1.24.2), PYSEC-2020-148 (fixed 1.25.9), PYSEC-2023-192 (fixed 1.26.17)
    assert set(by_id) == {"PYSEC-2019-132", "PYSEC-2020-148", "PYSEC-2023-192"}
    assert by_id["PYSEC-2020-148"].fixed == ("1.25.9",) and by_id["PYSEC-2020-148"].installed == "1.24.1"
    assert "CVE-2020-26137" in by_id["PYSEC-2020-148"].aliases


def test_fixed_release_is_clean(db: Database) -> None:
    assert _scan(db, [pkg("urllib3", "2.2.2", "pypi", "PyPI")]).findings == []


def test_go_module_semver_with_v_prefix(db: Database) -> None:
    found = _scan(
        db, [pkg("golang.org/x/text", "v0.3.5", "golang", "Go"), pkg("golang.org/x/text", "v0.3.7", "golang", "Go")]
    ).findings
    assert [(f.id, f.installed, f.fixed) for f in found] == [("GO-2021-0113", "v0.3.5", ("0.3.7",))]


def test_withdrawn_advisories_are_skipped(db: Database) -> None:
    result = _scan(db, [pkg("redis", "4.5.5", "pypi", "PyPI")])
    assert result.findings == [] and result.withdrawn_skipped == 1


def test_cvss_v3_severity_from_the_vector(db: Database) -> None:
    found = _scan(db, [pkg("vm-memory", "0.12.1", "cargo", "crates.io")]).findings
    assert [(f.id, f.severity, f.score) for f in found] == [("RUSTSEC-2023-0056", "low", 2.5)]
    assert cvss_score("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8
    assert of({"severity": [{"type": "CVSS_V3", "score": "nonsense"}]}) == ("unknown", None, "")
    assert of({"database_specific": {"severity": "MODERATE"}})[0] == "medium"


def test_ranges_semantics() -> None:
    entry = {
        "ranges": [
            {
                "type": "ECOSYSTEM",
                "events": [{"introduced": "0"}, {"fixed": "1.0"}, {"introduced": "2.0"}, {"last_affected": "2.5"}],
            }
        ]
    }
    assert evaluate(entry, "0.9", "PyPI") == (True, ["1.0"])
    assert evaluate(entry, "1.5", "PyPI") == (False, [])
    assert evaluate(entry, "2.5", "PyPI") == (True, [])
    assert evaluate(entry, "2.6", "PyPI") == (False, [])
    assert evaluate({"versions": ["1.2.3"]}, "1.2.3", "npm") == (True, [])
    # a version the scheme cannot order is undecided, never clean
    assert evaluate(entry, "not a version!", "PyPI") == (None, [])
    debian = {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.8-5+deb12u1"}]}]}
    assert evaluate(debian, "1.0.8-5", "Debian:12") == (True, ["1.0.8-5+deb12u1"])
    assert evaluate(debian, "1.0.8-5+deb12u1", "Debian:12") == (False, [])


def test_os_packages_match_by_source_package_and_version(tmp_path: Path) -> None:
    import json

    (tmp_path / "DSA-0000-1.json").write_text(
        json.dumps(
            {
                "id": "DSA-0000-1",
                "aliases": ["CVE-2099-0001"],
                "affected": [
                    {
                        "package": {"ecosystem": "Debian:12", "name": "bzip2"},
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.8-5+deb12u1"}]}
                        ],
                    }
                ],
            }
        )
    )
    database = Database(tmp_path / "a.db")
    run_import(database, [tmp_path / "DSA-0000-1.json"])
    binary = pkg("libbz2-1.0", "1.0.8-5+b1", "deb", "Debian:12", source_name="bzip2", source_version="1.0.8-5")
    found = _scan(database, [binary]).findings
    assert [(f.id, f.package.name, f.installed, f.fixed) for f in found] == [
        ("DSA-0000-1", "libbz2-1.0", "1.0.8-5", ("1.0.8-5+deb12u1",))
    ]


def test_aliases_are_deduplicated() -> None:
    p = pkg("x", "1", "pypi", "PyPI")
    a = Finding("PYSEC-1", ("CVE-1",), p, "1", ("2",), "unknown")
    b = Finding("GHSA-x", ("CVE-1",), p, "1", ("2", "3"), "high", 7.5)
    c = Finding("PYSEC-9", (), p, "1", (), "low")
    out = {f.id: f for f in dedupe([a, b, c])}
    assert set(out) == {"GHSA-x", "PYSEC-9"}
    assert out["GHSA-x"].aliases == ("CVE-1", "PYSEC-1") and out["GHSA-x"].severity == "high"
    assert out["GHSA-x"].fixed == ("2", "3")
