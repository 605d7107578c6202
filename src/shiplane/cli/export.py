"""`shiplane export helm|kustomize|gitops`: the app's stages as a chart, a Kustomize tree or a GitOps layout."""

from __future__ import annotations

import json
from pathlib import Path

import click

from shiplane.cli.options import selection, spec_files, target_options


def _common(fn):
    for option in reversed(
        [
            spec_files,
            target_options,
            click.option(
                "-o",
                "--output-dir",
                required=True,
                type=click.Path(file_okay=False, path_type=Path),
                help="Directory to write into (created if missing).",
            ),
            click.option(
                "-s",
                "--stage",
                "stages",
                multiple=True,
                help="Stage to export; repeat for several. Default: every stage of the spec.",
            ),
            click.option(
                "--dry-run", is_flag=True, help="Write nothing: check the directory and list what would be written."
            ),
            click.option("--force", is_flag=True, help="Replace files of the same name that shiplane did not write."),
            click.option(
                "--output",
                "fmt",
                type=click.Choice(["text", "json"]),
                default="text",
                show_default=True,
                help="json: the files written (or that would be) as a JSON document on stdout.",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _units(files: tuple[Path, ...], stages: tuple[str, ...]):
    from shiplane import exporting, spec
    from shiplane.spec.inputs import gather

    loaded = spec.load(list(files) or [Path("shiplane.yaml")])
    names = list(dict.fromkeys(stages)) or list(loaded.stages)
    units = []
    selector, _ = selection()
    for name in names:
        # every target of the stage (or the stage itself without `targets:`)
        for stage in loaded.select(name, selector if loaded.targeting else None, all_targets=True):
            units.append(exporting.unit(stage, gather(stage)))
    doc = loaded.stage(names[0]).doc
    return units, doc.app.name, doc.app.version


def _finish(kind: str, out: Path, files: dict[str, str], units, *, dry_run: bool, force: bool, fmt: str) -> None:
    from shiplane.exporting import files as exported

    result = exported.write(out, files, force=force, dry_run=dry_run)
    paths = result.files
    if fmt == "json":
        doc = {
            "kind": kind,
            "directory": str(out),
            "dryRun": dry_run,
            "units": [{"name": u.name, "namespace": u.namespace} for u in units],
            "files": [str(p) for p in paths],
            "removed": [str(p) for p in result.removed],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    verb = "would write" if dry_run else "wrote"
    for p in paths:
        click.echo(f"{verb} {p}")
    for p in result.removed:
        click.echo(f"{'would remove' if dry_run else 'removed'} {p} (no longer exported)")
    click.echo(f"{verb} {len(paths)} files to {out} ({kind}; {', '.join(u.name for u in units)})", err=True)


@click.group()
def export() -> None:
    """Export the app's stages as a Helm chart, a Kustomize tree or a GitOps repository layout."""


@export.command()
@_common
def helm(files, output_dir, stages, dry_run, force, fmt) -> None:
    """A Helm chart: templates hold what the stages share, values-<stage>.yaml what differs."""
    from shiplane.exporting import helm as helm_

    units, app, version = _units(files, stages)
    _finish(
        "helm", output_dir, helm_.chart(units, app=app, version=version), units, dry_run=dry_run, force=force, fmt=fmt
    )


@export.command()
@_common
def kustomize(files, output_dir, stages, dry_run, force, fmt) -> None:
    """A Kustomize tree: base/ holds what the stages share, overlays/<stage>/ patches what differs."""
    from shiplane.exporting import kustomize as kustomize_

    units, app, _ = _units(files, stages)
    _finish("kustomize", output_dir, kustomize_.tree(units, app=app), units, dry_run=dry_run, force=force, fmt=fmt)


@export.command()
@_common
@click.option(
    "--flavor", type=click.Choice(["argocd", "flux"]), required=True, help="Which GitOps controller deploys it."
)
@click.option(
    "--repo-url",
    default=None,
    help="The Git repository the layout is pushed to (default: a placeholder to replace).",
)
@click.option("--revision", default="main", show_default=True, help="Branch or tag the controller follows.")
def gitops(files, output_dir, stages, dry_run, force, fmt, flavor, repo_url, revision) -> None:
    """A GitOps repository: rendered objects per stage and the Argo CD or Flux objects that deploy them."""
    from shiplane.exporting import gitops as gitops_

    units, app, _ = _units(files, stages)
    layout = gitops_.layout(units, app=app, flavor=flavor, repo_url=repo_url, revision=revision)
    _finish(f"gitops/{flavor}", output_dir, layout, units, dry_run=dry_run, force=force, fmt=fmt)
