"""Bring what exists into a shiplane spec: compose files, systemd units, Procfiles, manifests.

    imported = import_compose([Path("compose.yaml")], out_dir=Path("."))
    imported.spec, imported.report, imported.secret_values
    writing.write(out_dir, imported.spec, imported.report, imported.secret_values)

Reading happens at the edges (`composefile`, `host`); every mapping is a pure function
from what was read to (spec dict, report, secret values).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shiplane.importing import compose, composefile, host
from shiplane.importing.compose import Imported
from shiplane.importing.report import Report, ServiceReport

__all__ = ["Imported", "Report", "ServiceReport", "import_compose"]


def import_compose(
    paths: list[Path],
    *,
    out_dir: Path,
    environ: Mapping[str, str] | None = None,
    profiles: list[str] | None = None,
    env_file: Path | None = None,
    project_name: str | None = None,
    connections: str = "inferred",
) -> Imported:
    project = composefile.load(paths, environ=environ, profiles=profiles, env_file=env_file, name=project_name)
    facts, seen = host.survey(project)
    return compose.convert(project, facts=facts, paths=seen, out_dir=out_dir.resolve(), connections=connections)
