"""`shiplane images push`: relocate a stage's images into its own registry (registered on the `images` group)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from shiplane.cli.options import spec_files


@click.command("push")
@spec_files
@click.option("-s", "--stage", required=True, help="Stage whose images to copy into its `registry`.")
@click.option("--dry-run", is_flag=True, help="Resolve each image and look in the target; copy nothing.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--no-referrers",
    is_flag=True,
    help="Copy the images only, not their signatures, attestations and SBOMs (OCI referrers, cosign tags).",
)
@click.option("--plain", is_flag=True, help="Timestamped lines instead of a live display.")
def push(files: tuple[Path, ...], stage: str, dry_run: bool, output: str, no_referrers: bool, plain: bool) -> None:
    """Copy every image a stage uses into the stage's registry, by digest (skipping what is there).

    \b
    Each image goes to <registry.host>/<registry.prefix>/<repository> under its tag; a deploy of
    the stage then pins the images there. Exit 0 done (or nothing to copy), 2 bad spec or an image
    that does not exist, 3 a registry unreachable or refusing the credentials."""
    from shiplane.actions import relocate
    from shiplane.cli.output import drain

    moved = drain(relocate.push(list(files), stage, dry_run=dry_run, referrers=not no_referrers), plain=plain or None)
    if output == "json":
        click.echo(json.dumps({"stage": stage, "dryRun": dry_run, "images": [m.to_json() for m in moved]}, indent=2))
        return
    for m in moved:
        extra = f" (+{len(m.referrers)} referrer(s))" if m.referrers else ""
        click.echo(f"{m.action:10} {m.source} → {m.target}{extra}")
    counts = {a: sum(1 for m in moved if m.action == a) for a in ("copied", "present", "would-copy")}
    click.echo("push: " + ", ".join(f"{n} {a}" for a, n in counts.items() if n) if moved else "push: no images")
