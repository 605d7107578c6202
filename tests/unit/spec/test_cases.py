"""Case folders: tests/data/spec-cases/<case>/shiplane.yaml in, rendered YAML or error text out.

A case may hold `case.yaml` with `stages` (default [dev]), `env` (environment for
secrets) and `args` (extra CLI arguments). With `expected-errors.txt` the command
must exit 2 with exactly that stderr; otherwise stdout must equal `expected-<stage>.yaml`.
Regenerate with SHIPLANE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from shiplane.cli import main
from tests.unit.spec import golden

CASES = Path(__file__).parents[2] / "data" / "spec-cases"


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_case(case: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    conf = yaml.safe_load((case / "case.yaml").read_text()) if (case / "case.yaml").exists() else {}
    monkeypatch.chdir(case)
    for key in [k for k in os.environ if k.startswith("CASE_")]:
        monkeypatch.delenv(key)
    for key, value in (conf.get("env") or {}).items():
        monkeypatch.setenv(key, str(value))
    errors = case / "expected-errors.txt"
    for stage in conf.get("stages", ["dev"]):
        rc = main(["render", "-f", "shiplane.yaml", "--stage", stage, *conf.get("args", [])])
        out, err = capsys.readouterr()
        if errors.exists() or (golden.UPDATE and rc == 2):
            assert rc == 2, f"expected exit 2, got {rc}; stdout:\n{out[:2000]}"
            assert "Traceback" not in err
            golden.check(errors, err)
            return
        assert rc == 0, err
        golden.check(case / f"expected-{stage}.yaml", out)
