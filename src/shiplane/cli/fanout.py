"""`shiplane deploy --all-targets`: the fan-out's live table, plain lines or JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click


def _guard(loaded, stage, kubeconfig):
    """(changes versus what runs, kube per context): targets added and removed for the stage."""
    from shiplane.actions import targetguard
    from shiplane.cli.deploying import _connect

    every = loaded.select(stage, {}, all_targets=True)
    kubes = {c: _connect(kubeconfig, c) for c in dict.fromkeys(s.stage.context for s in every)}
    running = targetguard.deployed(kubes, every[0].doc.app.name, stage)
    return targetguard.changes([s.target.id for s in every if s.target], running), running


def target_plan(ctx, files, stage, kubeconfig, output) -> None:
    """`plan --all-targets`: targets the deploy would add and remove versus what runs, and what the
    deploy would change on each selected target."""
    from shiplane import spec

    loaded = spec.load(list(files) or [Path("shiplane.yaml")])
    if loaded.targeting is None:
        from shiplane.errors import InputError

        raise InputError("--all-targets: this spec has no targets: block")
    found, _ = _guard(loaded, stage, kubeconfig)
    limit = loaded.targeting.guard.max_target_removals
    plans = _target_plans(files, stage, kubeconfig, loaded)
    if output == "text":
        for t in found.added:
            click.echo(f"+ target {stage}/{t} (new)")
        for d in found.removed:
            click.echo(
                f"- target {stage}/{d.id} ({d.context or 'current context'}/{d.namespace}): no longer in the spec"
            )
        for name, row in plans.items():
            click.echo(f"  {name} ({row['namespace']}): {_plan_line(row)}")
        changed = sum(1 for r in plans.values() if r.get("changed"))
        click.echo(
            f"{len(found.added)} added, {len(found.removed)} removed, {len(found.kept)} kept; "
            f"{changed} of {len(plans)} target(s) would change"
        )
        if len(found.removed) > limit:
            click.secho(
                f"removing {len(found.removed)} targets exceeds targets.guard.maxTargetRemovals ({limit}): "
                "a deploy needs --allow-target-removal",
                fg="yellow",
            )
    else:
        click.echo(json.dumps({**found.as_json(), "maxTargetRemovals": limit, "plans": plans}, indent=2))
    failed = [r["exit"] for r in plans.values() if "error" in r]
    if failed:
        ctx.exit(max(failed))
    ctx.exit(1 if found.added or found.removed or any(r["changed"] for r in plans.values()) else 0)


def _plan_line(row: dict) -> str:
    if "error" in row:
        return f"cannot plan: {row['error']}"
    counts = {k: v for k, v in row["counts"].items() if k != "unchanged" and v}
    if not counts:
        return "no changes"
    return ", ".join(f"{v} {k}" for k, v in counts.items()) + (
        f"; {row['preflight']} preflight gap(s)" if row["preflight"] else ""
    )


def _target_plans(files, stage, kubeconfig, loaded) -> dict[str, dict]:
    """Each selected target's plan in short (counts per action), as `plan` computes it for one: its
    own cluster, namespace and history; generated secrets read, never stored. A target that cannot
    be planned (cluster unreachable, bad overrides) is reported on its row, the others still are."""
    from shiplane.actions import desired, inspect
    from shiplane.actions.target import Target
    from shiplane.cli.deploying import _connect, secret_readers
    from shiplane.cli.options import selection
    from shiplane.errors import ShiplaneError

    selector, _ = selection()
    out: dict[str, dict] = {}
    for chosen in loaded.select(stage, selector, all_targets=True):
        if chosen.target is None:
            continue
        name, stage_name = chosen.target.name, chosen.target.stage
        try:
            kube = _connect(kubeconfig, chosen.stage.context)
            readers = secret_readers(lambda _s, kube=kube: kube, stage_name, None)  # read, never stored
            want = desired.load(list(files), stage_name, stage_spec=chosen, **readers)
            target = Target(kube, want.app, want.stage, want.namespace, target_id=want.target_id)
            result = inspect.plan(target, want.objects)
        except ShiplaneError as err:
            out[name] = {"namespace": chosen.namespace, "error": str(err).splitlines()[0], "exit": err.exit_code}
            continue
        out[name] = {
            "namespace": want.namespace,
            "changed": result.has_changes,
            "counts": result.to_json()["counts"],
            "preflight": len(result.gaps),
        }
    return out


def target_status(ctx, files, stage, kubeconfig, output) -> None:
    """`status --all-targets`: one row per selected target (its cluster and namespace): the running
    release, the newest release's outcome, and how many workloads are current. No secret values."""
    from shiplane import spec
    from shiplane.actions import inspect
    from shiplane.actions.target import Target, effective_outcome
    from shiplane.cli.deploying import _connect
    from shiplane.cli.options import selection
    from shiplane.errors import InputError, ShiplaneError

    loaded = spec.load(list(files) or [Path("shiplane.yaml")])
    if loaded.targeting is None:
        raise InputError("--all-targets: this spec has no targets: block")
    rows: list[dict] = []
    for chosen in loaded.select(stage, selection()[0], all_targets=True):
        t = chosen.target
        row = {"target": t.name, "context": chosen.stage.context, "namespace": chosen.namespace}
        try:
            target = Target(
                _connect(kubeconfig, chosen.stage.context),
                chosen.doc.app.name,
                t.stage,
                chosen.namespace,
                target_id=t.id,
            )
            current, workloads = inspect.workload_status(target)
            newest = target.store().list()[-1:] or [None]
        except ShiplaneError as err:
            rows.append({**row, "error": str(err).splitlines()[0], "exit": err.exit_code})
            continue
        ready = sum(w.state == "Current" for w in workloads)
        rows.append(
            {
                **row,
                "revision": current.revision if current else None,
                "latest": {"revision": newest[0].revision, "outcome": str(effective_outcome(newest[0], target))}
                if newest[0]
                else None,
                "workloads": len(workloads),
                "current": ready,
                "healthy": current is not None and ready == len(workloads),
            }
        )
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        for r in rows:
            if "error" in r:
                state = f"cannot read: {r['error']}"
            elif r["revision"] is None:
                state = "nothing deployed"
            else:
                latest = r["latest"]
                state = f"revision {r['revision']}, {r['current']}/{r['workloads']} workloads current"
                if latest and latest["revision"] != r["revision"]:
                    state += f" (latest release {latest['revision']}: {latest['outcome']})"
            click.echo(f"{'ok ' if r.get('healthy') else '!! '}{r['target']} ({r['namespace']}): {state}")
        click.echo(f"{sum(1 for r in rows if r.get('healthy'))} of {len(rows)} target(s) healthy")
    failed = [r["exit"] for r in rows if "error" in r]
    ctx.exit(max(failed) if failed else 0 if all(r["healthy"] for r in rows) else 1)


