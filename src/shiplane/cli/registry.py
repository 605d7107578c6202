"""`shiplane registry …`: a local OCI registry on loopback for rehearsals and tests."""

from __future__ import annotations

import json

import click

from shiplane.cli.output import drain

name_option = click.option(
    "--name", default="default", show_default=True, help="Which local registry (several can run at once)."
)
output_option = click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)


@click.group()
def registry() -> None:
    """A local OCI registry on loopback (crane registry serve) for rehearsals and tests."""


@registry.command()
@name_option
@click.option("--port", type=click.IntRange(1, 65535), help="Listen on this port (default: a free one).")
@output_option
@click.option("--plain", is_flag=True, help="Timestamped lines instead of a live display.")
def up(name: str, port: int | None, output: str, plain: bool) -> None:
    """Start the registry on 127.0.0.1 (plain HTTP); prints its host:port."""
    from shiplane.localcluster import registry as lr

    state = drain(lr.up(name, port=port), plain=plain or None)
    if output == "json":
        click.echo(json.dumps(state.to_json(), indent=2))
        return
    click.echo(state.host)
    click.echo(f"# plain HTTP: export SHIPLANE_INSECURE_REGISTRIES={state.host}", err=True)


@registry.command()
@name_option
@output_option
@click.pass_context
def status(ctx: click.Context, name: str, output: str) -> None:
    """Host, process and disk of a local registry; exit 1 if its process is not running."""
    from shiplane.localcluster import registry as lr

    state = lr.status(name)
    if output == "json":
        click.echo(json.dumps(state.to_json(), indent=2))
    else:
        running = "running" if state.running else "NOT RUNNING"
        click.echo(f"registry {state.name}: {running}  {state.host}  pid {state.proc.pid}")
        click.echo(f"blobs: {state.directory / 'blobs'}  log: {state.proc.log}")
    ctx.exit(0 if state.running else 1)


@registry.command()
@name_option
@click.option("--keep-data", is_flag=True, help="Keep the stored blobs (manifests live in memory and are lost).")
@output_option
def down(name: str, keep_data: bool, output: str) -> None:
    """Stop exactly the registry process `up` started and remove its state."""
    from shiplane.localcluster import registry as lr

    outcome = drain(lr.down(name, keep_data=keep_data), plain=True)
    click.echo(json.dumps({"name": name, "outcome": outcome}) if output == "json" else f"registry {name}: {outcome}")
