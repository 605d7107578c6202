"""Data-driven import cases (tests/data/import-cases/<case>/), after black's tests/data/cases.

A case holds compose files and whatever they refer to, an optional case.yaml
(files, profiles, environ, connections), and either the expected `shiplane.yaml` and
`report.txt` (goldens: SHIPLANE_UPDATE_GOLDEN=1 rewrites them) or `error.txt`: lines
that must each appear in the error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from shiplane import spec
from shiplane.errors import InputError
from shiplane.importing import import_compose, writing
from tests.unit.spec import golden

CASES = Path(__file__).parents[2] / "data" / "import-cases"


def run_case(case: Path, work: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(case, work, ignore=shutil.ignore_patterns("expected.yaml", "report.txt", "error.txt"))
    monkeypatch.chdir(work)  # error messages name files relative to where the user runs shiplane
    options = yaml.safe_load((case / "case.yaml").read_text()) if (case / "case.yaml").exists() else {}
    files = [Path(f) for f in options.get("files", ["compose.yaml"])]
    return import_compose(
        files,
        out_dir=Path("."),
        environ=options.get("environ", {}),
        profiles=options.get("profiles"),
        connections=options.get("connections", "network"),
    )


@pytest.mark.parametrize("name", sorted(p.name for p in CASES.iterdir() if not p.name.startswith("err-")))
def test_import_case(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES / name
    imported = run_case(case, tmp_path / name, monkeypatch)
    written = writing.write(Path("."), imported.spec, imported.report, imported.secret_values)
    text = written.read_text()
    golden.check(case / "expected.yaml", text)
    golden.check(case / "report.txt", imported.report.to_text())
    spec.load([written])  # the imported spec loads and validates (every stage)
    for value in imported.secret_values.values():
        assert value not in text and value not in imported.report.to_text() + imported.report.to_json()


@pytest.mark.parametrize("name", sorted(p.name for p in CASES.iterdir() if p.name.startswith("err-")))
def test_import_error_case(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES / name
    with pytest.raises(InputError) as err:
        run_case(case, tmp_path / name, monkeypatch)
    for line in (case / "error.txt").read_text().splitlines():
        assert line in str(err.value)
