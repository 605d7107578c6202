"""Reasoned exceptions (VEX-like) on a real scan: urllib3 1.24.1 and golang.org/x/text v0.3.5 against
their real advisories; accepted findings are shown as excepted with the reason, an expired or
reasonless exception does not apply and is itself a finding at its file:line; OpenVEX documents too."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from shiplane.cli import main
from shiplane.errors import InputError
from shiplane.images import exceptions
from shiplane.images.database import Database, run_import

DATA = Path(__file__).parents[2] / "data"
FUTURE = (dt.date.today() + dt.timedelta(days=90)).isoformat()
PAST = (dt.date.today() - dt.timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def db_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "advisories.db"
    run_import(Database(path), [DATA / "advisories"])
    return path


def _scan(capsys, image: Path, db: Path, *args: str) -> tuple[int, dict, str]:
    code = main(["images", "scan", str(image), "--db", str(db), "-o", "json", *args])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_an_exception_by_alias_and_purl_moves_the_finding_to_excepted_with_its_reason(
    real_image, db_file, tmp_path, capsys
):
    path = tmp_path / "exceptions.yaml"
    path.write_text(
        "exceptions:\n"
        "  - id: CVE-2023-43804\n"  # an alias of PYSEC-2023-192
        "    package: pkg:pypi/urllib3\n"
        "    reason: cookies never cross origins in this service\n"
        f"    expires: {FUTURE}\n"
        "    status: not_affected\n"
        "    justification: vulnerable_code_not_in_execute_path\n"
        "  - id: GO-2021-0113\n"
        "    package: golang.org/x/text\n"
        "    reason: language tags come from our own config only\n"
        f"    expires: {PAST}\n"
        "  - id: PYSEC-2019-132\n"
        "    package: urllib3\n"
        f"    expires: {FUTURE}\n"
    )
    code, doc, err = _scan(capsys, real_image, db_file, "--exceptions", str(path))
    assert code == 1  # the other findings are still high
    (image,) = doc["images"]
    assert {f["id"] for f in image["findings"]} == {"GO-2021-0113", "PYSEC-2019-132", "PYSEC-2020-148"}
    (excepted,) = image["excepted"]
    assert excepted["id"] == "PYSEC-2023-192"
    assert excepted["exception"] == {
        "id": "CVE-2023-43804",
        "package": "pkg:pypi/urllib3",
        "reason": "cookies never cross origins in this service",
        "expires": FUTURE,
        "where": f"{path}:2",
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
    }
    problems = doc["exceptions"]["problems"]
    assert problems == [
        {
            "where": f"{path}:8",
            "message": f"exception for GO-2021-0113 in golang.org/x/text expired on {PAST}; it no longer applies",
            "severity": "medium",
        },
        {
            "where": f"{path}:12",
            "message": "exception for PYSEC-2019-132 in urllib3 has no reason; it does not apply",
            "severity": "medium",
        },
    ]
    assert f"{path}:8: medium: exception for GO-2021-0113" in err


def test_everything_excepted_passes_and_text_shows_the_reason(real_image, db_file, tmp_path, capsys):
    path = tmp_path / "all.yaml"
    items = [
        ("GO-2021-0113", "pkg:golang/golang.org/x/text@v0.3.5"),
        ("PYSEC-2019-132", "urllib3"),
        ("GHSA-wqvq-5m8c-6g24", "urllib3"),
        ("PYSEC-2023-192", "pkg:pypi/urllib3@1.24.1"),
    ]
    path.write_text(
        "exceptions:\n"
        + "".join(
            f"- id: {i}\n  package: {p}\n  reason: accepted until the upgrade\n  expires: {FUTURE}\n" for i, p in items
        )
    )
    assert main(["images", "scan", str(real_image), "--db", str(db_file), "--exceptions", str(path)]) == 0
    out = capsys.readouterr().out
    assert "0 findings" in out and out.count("excepted ") == 4
    assert f"excepted GO-2021-0113  golang.org/x/text v0.3.5: accepted until the upgrade until {FUTURE}" in out
    # An exception pinned to another version accepts nothing.
    path.write_text(
        f"exceptions:\n- id: PYSEC-2023-192\n  package: pkg:pypi/urllib3@1.26.0\n  reason: r\n  expires: {FUTURE}\n"
    )
    code, doc, _ = _scan(capsys, real_image, db_file, "--exceptions", str(path))
    assert doc["images"][0]["excepted"] == [] and code == 1


def test_an_expired_exception_fails_the_scan_at_its_own_severity(real_image, db_file, tmp_path, capsys):
    path = tmp_path / "x.yaml"
    path.write_text(f"exceptions:\n- id: CVE-0000-0001\n  package: nothing\n  reason: r\n  expires: {PAST}\n")
    # Nothing at or above critical; the expired exception (medium) counts from medium down.
    assert (
        main(
            [
                "images",
                "scan",
                str(real_image),
                "--db",
                str(db_file),
                "--fail-on",
                "critical",
                "--exceptions",
                str(path),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            ["images", "scan", str(real_image), "--db", str(db_file), "--fail-on", "medium", "--exceptions", str(path)]
        )
        == 1
    )


def test_openvex_not_affected_statements_are_exceptions(real_image, db_file, tmp_path, capsys):
    path = tmp_path / "app.openvex.json"
    path.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.test/vex/1",
                "author": "security@example.test",
                "timestamp": "2026-11-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2021-38561"},
                        "products": [
                            {
                                "@id": "pkg:oci/app",
                                "subcomponents": [{"@id": "pkg:golang/golang.org/x/text@v0.3.5"}],
                            }
                        ],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    },
                    {
                        "vulnerability": {"name": "CVE-2019-11236"},
                        "products": [{"@id": "pkg:pypi/urllib3@1.24.1"}],
                        "status": "not_affected",
                    },
                    {
                        "vulnerability": {"name": "CVE-2020-26137"},
                        "products": [{"@id": "pkg:pypi/urllib3@1.24.1"}],
                        "status": "affected",
                    },
                ],
            },
            indent=2,
        )
    )
    code, doc, _ = _scan(capsys, real_image, db_file, "--exceptions", str(path))
    assert code == 1  # urllib3's findings stand
    image = doc["images"][0]
    assert [(f["id"], f["exception"]["reason"]) for f in image["excepted"]] == [
        ("GO-2021-0113", "vulnerable_code_not_in_execute_path")
    ]
    assert "PYSEC-2019-132" in {f["id"] for f in image["findings"]}
    (problem,) = doc["exceptions"]["problems"]
    assert problem["message"] == "not_affected statement for CVE-2019-11236 has no justification"
    assert problem["where"].startswith(f"{path}:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "exceptions:\n- id: X\n  package: p\n  reason: r\n  expires: next week\n",
            "f.yaml:2: expires: 'next week' is not a date",
        ),
        (
            "exceptions:\n- id: X\n  package: p\n  reason: r\n  expires: 2030-01-01\n  status: fine\n",
            "f.yaml:2: status: 'fine'",
        ),
        (
            "exceptions:\n- id: X\n  package: 'pkg:'\n  reason: r\n",
            "f.yaml:2: package: 'pkg:' is not a valid package URL",
        ),
        ("exceptions:\n- package: p\n  reason: r\n", "f.yaml:2: an exception needs `id`"),
        ("exceptions:\n- id: X\n  package: p\n  reason: r\n  until: 2030-01-01\n", "f.yaml:2: unknown key(s) until"),
        ("- id: X\n", "f.yaml: expected a mapping with an `exceptions:` list"),
    ],
)
def test_malformed_exception_files_are_input_errors_naming_the_line(text, expected):
    with pytest.raises(InputError) as err:
        exceptions.parse(text, "f.yaml", dt.date(2026, 11, 29))
    assert expected in err.value.message


def test_an_exception_applies_through_its_expiry_day():
    text = "exceptions:\n- id: X\n  package: p\n  reason: r\n  expires: 2026-11-29\n"
    assert len(exceptions.parse(text, "f", dt.date(2026, 11, 29)).active) == 1
    later = exceptions.parse(text, "f", dt.date(2026, 11, 30))
    assert not later.active and "expired on 2026-11-29" in later.problems[0].message


def test_a_bad_exceptions_file_is_exit_2(real_image, db_file, tmp_path, capsys):
    path = tmp_path / "e.yaml"
    path.write_text("exceptions:\n- id: X\n  package: p\n  reason: r\n  expires: soon\n")
    assert main(["images", "scan", str(real_image), "--db", str(db_file), "--exceptions", str(path)]) == 2
    assert f"{path}:2: expires: 'soon' is not a date" in capsys.readouterr().err
