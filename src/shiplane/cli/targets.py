"""`shiplane targets ls`: the expansion of a spec's `targets:` block."""

from __future__ import annotations

import json
from pathlib import Path

import click

from shiplane.cli.options import selection, spec_files, target_options


@click.group()
def targets() -> None:
    """Show where the app runs: the stage x dimension targets of the spec's targets: block."""


@targets.command("ls")
@spec_files
@click.option("-s", "--stage", default=None, help="Only this stage's targets.")
@target_options
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def ls(files, stage, output) -> None:
    """List the targets: stage, one column per dimension, context, namespace.

    Exit codes: 0 listed; 2 bad input (spec errors with file:line, an unknown stage or dimension).
    """
    from shiplane import spec

    loaded = spec.load(list(files) or [Path("shiplane.yaml")])
    if loaded.targeting is None:
        from shiplane.errors import InputError

        raise InputError("this spec has no targets: block (see docs/targets.md)")
    selector, _ = selection()
    chosen = loaded.select(stage, selector, all_targets=True)
    rows = [s.target.as_dict() for s in chosen if s.target is not None]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    dims = list(loaded.targeting.dimensions)
    head = ["STAGE", *(d.upper() for d in dims), "CONTEXT", "NAMESPACE"]
    table = [head, *[[r["stage"], *(r[d] for d in dims), r["context"] or "-", r["namespace"]] for r in rows]]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    for row in table:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
