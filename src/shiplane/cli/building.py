"""`shiplane build`: build, tag by content and push each service's image to the stage's registry."""

from __future__ import annotations

import json

import click

from shiplane.cli.options import spec_files


@click.command()
@spec_files
@click.argument("services", nargs=-1, metavar="[SERVICE]...")
@click.option(
    "-s", "--stage", default=None, help="Stage whose registry gets the images (default: the only one with a registry)."
)
@click.option("--dry-run", is_flag=True, help="Show what would be built and pushed, with its tags; run no builder.")
@click.option("--plain", is_flag=True, help="Plain timestamped lines instead of a live display.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def build(files, services, stage, dry_run, plain, output) -> int:
    """Build each service's `build:` context with docker buildx, podman or buildah, tag it by content and push it.

    \b
    The tag is `src-<hash>` of the context (minus .dockerignore'd files), Dockerfile, target and args;
    a `git-<commit>` tag is pushed too when the context is committed. A tag the registry already has is
    not rebuilt. Builder output goes to a log file under the cache (named on failure).
    Exit 0 built, 1 a build failed, 2 bad input, 3 no builder runs here or the registry is unreachable."""
    from shiplane.actions import build as actions
    from shiplane.cli.output import drain

    chosen = actions.stage_of(list(files), stage)
    built = drain(actions.run(actions.jobs(list(files), chosen, tuple(services)), dry_run=dry_run), plain or None)
    if output == "json":
        click.echo(json.dumps({"stage": chosen, "dryRun": dry_run, "images": [b.to_dict() for b in built]}, indent=2))
        return 0
    for b in built:
        how = "up to date" if b.reused else ("would build" if dry_run else "built")
        click.echo(f"{b.service}: {how} {b.pinned}")
    return 0
