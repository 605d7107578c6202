"""Start-up stays cheap: `--help`, `--version` and a usage error import click and nothing heavy.

Asserts which modules load (not a timing, which would be flaky on a busy machine);
docs/ARCHITECTURE.md gives the measured CPU times.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from shiplane.cli import root

PROBE = """
import contextlib, io, json, sys
before = set(sys.modules)
from shiplane.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(set(sys.modules) - before)}))
"""
HEAVY = {"kubernetes", "pydantic", "rich", "yaml", "jsonschema", "urllib3", "cryptography", "structlog"}


def imported(*args: str) -> tuple[int, set[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=True)
    data = json.loads(out.stdout)
    return data["code"], set(data["modules"])


def third_party(modules: set[str]) -> set[str]:
    roots = {m.split(".")[0] for m in modules}
    return {r for r in roots if r not in sys.stdlib_module_names and not r.startswith("_")}


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["no-such-command"]])
def test_help_and_version_import_only_click(args):
    code, modules = imported(*args)
    assert code in (0, 2)
    assert third_party(modules) == {"click", "shiplane"}
    assert {m for m in modules if m.startswith("shiplane")} == {"shiplane", "shiplane.cli", "shiplane.errors"}


@pytest.mark.parametrize(
    "command", ["deploy", "plan", "status", "render", "check", "import", "cluster", "export", "secrets"]
)
def test_a_usage_error_or_subcommand_help_loads_no_heavy_module(command):
    for args in ([command, "--help"], [command, "--no-such-flag"]):
        code, modules = imported(*args)
        assert code in (0, 2), args
        assert not {m.split(".")[0] for m in modules} & HEAVY, (args, sorted(third_party(modules)))


def test_the_listed_help_is_each_commands_own():
    ctx = click.Context(root)
    for name, (_, summary) in root.lazy.items():
        assert root.get_command(ctx, name).get_short_help_str(limit=1000) == summary, name
