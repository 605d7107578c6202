"""The advisory database: OSV JSON/YAML files, folders and zips into SQLite; status; re-imports."""

from __future__ import annotations

import datetime as dt
import json
import os
import zipfile
from pathlib import Path

import pytest

from shiplane.cli import main
from shiplane.errors import InputError
from shiplane.images.database import Database, run_import
from shiplane.images.errors import DatabaseMissing

DATA = Path(__file__).parents[2] / "data" / "advisories"
SHARED = Path(__file__).parents[3] / ".." / "shared" / "advisories"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def test_import_folder_of_yaml_and_json_then_look_up(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    assert run_import(db, [DATA]) == 6
    status = db.status()
    assert status.advisories == 6
    assert status.by_ecosystem == {"crates.io": 1, "go": 1, "pypi": 4}
    assert [(s.path, s.advisories) for s in status.sources] == [(str(DATA.resolve()), 6)]
    found = db.lookup([("PyPI", "URLLIB3"), ("PyPI", "urllib3"), ("Go", "golang.org/x/text"), ("npm", "left-pad")])
    assert len(found[("PyPI", "urllib3")]) == 3  # two spellings of one name: both answered
    assert sorted(doc["id"] for doc, _ in found[("PyPI", "URLLIB3")]) == [
        "PYSEC-2019-132",
        "PYSEC-2020-148",
        "PYSEC-2023-192",
    ]
    doc, entry = found[("Go", "golang.org/x/text")][0]
    assert (
        doc["aliases"] == ["CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"] and entry["package"]["name"] == "golang.org/x/text"
    )
    assert found[("npm", "left-pad")] == []


def test_reimport_replaces_and_sources_are_kept_apart(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    run_import(db, [DATA / "pypa"])
    run_import(db, [DATA / "pypa", DATA / "go"])
    status = db.status()
    assert status.advisories == 5 and len(status.sources) == 2
    assert len(db.lookup([("PyPI", "urllib3")])[("PyPI", "urllib3")]) == 3  # not doubled


def test_import_all_zip(tmp_path: Path) -> None:
    zpath = tmp_path / "all.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in (DATA / "go").glob("*.json"):
            zf.write(f, f.name)
        zf.write(DATA / "rustsec" / "RUSTSEC-2023-0056.json", "RUSTSEC-2023-0056.json")
    db = Database(tmp_path / "a.db")
    assert run_import(db, [zpath]) == 2
    assert db.status().by_ecosystem == {"crates.io": 1, "go": 1}


def test_bad_records_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match=r"bad.json: not valid JSON"):
        run_import(Database(tmp_path / "a.db"), [tmp_path / "bad.json"])
    (tmp_path / "x.yaml").write_text("summary: no id here\n")
    with pytest.raises(
        InputError, match=r"x.yaml: not an OSV record, a Debian security tracker file or an Alpine secdb file"
    ):
        run_import(Database(tmp_path / "b.db"), [tmp_path / "x.yaml"])
    with pytest.raises(InputError, match="no such file"):
        run_import(Database(tmp_path / "c.db"), [tmp_path / "missing"])


def test_missing_database_is_exit_3_and_dry_run_writes_nothing(tmp_path: Path, capsys) -> None:
    db_file = tmp_path / "sub" / "a.db"
    assert main(["images", "db", "status", "--db", str(db_file)]) == 3
    assert "no advisory database at" in capsys.readouterr().err
    assert main(["images", "db", "import", "--dry-run", "--db", str(db_file), str(DATA)]) == 0
    assert "would import 6 advisories" in capsys.readouterr().out
    assert not db_file.parent.exists()
    assert main(["images", "db", "import", "--db", str(db_file), str(DATA)]) == 0
    capsys.readouterr()
    assert main(["images", "db", "status", "--db", str(db_file), "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["advisories"] == 6 and doc["sources"][0]["ageDays"] < 1
    assert main(["images", "db", "status", "--db", str(db_file)]) == 0
    assert "6 advisories" in capsys.readouterr().out


def test_env_selects_the_cache_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHIPLANE_CACHE", str(tmp_path))
    assert Database().path == tmp_path / "advisories.db"


def test_source_age(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    from shiplane import events

    events.result(db.import_paths([DATA / "go"], now=long_ago))
    assert db.status().oldest.age() > dt.timedelta(days=365)


def test_importing_the_shared_advisories(tmp_path: Path) -> None:
    # The < 10 s goal is measured by bench/images_bench.py, not asserted here (machines are noisy).
    if not SHARED.is_dir():
        if IN_CI:
            pytest.fail(f"{SHARED} is missing in CI")
        pytest.skip(f"{SHARED} (the shared real OSV data) is not on this machine")
    db = Database(tmp_path / "a.db")
    count = run_import(db, [SHARED])
    assert count > 8000
    assert set(db.status().by_ecosystem) == {"crates.io", "go", "pypi"}


def test_empty_database_is_exit_3(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db")
    run_import(db, [tmp_path])  # an empty folder: a source with no advisories
    with pytest.raises(DatabaseMissing, match="is empty"):
        db.require()
