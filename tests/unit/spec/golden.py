"""Golden files: compare, or rewrite them when SHIPLANE_UPDATE_GOLDEN=1 (then review the git diff)."""

from __future__ import annotations

import os
from pathlib import Path

UPDATE = os.environ.get("SHIPLANE_UPDATE_GOLDEN") == "1"


def check(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing; run with SHIPLANE_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path}; if intended, regenerate with SHIPLANE_UPDATE_GOLDEN=1"
