"""`shiplane secrets status|rotate`: generated secrets over time (docs/secrets.md)."""

from __future__ import annotations

import time

import click

from shiplane.cli.deploying import _emit, _locate, _target, progress_option, stage_options
from shiplane.cli.output import age, drain


@click.group()
def secrets() -> None:
    """Generated secrets over time: versions, due dates and rotation through the deploy engine."""


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _stage_spec(files, stage):
    from pathlib import Path

    from shiplane import spec

    return spec.load(list(files) or [Path("shiplane.yaml")]).stage(stage)


@secrets.command("status")
@stage_options
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@click.pass_context
def status(ctx, files, stage, context, namespace, kubeconfig, output):
    """Each secret of the stage: source, version, age, certificate expiry, next due date.

    Reads metadata only (no secret value, from the cluster or this machine). Exit 0 if nothing is late,
    1 if a rotation is overdue (past `every` plus its `window`), a certificate is inside its renew
    window or a dual rotation was left midway, 2 on bad input, 3 if the API server is unreachable."""
    from shiplane.actions import rotate

    target = _locate(files, stage, context, namespace, kubeconfig)
    rows = rotate.status(target, _stage_spec(files, stage))
    due = [r for r in rows if r.due]
    if output != "text":
        _emit(
            {"app": target.app, "stage": stage, "due": [r.name for r in due], "secrets": [r.to_json() for r in rows]},
            output,
        )
    else:
        click.echo(f"{'SECRET':24} {'SOURCE':22} {'VER':>3}  {'AGE':>5}  {'EXPIRES':16}  {'NEXT DUE':16}  STATE")
        for r in rows:
            state = (
                "overdue" if r.overdue else "renew now" if r.renew else "due" if r.due else "ok" if r.version else ""
            )
            line = (
                f"{r.name:24} {r.source:22} {r.version or '-':>3}  {age(r.age):>5}  {_when(r.expires):16}  "
                f"{_when(r.next_due):16}  {state}"
            )
            click.secho(line, fg="red" if r.alarm else "yellow" if r.due else None)
            if r.note:
                click.echo(f"    {r.note}")
    ctx.exit(1 if any(r.alarm for r in rows) else 0)


@secrets.command("rotate")
@stage_options
@click.argument("names", nargs=-1)
@click.option(
    "--due",
    is_flag=True,
    help="Rotate what is due (rotation.every passed, certificates to renew); "
    "a no-op when nothing is; fails at once (exit 4) when another run holds the lock.",
)
@click.option(
    "--reason",
    default=None,
    help='Recorded in the release: default "manual" (or "scheduled" with --due); e.g. "compromised: key in a CI log".',
)
@click.option("--dry-run", is_flag=True, help="List what would be rotated and write nothing.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for each wave.")
@click.option(
    "--no-wait-lock", is_flag=True, help="Fail at once if another deploy holds the lock (always so with --due)."
)
@click.option(
    "--lock-ttl",
    default=30,
    show_default=True,
    type=click.IntRange(5, 3600),
    help="Seconds a crashed run can block the next one.",
)
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@progress_option
@click.pass_context
def rotate_(
    ctx,
    files,
    stage,
    context,
    namespace,
    kubeconfig,
    names,
    due,
    reason,
    dry_run,
    timeout,
    no_wait_lock,
    lock_ttl,
    output,
    plain,
):
    """Make new versions of generated secrets and deploy them through the normal engine.

    A pre-flight Job (rotation.preflight) must accept each new value first; a failing rollout rolls
    back to the previous version (still in the cluster). Exit 0 rotated (or nothing due), 1 pre-flight
    or rollout failed (the current version keeps serving), 2 bad input, 3 API server unreachable,
    4 locked, 5 policy refused."""
    from shiplane.actions import desired
    from shiplane.actions.deploy import Options
    from shiplane.actions.rotate import Rotate, digest_key, retained, status

    if due and names:
        raise click.UsageError("give secret names or --due, not both")
    stage_spec = _stage_spec(files, stage)
    # What to rotate, from metadata only: nothing due reads no value and writes nothing (safe from cron).
    where = _locate(files, stage, context, namespace, kubeconfig)
    probe = Rotate(where, stage_spec, lambda _: None, names=list(names), due=due, reason=reason or "")
    chosen = probe.chosen()
    if dry_run:
        rows = {r.name: r for r in status(where, stage_spec)}
        plan = [{"name": n, "from": rows[n].version, "to": (rows[n].version or 0) + 1} for n in chosen]
        if output != "text":
            _emit({"dryRun": True, "reason": probe.reason, "rotate": plan}, output)
        elif not plan:
            click.echo(f"{where.app}/{stage}: nothing is due")
        else:
            for p in plan:
                click.echo(f"would rotate {p['name']}: version {p['from']} -> {p['to']} ({probe.reason})")
        return
    if not chosen:
        if output != "text":
            _emit({"rotated": {}, "reason": probe.reason, "revision": None, "outcome": None}, output)
        else:
            click.echo(f"{where.app}/{stage}: nothing is due")
        return
    first_writes: list = []  # a secret generated for the first time: stored now, as a deploy would
    target, want = _target(files, stage, context, namespace, kubeconfig, writes=first_writes)
    for write in first_writes:
        write()
    want_policy = want.policy()

    def render(values):
        return desired.load(
            list(files),
            stage,
            namespace=target.namespace,
            generated=lambda *_: values,
            retained=lambda _s, _n, rendered: retained(target, rendered),
            digest_key=lambda *_: digest_key(target, write=True),
        )

    options = Options(policy=want_policy, timeout=timeout, wait_lock=not (due or no_wait_lock), lock_duration=lock_ttl)
    action = Rotate(target, stage_spec, render, names=list(names), due=due, reason=reason or "", options=options)
    done = drain(action.run(), plain or None)
    release = done.release
    data = {
        "rotated": done.versions,
        "reason": action.reason,
        "revision": release.revision if release else None,
        "outcome": str(release.outcome) if release else None,
    }
    if output != "text":
        _emit(data, output)
    elif release is None:
        click.echo(f"{target.app}/{stage}: nothing is due")
    else:
        listed = ", ".join(f"{n} v{v}" for n, v in done.versions.items())
        click.echo(f"{target.app}/{stage} revision {release.revision}: rotated {listed} ({action.reason})")
