"""Options shared by several commands, defined once so they read and behave the same."""

from __future__ import annotations

from pathlib import Path

import click

spec_files = click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Spec file; repeat to merge several in order (later wins). Default: ./shiplane.yaml.",
)
