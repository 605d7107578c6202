"""The `shiplane` command: parse, call the library, render its events.

`main()` is the single error boundary: a ShiplaneError becomes a clear message on
stderr and its exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import click

from shiplane import __version__
from shiplane.errors import ShiplaneError


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it runs, so `shiplane --help` stays fast."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module_name, attr = self.lazy[name].rsplit(":", 1)
            module = __import__(module_name, fromlist=[attr])
            return getattr(module, attr)
        return super().get_command(ctx, name)


@click.group(
    cls=LazyGroup,
    lazy={
        "check": "shiplane.cli.check:check",
        "cluster": "shiplane.cli.cluster:cluster",
        "images": "shiplane.cli.images:images",
        "import": "shiplane.cli.importing:import_",
        "render": "shiplane.cli.render:render",
        "schema": "shiplane.cli.render:schema",
        "plan": "shiplane.cli.deploying:plan",
        "deploy": "shiplane.cli.deploying:deploy",
        "rollback": "shiplane.cli.deploying:rollback",
        "history": "shiplane.cli.deploying:history",
        "status": "shiplane.cli.deploying:status",
        "promote": "shiplane.cli.deploying:promote",
        "unlock": "shiplane.cli.deploying:unlock",
    },
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="shiplane")
def root() -> None:
    """Describe a multi-service app once; render, audit, deploy and operate it on Kubernetes."""


def main(argv: list[str] | None = None) -> int:
    try:
        rv = root.main(args=argv, prog_name="shiplane", standalone_mode=False)
    except ShiplaneError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2
    except click.exceptions.Exit as err:
        return err.exit_code
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