def fan_out(
    ctx, files, stage, kubeconfig, flags, *, resume: bool, dry_run: bool, plain: bool, allow_removal: bool = False
) -> None:
    """Deploy every selected target: canary, then waves (spec `targets.rollout`)."""
    from shiplane import spec
    from shiplane.actions import desired, fanout
    from shiplane.actions.deploy import Deploy
    from shiplane.actions.target import Target
    from shiplane.cli.deploying import _connect, _options, secret_readers
    from shiplane.cli.options import selection
    from shiplane.errors import ShiplaneError
    from shiplane.events import result
    from shiplane.spec.targets import wave_plan

    selector, _ = selection()
    loaded = spec.load(list(files) or [Path("shiplane.yaml")])
    if loaded.targeting is None:
        from shiplane.errors import InputError

        raise InputError("--all-targets/--resume: this spec has no targets: block (see docs/targets.md)")
    chosen = loaded.select(stage, selector, all_targets=True)
    rollout = loaded.targeting.rollout if loaded.targeting else None
    by_name = {s.target.name: s for s in chosen if s.target is not None}
    waves = wave_plan([s.target for s in chosen if s.target is not None], rollout) if rollout else []
    output = flags["output"]
    from shiplane.actions import targetguard

    found, running = _guard(loaded, stage, kubeconfig)
    targetguard.enforce(found, loaded.targeting.guard.max_target_removals, allow_removal)
    if dry_run:
        plan = [[t.name for t in w] for w in waves]
        if output == "json":
            doc = {"waves": plan, "maxParallel": rollout.max_parallel if rollout else 1, "targets": found.as_json()}
            click.echo(json.dumps(doc, indent=2))
        else:
            for i, wave in enumerate(plan):
                click.echo(f"wave {i + 1}: {', '.join(wave)}")
            for d in found.removed:
                what = "would prune" if allow_removal else "would leave running"
                click.echo(f"removed from the spec: {stage}/{d.id} ({d.namespace}): {what}")
        return

    pending: dict[int, list] = {}  # id(want) → the writes its rendering deferred (see cli.deploying._target)

    def deploy(target: Target, want: desired.Desired):
        return Deploy(
            target,
            want.objects,
            spec_digest=want.spec_digest,
            options=_options(flags, want=want),
            commit=(want.commit, want.committed),
            writes=pending.get(id(want), ()),
        ).run()

    members = []
    for wave in waves:
        row = []
        for t in wave:
            chosen_spec = by_name[t.name]
            kube = _connect(kubeconfig, chosen_spec.stage.context)  # one client per target: threads share none

            # Generated secrets come from (and new ones are stored in) the target's own namespace,
            # as `deploy` does for one target; without this they would render as the offline placeholder.
            # New values and a new digest key are stored by that target's Deploy, after its gates.
            writes: list = []
            readers = secret_readers(lambda _s, kube=kube: kube, t.stage, writes)
            want = desired.load(list(files), t.stage, stage_spec=chosen_spec, **readers)
            pending[id(want)] = writes
            target = Target(kube, want.app, want.stage, want.namespace, target_id=want.target_id)
            row.append(fanout.Member(t.name, target, want, deploy))
        members.append(row)
    stream = fanout.run(
        members,
        max_parallel=rollout.max_parallel if rollout else 1,
        fail_fast=rollout.fail_fast if rollout else True,
        resume=resume,
    )
    outcomes = _show(stream, plain=plain or output != "text")
    for d in found.removed:
        name = f"{stage}/{d.id}"
        if not (allow_removal and outcomes.ok):
            outcomes.rows[name] = fanout.TargetChanged(name, fanout.State.LEFT, len(waves), d.namespace)
            continue
        # A release with no objects: Deploy prunes what the last one applied, under the target's lock.
        try:
            result(Deploy(running[d.id][1], [], options=_options(flags)).run())
        except ShiplaneError as err:
            outcomes.rows[name] = fanout.TargetChanged(name, fanout.State.FAILED, len(waves), str(err).splitlines()[0])
            continue
        outcomes.rows[name] = fanout.TargetChanged(name, fanout.State.PRUNED, len(waves), d.namespace)
    if output == "json":
        click.echo(json.dumps(outcomes.as_json(), indent=2))
    else:
        for r in outcomes.rows.values():
            click.echo(f"{r.name}: {r.state}{' revision ' + str(r.revision) if r.revision else ''}")
    ctx.exit(0 if outcomes.ok else 1)


def _show(stream, *, plain: bool):
    from shiplane.events import result

    if plain or not sys.stderr.isatty():
        return result(
            stream,
            lambda c: click.echo(f"{time.strftime('%H:%M:%S')} {c.name}: {c.state} {c.detail}".rstrip(), err=True),
        )
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    rows: dict[str, object] = {}

    def table() -> Table:
        t = Table("target", "wave", "state", "detail")
        for c in rows.values():
            t.add_row(c.name, str(c.wave + 1), str(c.state), c.detail)
        return t

    with Live(table(), console=Console(stderr=True), refresh_per_second=4) as live:

        def update(c) -> None:
            rows[c.name] = c
            live.update(table())

        return result(stream, update)
