"""`shiplane images`: audit container images offline (inventory, advisory database, scan).

Exit codes: 0 ok (scan: nothing at or above --fail-on), 1 scan findings at or above --fail-on,
2 bad input (unreadable or hostile image, bad flags), 3 advisory database missing or empty.
"""

from __future__ import annotations

import json

import click

FORMATS = ("text", "json")


@click.group()
def images() -> None:
    """Audit container images: what is installed, which advisories affect it.

    \b
    IMAGE is a local path: an OCI image layout (directory or tar), a `docker save` archive
    (legacy or Docker >= 25) or a root filesystem directory. Nothing is extracted to disk.
    """


def _open(path: str, platform: str | None):
    from shiplane.cli.output import sink
    from shiplane.images import inventory, open_image

    with sink() as on_event:
        return open_image(path, wanted=inventory.WANTED, platform=platform, on_event=on_event)


@images.command("inventory")
@click.argument("image", type=click.Path())
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--platform", default=None, help="OS/ARCH to pick from a multi-platform index (default linux/amd64).")
def inventory_(image: str, output: str, platform: str | None) -> int:
    """List the OS release and every package found in IMAGE, each with its package URL and layer."""
    from shiplane.images import inventory

    img = _open(image, platform)
    try:
        inv = inventory.take(img.fs)
    finally:
        img.close()
    if output == "json":
        doc = {
            "image": image,
            "kind": img.source.kind,
            "tags": img.source.tags,
            "manifestDigest": img.source.manifest_digest,
            "configDigest": img.source.config_digest,
            "layers": [
                {"index": la.index, "digest": la.digest, "diffId": la.diff_id, "files": la.files, "bytes": la.size}
                for la in img.fs.layers
            ],
            **inv.to_dict(),
        }
        click.echo(json.dumps(doc, indent=2))
        return 0
    os_name = inv.os.pretty_name or inv.os.id or "unknown OS"
    click.echo(f"{image}: {os_name}, {len(img.fs.layers)} layer(s), {len(inv.packages)} package(s)")
    width = max((len(p.name) for p in inv.packages), default=4)
    for p in inv.packages:
        click.echo(f"  {p.type:7} {p.name:{width}}  {p.version:24} layer {p.layer}  /{p.location}")
    for note in inv.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    return 0
