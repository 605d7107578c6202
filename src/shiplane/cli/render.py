"""`shiplane render` and `shiplane schema`: spec in, Kubernetes objects (or the spec's schema) out."""

from __future__ import annotations

import json
from pathlib import Path

import click

from shiplane.cli.options import selection, spec_files, target_options


@click.command()
@spec_files
@click.option("-s", "--stage", required=True, help="Stage to render (dev, test, prod, …).")
@click.option("-n", "--namespace", default=None, help="Override the stage's namespace.")
@target_options
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one file per object here instead of a YAML stream on stdout.",
)
@click.option(
    "--validate/--no-validate",
    default=True,
    show_default=True,
    help="Check every object against the stage's Kubernetes version schemas.",
)
@click.option("--show-secrets", is_flag=True, help="Write real Secret data (masked by default).")
@click.option(
    "--pin",
    is_flag=True,
    help="Resolve images to digests as deploy does for a stage with `images.pin` or a `registry` "
    "(reads the registries; without it, render is offline).",
)
@click.option(
    "--force",
    is_flag=True,
    help="With -o: replace files of the same name that shiplane did not write (they are kept by default).",
)
def render(
    files: tuple[Path, ...],
    stage: str,
    namespace: str | None,
    output_dir: Path | None,
    validate: bool,
    show_secrets: bool,
    force: bool,
    pin: bool,
) -> None:
    """Render a stage of the app as Kubernetes objects."""
    from shiplane import rendering, schemas, spec
    from shiplane.rendering import exporting
    from shiplane.spec.inputs import gather

    stage_spec = spec.load(list(files) or [Path("shiplane.yaml")]).select(stage, selection()[0])[0]
    inputs = gather(stage_spec)
    objects = rendering.render(stage_spec, inputs, namespace=namespace)
    if pin:
        objects = _pinned(stage_spec, inputs, objects, namespace)
    if validate:
        schemas.validate(objects, stage_spec.kubernetes_version)
        for note in schemas.unvalidated(objects):
            click.echo(f"note: {note}", err=True)
    if not show_secrets:
        objects = exporting.mask_secrets(objects)
    if output_dir is None:
        click.echo(exporting.to_stream(objects), nl=False)
    else:
        written = exporting.write_dir(objects, output_dir, force=force)
        click.echo(f"wrote {len(written)} objects to {output_dir}", err=True)


def _pinned(stage_spec, inputs, objects: list[dict], namespace: str | None) -> list[dict]:
    """The stage's objects with images pinned (and relocated) as a deploy would render them."""
    from shiplane import rendering
    from shiplane.actions import pinning

    if not pinning.wanted(stage_spec.stage):
        return objects
    with pinning.client_for(stage_spec.stage.registry, pinning.users(objects)) as client:
        found = pinning.resolve(objects, stage_spec.stage, client, stage_name=stage_spec.name)
    mapping = {image: p.reference for image, p in found.items()}
    return rendering.render(stage_spec, inputs, namespace=namespace, images=mapping)


@click.command()
def schema() -> None:
    """Print the JSON Schema of shiplane.yaml (for editor completion and validation)."""
    from shiplane.spec import Document

    doc = Document.model_json_schema(by_alias=True)
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "shiplane.yaml", **doc}
    click.echo(json.dumps(doc, indent=2, sort_keys=True))
