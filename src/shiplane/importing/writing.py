"""Write an imported spec: shiplane.yaml, secret values in a git-ignored directory, the report.

The spec is checked by loading it back with `shiplane.spec.load` before anything is
written, so an import never leaves a spec that does not load.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from shiplane.errors import InputError, InputErrors
from shiplane.fileio.writing import OutputDir, safe_name
from shiplane.importing.report import Report

SECRETS_DIR = ".shiplane-secrets"


class _Dumper(yaml.SafeDumper):
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
    """Load the spec as `shiplane render` would; a failure here is a bug in the import.

    The probe gets a fresh random name (created exclusively), so it never replaces a file."""
    from shiplane import spec

    out = OutputDir(out_dir)
    probe = out.create_new(".shiplane-import-check-", ".yaml", text)
    try:
        spec.load([probe])
    except InputError as err:
        raise InputError(
            f"the imported spec does not load (a bug in shiplane import; please report it):\n{err}"
        ) from err
    finally:
        out.unlink(probe.name)


def write(
    out_dir: Path,
    spec: dict[str, Any],
    report: Report,
    secret_values: dict[str, str],
    *,
    force: bool = False,
    file_name: str = "shiplane.yaml",
    raw: Iterable[tuple[str, str]] = (),
) -> Path:
    """Write the spec, secret values and `raw` (file name, text) files; refuse before writing anything
    if a target exists (unless `force`), is a symlink or lies outside `out_dir`."""
    out = OutputDir(out_dir, force=force)
    for name in secret_values:
        if safe_name(name) != name:
            raise InputError(f"secret name {name!r} cannot be a file name in {SECRETS_DIR}/ (a bug in the import)")
    secret_files = {f"{SECRETS_DIR}/{name}": value for name, value in secret_values.items()}
    raw_files: dict[str, str] = {}
    for name, raw_text in raw:
        rel, n = f"raw/{safe_name(name)}", 2  # names come from the objects' kind and name: untrusted
        while rel in raw_files:
            rel, n = f"raw/{safe_name(name).removesuffix('.yaml')}-{n}.yaml", n + 1
        raw_files[rel] = raw_text
    edited = (file_name, *secret_files, *raw_files)  # written to be edited: any existing one needs --force
    refused = [why for rel in edited if (why := out.existing(rel, any_file=True))]
    if secret_files and (why := out.existing(".gitignore", replace_foreign=True)):
        refused.append(why)
    if refused:
        raise InputErrors(refused, hint="pass --force to overwrite, or -o another directory")
    text = to_yaml(spec, report)
    check_loads(text, out_dir)
    for rel, value in secret_files.items():
        out.write(rel, value, mode=0o600, any_file=True, dir_mode=0o700)
    if secret_files:
        _ignore(out, f"{SECRETS_DIR}/")
    for rel, raw_text in raw_files.items():
        out.write(rel, raw_text, any_file=True)
    return out.write(file_name, text, any_file=True)


def _ignore(out: OutputDir, entry: str) -> None:
    """Add `entry` to the output dir's .gitignore, keeping what is there (never through a symlink)."""
    existing = out.read_own(".gitignore")
    lines = existing.splitlines() if existing is not None else []
    if entry not in lines:
        lines.append(entry)
        out.write(".gitignore", "\n".join(lines) + "\n", replace_foreign=True)
