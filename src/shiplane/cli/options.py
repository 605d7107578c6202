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


# Target selection (specs with `targets:`). The options store what was asked in ctx.meta and
# expose no parameter, so every command gets them by one decorator and reads them in one
# place (`selection()`), without changing its signature.
_SELECTOR = "shiplane.target_selector"


def _store_selector(ctx: click.Context, param: click.Parameter, value):
    from shiplane.spec.targets import parse_selector

    if param.name == "target":
        try:
            ctx.meta.setdefault(_SELECTOR, {})["selector"] = parse_selector(value) if value else {}
        except ValueError as err:
            raise click.BadParameter(str(err), ctx=ctx, param=param) from None
    else:
        ctx.meta.setdefault(_SELECTOR, {})["all_targets"] = bool(value)
    return value


def target_options(fn):
    """--target dim=value,… (globs allowed) and --all-targets."""
    fn = click.option(
        "--all-targets",
        is_flag=True,
        expose_value=False,
        callback=_store_selector,
        help="Work on every target the stage (and --target, if given) selects.",
    )(fn)
    return click.option(
        "--target",
        "target",
        default=None,
        metavar="DIM=VALUE,…",
        expose_value=False,
        callback=_store_selector,
        help="Select targets of a spec with targets: (e.g. region=eu,tenant=a*).",
    )(fn)


def selection() -> tuple[dict[str, str], bool]:
    """(selector, all_targets) given to the running command."""
    ctx = click.get_current_context(silent=True)
    got = (ctx.meta.get(_SELECTOR) if ctx else None) or {}
    return dict(got.get("selector") or {}), bool(got.get("all_targets"))
