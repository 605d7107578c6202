"""Hostile and malformed inputs to `shiplane import …` (and the spec's secrets), run as a user runs
them: tests/data/import-hostile/<case>/ holds the inputs and a case.yaml:

    args: [import, compose, compose.yaml]   # the command line (-o out is added for imports)
    cwd: project                            # where to run it (default: the case folder)
    exit: 2                                 # the exit code
    error: [...]                            # lines that must each appear in stderr
    secrets: [...]                          # planted secret values: must move to .shiplane-secrets/
    forbidden: [...]                        # further strings that must appear nowhere
    spec: [...] / report: [...]             # lines that must appear in the written spec / the report
    seconds: 10                             # a time bound

Every string containing MARKER is a planted secret: it must appear in no output, no error and
no written file except inside .shiplane-secrets/. A case that exits 0 must also render and pass
the Kubernetes schemas, so every `$(VAR)` the import wrote has its env.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

from shiplane import rendering, schemas, spec
from shiplane.cli import main
from shiplane.spec.inputs import gather

CASES = Path(__file__).parents[2] / "data" / "import-hostile"


def _planted(case: Path) -> set[str]:
    """Every MARKER string in the inputs: whole values (to the end of the word or quote)."""
    found: set[str] = set()
    for f in case.rglob("*"):
        if f.is_file() and f.name != "case.yaml":
            found.update(re.findall(r"MARKER[\w.-]*", f.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in CASES.iterdir()))
def test_hostile_case(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    case = CASES / name
    options = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8"))
    work = tmp_path / name
    shutil.copytree(case, work, ignore=shutil.ignore_patterns("case.yaml"))
    inputs = {p for p in work.rglob("*") if p.is_file()}
    monkeypatch.chdir(work / options.get("cwd", "."))
    args = list(options["args"]) + (["-o", str(work / "out")] if options["args"][0] == "import" else [])

    start = time.monotonic()
    code = main(args)
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()

    assert code == options["exit"], f"exit {code}\n{out}\n{err}"
    assert "Traceback" not in out + err
    for line in options.get("error") or []:
        assert line in err, f"{line!r} not in:\n{err}"
    if "seconds" in options:
        assert elapsed < options["seconds"], f"took {elapsed:.1f}s"
    secrets = set(options.get("secrets") or [])
    forbidden = _planted(case) | secrets | set(options.get("forbidden") or [])
    written = [p for p in work.rglob("*") if p.is_file() and p not in inputs]
    for value in forbidden:
        assert value not in out and value not in err, f"{value!r} printed"
        for path in written:
            if ".shiplane-secrets" not in path.parts:
                assert value not in path.read_text(encoding="utf-8"), f"{value!r} written to {path}"
    stored = {p.read_text(encoding="utf-8") for p in written if ".shiplane-secrets" in p.parts}
    for value in secrets:
        assert any(value in s for s in stored), f"{value!r} is not in .shiplane-secrets/ (lost?)"
    if code == 0 and options["args"][0] == "import":
        spec_file = work / "out" / "shiplane.yaml"
        text = spec_file.read_text(encoding="utf-8")
        for line in options.get("spec") or []:
            assert line in text, f"{line!r} not in the spec:\n{text}"
        for line in options.get("report") or []:
            assert line in out, f"{line!r} not in the report:\n{out}"
        stage = spec.load([spec_file]).stage("dev")
        schemas.validate(rendering.render(stage, gather(stage, {})), stage.kubernetes_version)
