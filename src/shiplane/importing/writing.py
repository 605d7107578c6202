"""Write an imported spec: shiplane.yaml, secret values in a git-ignored directory, the report.

The spec is checked by loading it back with `shiplane.spec.load` before anything is
written, so an import never leaves a spec that does not load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from shiplane.errors import InputError
from shiplane.importing.report import Report

SECRETS_DIR = ".shiplane-secrets"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml: 10x faster on big imports
    """No &anchors: a repeated probe check is written out twice, as a person would."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(spec: dict[str, Any], report: Report) -> str:
    head = [
        f"# Imported by `shiplane import {report.tool}` from {', '.join(report.sources)}.",
        "# Review the import report (blockers, guesses) before deploying; this file is yours to edit.",
    ]
    body = yaml.dump(spec, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)
    # A comment above each service says what it became and why.
    why = {s.name: f"{s.kind}: {s.why}" if s.why else s.kind for s in report.services}
    lines, in_services = [], False
    for line in body.splitlines():
        if line == "services:":
            in_services = True
        elif line and not line.startswith(" "):
            in_services = False
        elif in_services and line.startswith("  ") and not line.startswith("   ") and line.endswith(":"):
            name = line.strip()[:-1]
            if name in why:
                lines.append(f"  # {why[name]}")
        lines.append(line)
    return "\n".join(head + lines) + "\n"


def check_loads(text: str, out_dir: Path) -> None:
    """Load the spec as `shiplane render` would; a failure here is a bug in the import."""
    from shiplane import spec

    probe = out_dir / ".shiplane-import-check.yaml"
    probe.write_text(text, encoding="utf-8")
    try:
        spec.load([probe])
    except InputError as err:
        raise InputError(
            f"the imported spec does not load (a bug in shiplane import; please report it):\n{err}"
        ) from err
    finally:
        probe.unlink(missing_ok=True)


def write(
    out_dir: Path,
    spec: dict[str, Any],
    report: Report,
    secret_values: dict[str, str],
    *,
    force: bool = False,
    file_name: str = "shiplane.yaml",
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / file_name
    if target.exists() and not force:
        raise InputError(f"{target} already exists", hint="pass --force to overwrite it, or -o another directory")
    text = to_yaml(spec, report)
    check_loads(text, out_dir)
    if secret_values:
        sdir = out_dir / SECRETS_DIR
        sdir.mkdir(mode=0o700, exist_ok=True)
        for name, value in secret_values.items():
            path = sdir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(value)
        _ignore(out_dir, f"{SECRETS_DIR}/")
    target.write_text(text, encoding="utf-8")
    return target


def _ignore(out_dir: Path, entry: str) -> None:
    gitignore = out_dir / ".gitignore"
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if entry not in lines:
        lines.append(entry)
        gitignore.write_text("\n".join(lines) + "\n", encoding="utf-8")
