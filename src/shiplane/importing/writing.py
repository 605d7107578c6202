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


def check_loads(text: str, target: Path) -> None:
    """Load the spec as `shiplane render` would, from memory (no probe file is ever written);
    a failure here is a bug in the import."""
    from shiplane.spec.loading import source_from_text
    from shiplane.spec.staging import validate

    try:
        validate(source_from_text(text, str(target), target.parent.resolve()))
    except InputError as err:
        raise InputError(
            f"the imported spec does not load (a bug in shiplane import; please report it):\n{err}"
        ) from err


def _layout(
    out: OutputDir,
    spec: dict[str, Any],
    report: Report,
    secret_values: dict[str, str],
    *,
    file_name: str,
    raw: Iterable[tuple[str, str]],
    recipes: dict[str, str] | None = None,
) -> tuple[str, dict[str, str], dict[str, str]]:
    """(spec text, secret files, raw files) by relative path, after every refusal `write` makes:
    a target that exists (unless --force), is a symlink or lies outside the output directory."""
    for name in secret_values:
        if safe_name(name) != name:
            raise InputError(f"secret name {name!r} cannot be a file name in {SECRETS_DIR}/ (a bug in the import)")
    secret_files = {f"{SECRETS_DIR}/{name}": value for name, value in secret_values.items()}
    raw_files: dict[str, str] = {}
    for name, text_ in (recipes or {}).items():  # service names are DNS labels: safe as directories
        raw_files[f"images/{safe_name(name)}/Dockerfile"] = text_
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
    check_loads(text, out.root / file_name)
    return text, secret_files, raw_files


def write(
    out_dir: Path,
    spec: dict[str, Any],
    report: Report,
    secret_values: dict[str, str],
    *,
    force: bool = False,
    file_name: str = "shiplane.yaml",
    raw: Iterable[tuple[str, str]] = (),
    recipes: dict[str, str] | None = None,
) -> Path:
    """Write the spec, secret values and `raw` (file name, text) files; refuse before writing anything
    if a target exists (unless `force`), is a symlink or lies outside `out_dir`."""
    out = OutputDir(out_dir, force=force)
    text, secret_files, raw_files = _layout(
        out, spec, report, secret_values, file_name=file_name, raw=raw, recipes=recipes
    )
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


def preview(
    out_dir: Path,
    spec: dict[str, Any],
    report: Report,
    secret_values: dict[str, str],
    *,
    force: bool = False,
    file_name: str = "shiplane.yaml",
    raw: Iterable[tuple[str, str]] = (),
    recipes: dict[str, str] | None = None,
) -> tuple[str, list[Path]]:
    """What `write` would do, writing nothing: the spec text and every path it would write.
    Refuses as `write` does."""
    out = OutputDir(out_dir, force=force)
    text, secret_files, raw_files = _layout(
        out, spec, report, secret_values, file_name=file_name, raw=raw, recipes=recipes
    )
    paths = [out_dir / file_name, *(out_dir / rel for rel in (*secret_files, *raw_files))]
    if secret_files:
        existing = out.read_own(".gitignore")
        if f"{SECRETS_DIR}/" not in (existing or "").splitlines():
            paths.append(out_dir / ".gitignore")
    return text, paths
