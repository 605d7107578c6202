"""gc, metrics, diff: operating a deployed stage. None needs secret values."""

from __future__ import annotations

import click

from shiplane.cli.deploying import _emit, _locate, output_option, progress_option, stage_options
from shiplane.cli.options import spec_files, target_options
from shiplane.cli.output import drain


def _where(ref: dict) -> str:
    return f"{ref['kind']} {ref['namespace'] + '/' if ref.get('namespace') else ''}{ref['name']}"


def _line(c) -> str:
    size = f" [{c.size}]" if c.size else ""
    return f"  - {_where(c.ref)}{size}: {c.reason}"


@click.command()
@stage_options
@click.option("--yes", is_flag=True, help="Delete what is listed (without it, only list: a dry-run).")
@click.option("--volumes", is_flag=True, help="Also delete PersistentVolumeClaims left by deleted StatefulSets.")
@click.option("--all", "everything", is_flag=True, help="Also objects shiplane does not manage for this app.")
@click.option("--retention", default=20, show_default=True, type=click.IntRange(1), help="Release records to keep.")
@output_option
@progress_option
def gc(files, stage, context, namespace, kubeconfig, yes, volumes, everything, retention, output, plain):
    """Free a stage's leftovers: finished Jobs, dead pods, old ReplicaSets, unused config, old records.

    Dry-run unless --yes: lists finished Jobs without a TTL, Failed/Evicted/Completed pods, ReplicaSets
    beyond their Deployment's revisionHistoryLimit, hash-named ConfigMaps and Secrets no retained release
    or pod uses, release records beyond --retention, expired Leases, Released PersistentVolumes of the
    namespace, and (with --volumes, each named) PVCs left by deleted StatefulSets. Only objects shiplane
    manages for the app unless --all; never what the current release applied. Needs no secret values.
    With --yes it holds the deploy lock while it reads and deletes. Exit 0 listed or freed, 2 bad
    input, 3 API server unreachable, 4 a deploy holds the lock."""
    from shiplane.actions import gc as action

    target = _locate(files, stage, context, namespace, kubeconfig)
    options = {"keep": retention, "volumes": volumes, "everything": everything}
    if not yes:
        chosen = action.plan(target, **options)
        if output != "text":
            return _emit({**chosen.to_json(), "dry_run": True}, output)
        return _show(chosen, f"gc of {target.app}/{stage} in {target.namespace} would free:", dry_run=True)
    freed = drain(action.run(target, **options), plain or None) if output == "text" else _quiet(action, target, options)
    if output != "text":
        data = freed.selection.to_json()
        data.update(
            dry_run=False,
            deleted=[c.to_json() for c in freed.deleted],
            skipped=[{**c.to_json(), "why": why} for c, why in freed.skipped],
        )
        return _emit(data, output)
    _show(freed.selection, f"gc of {target.app}/{stage} in {target.namespace} freed:", dry_run=False)
    for c, why in freed.skipped:
        click.echo(f"  = {_where(c.ref)} left alone: {why}")


def _quiet(action, target, options):
    from shiplane.events import result

    return result(action.run(target, **options))


def _show(chosen, head: str, *, dry_run: bool) -> None:
    if chosen.empty:
        click.echo("gc: nothing to free")
    else:
        click.secho(head, bold=True)
        for c in chosen.collect:
            click.echo(_line(c))
        for revision in chosen.records:
            click.echo(f"  - release record revision {revision} (beyond retention)")
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(chosen.counts().items()))
        click.echo(f"gc: {counts}" + ("; run with --yes to delete" if dry_run else ""))
    if chosen.kept:
        click.echo("kept (add --volumes to delete, after checking each holds nothing you need):")
        for c in chosen.kept:
            click.echo(_line(c))


@click.command()
@spec_files
@click.option("-s", "--stage", "stages", required=True, multiple=True, help="Stage; repeat for several.")
@target_options
@click.option("--context", default=None, help="kubeconfig context (default: each stage's).")
@click.option("--kubeconfig", default=None, envvar="KUBECONFIG", help="kubeconfig file (default: $KUBECONFIG).")
@click.option(
    "--window", default=30.0, show_default=True, type=click.FloatRange(min=1), help="Days DORA frequency counts."
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def metrics(files, stages, context, kubeconfig, window, output):
    """Prometheus metrics of the stages: releases, durations, rollbacks, workloads, and the DORA four.

    Text is the Prometheus exposition format (to scrape through a textfile collector or a push
    gateway); the DORA formulas are in docs/operate.md. Needs no secret values. Exit 0, 2 bad input,
    3 API server unreachable."""
    import time

    from shiplane.actions import observe
    from shiplane.observing.dora import DAY, dora
    from shiplane.observing.metrics import exposition, registry

    now = time.time()
    found = [observe.figures(_locate(files, s, context, None, kubeconfig)) for s in stages]
    if output == "text":
        click.echo(exposition(registry(found, now=now, window=window * DAY)), nl=False)
        return
    _emit(
        [
            {
                "app": f.app,
                "stage": f.stage,
                "releases": len(f.history),
                "dora": dora(f.history, now=now, window=window * DAY).to_json(),
                "workloads": [w.__dict__ for w in f.workloads],
            }
            for f in found
        ],
        output,
    )


@click.command()
@stage_options
@output_option
@click.pass_context
def diff(ctx, files, stage, context, namespace, kubeconfig, output):
    """Drift: how live objects differ from what the last release applied, and who changed them.

    Compares only the fields the release set (server defaults are not drift), names the field
    managers (`kubectl edit`, an HPA, a webhook, …) that own a changed field or set one the release
    did not, and never shows a Secret's values (only that they changed). Needs no secret values.
    Exit 0 no drift, 1 drift, 2 bad input, 3 API server unreachable."""
    from shiplane.actions import observe

    target = _locate(files, stage, context, namespace, kubeconfig)
    current, found = observe.drifted(target)
    drifted = [d for d in found if d.drifted]
    if output != "text":
        _emit(
            {
                "revision": current.revision if current else None,
                "drifted": [d.to_json() for d in drifted],
                "unchanged": len(found) - len(drifted),
            },
            output,
        )
    elif current is None:
        click.echo(f"nothing deployed in {target.app}/{stage}")
    else:
        for d in drifted:
            where = f"{d.ref.kind} {d.ref.namespace + '/' if d.ref.namespace else ''}{d.ref.name}"
            if d.missing:
                click.secho(f"- {where}: gone (the release applied it)", fg="red")
                continue
            click.secho(f"~ {where}", fg="yellow")
            for f in d.changed:
                click.echo(f"    {f.render()}")
            for f in d.added:
                click.echo(f"    {f.render()}  [not set by the release]")
        what = f"{target.app}/{stage} revision {current.revision}"
        click.echo(f"diff: {len(drifted)} of {len(found)} object(s) of {what} drifted")
    ctx.exit(1 if drifted else 0)
