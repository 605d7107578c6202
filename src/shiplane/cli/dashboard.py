"""`shiplane dashboard`: serve the web dashboard (shiplane.dashboard) until Ctrl-C."""

from __future__ import annotations

import click

from shiplane.cli.options import spec_files


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@spec_files
@click.option("-s", "--stage", "stages", multiple=True, help="Stage to show; repeat for several (default: all).")
@click.option("--context", default=None, help="kubeconfig context (default: each stage's).")
@click.option("--kubeconfig", default=None, envvar="KUBECONFIG", help="kubeconfig file (default: $KUBECONFIG).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host that is not loopback: anyone who can reach it reads every page.",
)
@click.option(
    "--allow-actions",
    is_flag=True,
    help="Enable the rollback and unlock buttons; each needs the token printed at start.",
)
def dashboard(files, stages, context, kubeconfig, host, port, allow_remote, allow_actions):
    """A local web dashboard: stages, release timelines, diffs, live status, DORA charts, /metrics.

    Read-only unless --allow-actions (then rollback and unlock need the token it prints). Listens on
    127.0.0.1 unless --host names another address, which also needs --allow-remote. Needs no secret
    values. Runs until Ctrl-C. Exit 0 stopped, 2 bad input (an unknown stage, a non-loopback --host
    without --allow-remote), 3 API server unreachable or the port is taken."""
    import contextlib
    import secrets
    import socket
    import sys
    from pathlib import Path

    from shiplane import spec
    from shiplane.actions import desired
    from shiplane.actions.target import Target
    from shiplane.cli.deploying import _connect
    from shiplane.errors import EnvironmentProblem, InputError

    remote = not _loopback(host)
    if remote and not allow_remote:
        raise InputError(
            f"--host {host} is not a loopback address: anyone who can reach it could read the dashboard",
            hint="add --allow-remote if that is what you want, or leave --host out (127.0.0.1)",
        )
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # from here on a browser's connection waits for the server instead of being refused
    except OSError as err:
        raise EnvironmentProblem(f"cannot listen on {host}:{port}: {err.strerror or err}") from None

    paths = list(files) or [Path("shiplane.yaml")]
    names = list(stages) or list(spec.load(paths).stages)
    connections: dict[str | None, object] = {}
    targets = []
    for name in names:
        where = desired.locate(paths, name)
        ctx = context or where.context
        if ctx not in connections:
            connections[ctx] = _connect(kubeconfig, ctx)
        targets.append(Target(connections[ctx], where.app, name, where.namespace))

    import uvicorn

    from shiplane.dashboard.app import Settings, create
    from shiplane.dashboard.sources import Stage

    token = secrets.token_urlsafe(24) if allow_actions else ""
    hosts = ["127.0.0.1", "localhost", host] if host not in ("0.0.0.0", "::") else ["*"]
    shown_stages = [Stage(t) for t in targets]
    for stage in shown_stages:
        stage.warm()
    app = create(Settings(targets[0].app, shown_stages, allow_actions, token, hosts))
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if remote:
        warning = f"warning: listening on {host}, not loopback: anyone who can reach it reads every page"
        click.secho(warning, fg="yellow", err=True)
    click.echo(f"shiplane dashboard of {targets[0].app} ({', '.join(names)}): http://{shown}:{bound}/")
    if allow_actions:
        click.echo(f"actions token (rollback, unlock): {token}")
    click.echo("Ctrl-C stops it")
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled: the normal end
        uvicorn.Server(config).run(sockets=[sock])
