"""README's benchmark table is the one bench/readme_table.py renders from bench/results/ (not typed by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_benchmark_table_is_generated_from_the_results():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "readme_table.py"), "--check"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
