"""`shiplane images scan`: real packages against real advisories; exit codes 0/1/2/3; JSON and SARIF."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from shiplane import events
from shiplane.cli import main
from shiplane.images.database import Database, run_import
from tests.unit.images.conftest import OS_RELEASE
from tests.unit.images.imagebuilder import File, build_layer, write_oci

DATA = Path(__file__).parents[2] / "data"


@pytest.fixture(scope="module")
def db_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "advisories.db"
    run_import(Database(path), [DATA / "advisories"])
    return path


def test_scan_json_names_advisory_package_versions_location_and_layer(real_image: Path, db_file: Path, capsys) -> None:
    assert main(["images", "scan", str(real_image), "--db", str(db_file), "-o", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    (image,) = doc["images"]
    by_id = {f["id"]: f for f in image["findings"]}
    assert set(by_id) == {"GO-2021-0113", "PYSEC-2019-132", "PYSEC-2020-148", "PYSEC-2023-192"}
    go = by_id["GO-2021-0113"]
    assert go["aliases"] == ["CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"]
    assert go["package"]["purl"] == "pkg:golang/golang.org/x/text@v0.3.5"
    assert (go["installedVersion"], go["fixedVersions"], go["location"]) == (
        "v0.3.5",
        ["0.3.7"],
        "usr/local/bin/textdemo",
    )
    assert go["layer"]["index"] == 3 and go["layer"]["digest"].startswith("sha256:")
    py = by_id["PYSEC-2020-148"]
    assert (py["package"]["name"], py["installedVersion"], py["fixedVersions"]) == ("urllib3", "1.24.1", ["1.25.9"])
    assert py["location"].endswith("urllib3-1.24.1.dist-info/METADATA") and py["layer"]["index"] == 4
    assert py["severity"] == "unknown"  # no CVSS vector in the PyPA record: gated as high
    assert by_id["PYSEC-2023-192"]["severity"] == "high" and by_id["PYSEC-2023-192"]["cvss"]["score"] >= 7
    assert image["failing"] == 4 and doc["failOn"] == "high" and doc["database"]["advisories"] == 6


def test_fail_on_threshold_and_text_output(real_image: Path, db_file: Path, capsys) -> None:
    assert main(["images", "scan", str(real_image), "--db", str(db_file), "--fail-on", "critical"]) == 0
    out = capsys.readouterr().out
    assert "4 findings, 0 at or above critical" in out
    assert "GO-2021-0113 (CVE-2021-38561, GHSA-ppp9-7jff-5vj2)  golang.org/x/text v0.3.5 -> 0.3.7  [layer 3]" in out
    assert main(["images", "scan", str(real_image), "--db", str(db_file), "--fail-on", "never"]) == 0


def test_sarif_validates_against_the_official_schema(real_image: Path, db_file: Path, capsys) -> None:
    assert main(["images", "scan", str(real_image), "--db", str(db_file), "-o", "sarif"]) == 1
    doc = json.loads(capsys.readouterr().out)
    schema = json.loads((DATA / "policy-sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(doc, schema)
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"GO-2021-0113", "PYSEC-2019-132", "PYSEC-2020-148", "PYSEC-2023-192"}
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels.pop("PYSEC-2023-192") == "error"  # CVSS 3.1 vector in the record: high
    assert set(levels.values()) == {"warning"}  # no score: unknown


def test_clean_image_is_exit_0(tmp_path: Path, db_file: Path, capsys) -> None:
    image = write_oci(tmp_path / "clean", [build_layer([OS_RELEASE])])
    assert main(["images", "scan", str(image), "--db", str(db_file), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"][0]["findings"] == []


def test_no_database_is_exit_3_before_reading_any_image(tmp_path: Path, capsys) -> None:
    assert main(["images", "scan", str(tmp_path / "does-not-matter"), "--db", str(tmp_path / "none.db")]) == 3
    assert "no advisory database at" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    (tmp_path / "nothing").mkdir()
    run_import(Database(empty), [tmp_path / "nothing"])
    assert main(["images", "scan", str(tmp_path), "--db", str(empty)]) == 3
    assert "is empty" in capsys.readouterr().err


def test_hostile_image_is_exit_2(tmp_path: Path, db_file: Path, capsys) -> None:
    image = write_oci(tmp_path / "evil", [build_layer([File("../../etc/cron.d/x", b"* * * * * root sh")])])
    assert main(["images", "scan", str(image), "--db", str(db_file)]) == 2
    assert "escapes the image root" in capsys.readouterr().err


def test_an_unreadable_image_is_reported_as_such_beside_the_others(
    real_image: Path, tmp_path: Path, db_file: Path, capsys
) -> None:
    evil = write_oci(tmp_path / "evil", [build_layer([File("../x", b"")])])
    assert main(["images", "scan", str(evil), str(real_image), "--db", str(db_file), "-o", "json"]) == 2
    captured = capsys.readouterr()
    first, second = json.loads(captured.out)["images"]
    assert first["findings"] is None and "escapes the image root" in first["error"]
    assert len(second["findings"]) == 4
    assert "escapes the image root" in captured.err
    assert main(["images", "scan", str(evil), "--db", str(db_file), "-o", "sarif"]) == 2
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, json.loads((DATA / "policy-sarif" / "sarif-schema-2.1.0.json").read_text()))
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is False
    assert main(["images", "scan", str(evil), "--db", str(db_file)]) == 2
    assert "CANNOT BE READ" in capsys.readouterr().out


def test_old_database_warns(tmp_path: Path) -> None:
    from shiplane.images.scanning import scan

    db = Database(tmp_path / "old.db")
    events.result(db.import_paths([DATA / "advisories"], now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    seen: list = []
    image = write_oci(tmp_path / "clean", [build_layer([OS_RELEASE])])
    events.result(scan([image], db, max_age=dt.timedelta(days=7)), seen.append)
    notes = [e.message for e in seen if isinstance(e, events.Note)]
    assert len(notes) == 1 and "imported" in notes[0] and "older than 7 days" in notes[0]


def test_libraries_the_distribution_ships_are_not_matched_again_as_pypi(tmp_path: Path, db_file: Path, capsys) -> None:
    """Debian's python3-urllib3 1.26.12 carries Debian's fixes; its egg-info must not draw PyPI advisories.
    The same files without a dpkg owner (copied in by hand) do."""
    from tests.unit.images import realdata

    deb = realdata.debian_package("python3-urllib3")
    owned = write_oci(tmp_path / "owned", [build_layer([OS_RELEASE]), realdata.dpkg_layer([deb])])
    assert main(["images", "scan", str(owned), "--db", str(db_file), "-o", "json"]) == 0
    image = json.loads(capsys.readouterr().out)["images"][0]
    assert image["findings"] == []
    assert any(o.startswith("pkg:pypi/urllib3@1.26.12") and "deb:python3-urllib3" in o for o in image["ownedByOS"])

    _, members = realdata.deb_files(deb)
    loose = [File(m.name.lstrip("./"), data) for m, data in members if m.isreg()]
    unowned = write_oci(tmp_path / "unowned", [build_layer([OS_RELEASE, *loose])])
    assert main(["images", "scan", str(unowned), "--db", str(db_file), "-o", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["images"][0]["findings"]
    assert {f["id"] for f in findings} == {"PYSEC-2023-192"}  # fixed in 1.26.17


def test_a_library_vendored_inside_a_package_is_still_matched(tmp_path: Path, db_file: Path, capsys) -> None:
    from tests.unit.images import realdata

    _, members = realdata.deb_files(realdata.debian_package("python3-urllib3"))
    pkg_info = next(data for m, data in members if m.name.endswith("egg-info/PKG-INFO"))
    vendored = "opt/vendor/lib/urllib3-1.26.12.egg-info/PKG-INFO"
    layer = build_layer(
        [
            OS_RELEASE,
            File(vendored, pkg_info),
            File(
                "var/lib/dpkg/status",
                b"Package: vendor-app\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n",
            ),
            File("var/lib/dpkg/info/vendor-app.list", f"/opt\n/opt/vendor/lib\n/{vendored}\n".encode()),
        ]
    )
    image = write_oci(tmp_path / "vendored", [layer])
    assert main(["images", "scan", str(image), "--db", str(db_file), "-o", "json"]) == 1
    (finding,) = json.loads(capsys.readouterr().out)["images"][0]["findings"]
    assert finding["id"] == "PYSEC-2023-192" and finding["location"] == vendored
