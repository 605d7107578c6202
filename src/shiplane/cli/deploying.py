"""plan, deploy, rollback, history, status, promote, unlock: stage-scoped commands."""

from __future__ import annotations

import json
import time

import click

from shiplane.cli.options import selection, spec_files, target_options
from shiplane.cli.output import drain


def stage_options(fn):
    """-f, --stage and kubectl-style --context/--namespace/--kubeconfig."""
    for option in reversed(
        [
            spec_files,
            click.option("-s", "--stage", required=True, help="Stage (dev, test, prod, …)."),
            click.option("--context", default=None, help="kubeconfig context (default: the stage's)."),
            click.option("-n", "--namespace", default=None, help="Namespace (default: the stage's)."),
            click.option(
                "--kubeconfig", default=None, envvar="KUBECONFIG", help="kubeconfig file (default: $KUBECONFIG)."
            ),
            target_options,
        ]
    ):
        fn = option(fn)
    return fn


def _connect(kubeconfig: str | None, context: str | None):
    from shiplane.kube import Kube

    path = kubeconfig.split(":")[0] if kubeconfig else None  # KUBECONFIG may list several files
    kube = Kube.connect(path, context)
    waiting = kube.wait_reachable()  # an unreachable server: a shown, bounded wait, then exit 3
    first = next(waiting, None)
    if first is not None:  # no display at all when the server answers at once

        def shown():
            yield first
            yield from waiting

        drain(shown())
    return kube


def _target(
    files,
    stage,
    context,
    namespace,
    kubeconfig,
    *,
    pin: bool = True,
    images=None,
    writes: list | None = None,
    etcd_of=None,
):
    """The target and the stage rendered with every secret value. Generated secrets and the digest
    key are read from the cluster; missing ones are made in memory. With `writes` (a real deploy)
    the writes that store them are appended to it, for `Deploy` to make once its gates have passed;
    without (plan, dry-runs) nothing is ever stored.
    `etcd_of`: a release revision whose recorded etcd revisions the values are read at."""
    from shiplane.actions import desired
    from shiplane.actions.target import Target

    connected: list = []
    etcd_at = None
    if etcd_of is not None:
        where = _locate(files, stage, context, namespace, kubeconfig)
        connected.append(where.kube)
        etcd_at = _etcd_revisions(where, etcd_of)

    def connect(stage_context):
        if not connected:
            connected.append(_connect(kubeconfig, context or stage_context))
        return connected[0]

    readers = secret_readers(lambda stage_spec: connect(stage_spec.stage.context), stage, writes)
    want = desired.load(
        list(files),
        stage,
        namespace=namespace,
        pin=pin,
        images=images,
        etcd_at=etcd_at,
        selector=selection()[0],
        **readers,
    )
    return Target(connect(want.context), want.app, stage, want.namespace, target_id=want.target_id), want


def secret_readers(kube_of, stage: str, writes: list | None) -> dict:
    """`generated`, `retained` and `digest_key` for `desired.load`: each reads the stage's generated
    secrets and digest key from its namespace in the cluster `kube_of(stage_spec)` names. Missing
    ones are made in memory; with `writes` (a real deploy) the writes that store them are appended,
    for `Deploy` to make once its gates have passed; without, nothing is ever stored."""
    from shiplane.actions import rotate
    from shiplane.actions.target import Target

    def where(stage_spec, ns):
        return Target(kube_of(stage_spec), stage_spec.doc.app.name, stage, ns)

    def later(values_and_write):
        value, write = values_and_write
        if write is not None:
            writes.append(write)
        return value

    def generated(stage_spec, ns):
        if writes is None:
            return rotate.ensure(where(stage_spec, ns), stage_spec, write=False)
        return later(rotate.ensure_later(where(stage_spec, ns), stage_spec))

    def retained(stage_spec, ns, values):
        return rotate.retained(where(stage_spec, ns), values)

    def digest_key(stage_spec, ns):
        if writes is None:
            return rotate.digest_key(where(stage_spec, ns), write=False)
        return later(rotate.digest_key_later(where(stage_spec, ns)))

    return {"generated": generated, "retained": retained, "digest_key": digest_key}


def _etcd_revisions(target, revision: int) -> dict[str, int]:
    from shiplane.errors import InputError

    found = next((r for r in target.store().list() if r.revision == revision), None)
    if found is None:
        raise InputError(f"--etcd-revision-of {revision}: no release {revision} in {target.app}/{target.stage}")
    return {source: int(rec["revision"]) for source, rec in found.etcd.items()}


def _etcd_changes(target, want) -> list[dict] | None:
    """etcd keys changed since the last successful release (None: the stage reads no etcd source)."""
    from shiplane.releases.history import last_good
    from shiplane.secrets import etcd

    if not want.etcd:
        return None
    last = last_good(target.store().list())
    return etcd.changes(last.etcd if last else {}, want.etcd)


etcd_of_option = click.option(
    "--etcd-revision-of",
    "etcd_of",
    type=int,
    default=None,
    metavar="REVISION",
    help="Read etcd values at the etcd revisions release REVISION recorded (re-render its configuration).",
)


def _locate(files, stage, context, namespace, kubeconfig):
    """The target from the spec's structure alone: for commands that read the cluster's records
    (history, status, unlock, rollback) and so never need secret values."""
    from shiplane.actions import desired
    from shiplane.actions.target import Target

    where = desired.locate(list(files), stage, namespace=namespace, selector=selection()[0])
    kube = _connect(kubeconfig, context or where.context)
    return Target(kube, where.app, stage, where.namespace, target_id=where.target_id)


def _emit(data, output: str) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


output_option = click.option(
    "-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True
)
progress_option = click.option("--plain", is_flag=True, help="Plain timestamped lines instead of a live display.")


@click.command()
@stage_options
@output_option
@click.option("--prune-volumes", is_flag=True, help="Also plan deleting PersistentVolumeClaims no longer wanted.")
@click.option(
    "--prune-only",
    is_flag=True,
    help="Only what would be pruned, from the release records and the spec's structure (no secret values needed).",
)
@click.option("--show-unchanged", is_flag=True, help="List unchanged objects too (by default only counted).")
@etcd_of_option
@click.pass_context
def plan(ctx, files, stage, context, namespace, kubeconfig, output, prune_volumes, prune_only, show_unchanged, etcd_of):
    """What a deploy would do: creates, field diffs (secrets masked), replaces, prunes, migrations,
    and the preflight gaps a deploy would refuse.

    Only objects that differ from the last successful release, or whose live fields drifted, are
    dry-run on the server. Exit 0 if nothing would change, 1 if something would, 2 on bad input or
    preflight gaps, 3 if the API server is unreachable."""
    if selection()[1]:
        from shiplane.cli.fanout import target_plan

        return target_plan(ctx, files, stage, kubeconfig, output)
    if prune_only:
        return _prune_only(ctx, files, stage, context, namespace, kubeconfig, output, prune_volumes)
    from shiplane.actions import inspect

    target, want = _target(files, stage, context, namespace, kubeconfig, etcd_of=etcd_of)
    result = inspect.plan(target, want.objects, prune_volumes=prune_volumes)
    _show_plan(result, output, show_unchanged=show_unchanged, pins=want.pins, etcd=_etcd_changes(target, want))
    ctx.exit(_plan_exit(result))


def _show_pins(pins: dict) -> None:
    """One stderr line per pinned image (deduplicated): the tag as written and what it resolved to."""
    for pin in {p["image"]: p for p in pins.values()}.values():
        click.echo(f"pin: {pin['image']} → {pin['reference']}", err=True)


def _show_plan(
    result, output: str, *, show_unchanged: bool = False, pins: dict | None = None, etcd: list[dict] | None = None
) -> None:
    """A plan as waves of changes with field diffs, then prunes, then counts; or as data. `etcd`: the
    etcd keys changed since the last release (shown when the stage reads etcd)."""
    if output != "text":
        data = {**result.to_json(), **({"pins": pins} if pins else {})}
        if etcd is not None:
            data["etcd"] = etcd
        _emit(data, output)
    else:
        _show_pins(pins or {})
        for c in etcd or []:
            moved = (
                f" (mod revision {c['fromModRevision']} -> {c['toModRevision']})" if c["change"] == "changed" else ""
            )
            click.secho(f"etcd {c['source']}: {c['key']} {c['change']}{moved}", fg="yellow")
        for wave in result.waves:
            changes = [
                c
                for c in result.changes
                if c.wave == wave.name and (show_unchanged or c.action is not c.action.UNCHANGED)
            ]
            if not changes:
                continue
            click.secho(f"wave {wave.name}" + (" (waits for rollout)" if wave.wait else ""), bold=True)
            for change in changes:
                mark = {"create": "+", "update": "~", "replace": "!", "unchanged": "="}[str(change.action)]
                color = {"+": "green", "~": "yellow", "!": "red", "=": None}[mark]
                click.secho(f"  {mark} {change.ref} ({change.action})", fg=color)
                if change.reason:
                    click.echo(f"      replace because: {change.reason}")
                for line in change.diff[:40] if change.action is not change.action.CREATE else []:
                    click.echo(f"      {line.render()}")
        for ref in result.pruning.prune:
            click.secho(f"  - {ref['kind']} {ref.get('namespace', '')}/{ref['name']} (prune)", fg="red")
        for ref, why in result.pruning.kept:
            click.echo(f"  = {ref['kind']} {ref['name']} kept: {why}")
        counts = result.to_json()["counts"]
        if counts.get("unchanged") and not show_unchanged:
            click.echo(f"{counts['unchanged']} object(s) unchanged (--show-unchanged lists them)")
        click.echo("plan: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if n))
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        if result.gaps:
            click.secho(f"preflight: {len(result.gaps)} gap(s); a deploy would refuse:", fg="red", bold=True)
            for gap in result.gaps:
                click.secho(f"  {gap}", fg="red")


def _plan_exit(result) -> int:
    """2 if a deploy would be refused by preflight, 1 if it would change something, else 0."""
    return 2 if result.gaps else 1 if result.has_changes else 0


def _prune_only(ctx, files, stage, context, namespace, kubeconfig, output, prune_volumes):
    """`plan --prune-only`: exit 1 if something would be pruned."""
    from shiplane.actions import desired, inspect

    target = _locate(files, stage, context, namespace, kubeconfig)
    objects = desired.structure(list(files), stage, namespace=target.namespace)
    found = inspect.prune_only(target, objects, prune_volumes=prune_volumes)
    if output != "text":
        _emit(
            {
                "prune": list(found.prune),
                "retain": list(found.retain),
                "kept": [{"ref": ref, "why": why} for ref, why in found.kept],
            },
            output,
        )
    else:
        for ref in found.prune:
            click.secho(f"  - {ref['kind']} {ref.get('namespace', '')}/{ref['name']} (prune)", fg="red")
        for ref, why in found.kept:
            click.echo(f"  = {ref['kind']} {ref['name']} kept: {why}")
        click.echo(f"plan: {len(found.prune)} prune, {len(found.kept)} kept")
    ctx.exit(1 if found.prune else 0)


def _options(flags: dict, *, rollback: bool | None = None, want=None):
    """Deploy options from the flags; with `want` (a stage's Desired), its policy gate settings."""
    from shiplane.actions.deploy import Options
    from shiplane.actions.gate import Policy
    from shiplane.actions.imageaudit import ImageGate

    policy = (
        want.policy(profile=flags["policy_profile"], fail_on=flags["policy_fail_on"], overrides=flags["override"])
        if want is not None
        else Policy()
    )
    return Options(
        policy=policy,
        images=want.image_gate(allow=flags["allow_image_finding"]) if want is not None else ImageGate(),
        timeout=flags["timeout"],
        rollback=not flags["no_rollback"] if rollback is None else rollback,
        force_conflicts=flags["force_conflicts"],
        wait_lock=not flags["no_wait_lock"],
        prune_volumes=flags["prune_volumes"],
        retention=flags["retention"],
        lock_duration=flags["lock_ttl"],
        fail_fast=not flags["no_fail_fast"],
        preflight=not flags.get("skip_preflight", False),
        signatures=want.signatures if want is not None else None,
    )


def _deploy_flags(fn):
    for option in reversed(
        [
            click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for each wave."),
            click.option("--no-rollback", is_flag=True, help="Leave a failed rollout as it is."),
            click.option(
                "--no-fail-fast",
                is_flag=True,
                help="Wait for --timeout even when a rollout cannot succeed (unpullable image, no room, …).",
            ),
            click.option(
                "--dry-run",
                is_flag=True,
                help="Show the plan the real run would execute and write nothing (no lock, record, namespace "
                "or object). Exit 0 if nothing would change, 1 if something would, 2 on preflight gaps.",
            ),
            click.option("--force-conflicts", is_flag=True, help="Take over fields owned by other managers."),
            click.option("--no-wait-lock", is_flag=True, help="Fail at once if another deploy holds the lock."),
            click.option("--prune-volumes", is_flag=True, help="Also delete PersistentVolumeClaims no longer wanted."),
            click.option("--retention", default=20, show_default=True, help="Release records to keep."),
            click.option(
                "--lock-ttl",
                default=30,
                show_default=True,
                type=click.IntRange(5, 3600),
                help="Seconds a crashed run can block the next one (the lock lease's duration).",
            ),
            click.option(
                "--policy-profile",
                default=None,
                help="Policy profile of the gate (default: the stage's, else baseline).",
            ),
            click.option(
                "--policy-fail-on",
                default=None,
                type=click.Choice(["info", "low", "medium", "high", "critical", "never"]),
                help="Refuse to deploy on findings at or above this severity (default: the stage's, else high).",
            ),
            click.option(
                "--override",
                multiple=True,
                metavar="RULE[:Kind/name]=REASON",
                help="Accept a policy finding, with a reason (recorded in the history).",
            ),
            click.option(
                "--allow-image-finding",
                multiple=True,
                metavar="ID[:IMAGE]=REASON",
                help="Accept an image-audit finding (advisory id or alias, * for any, unreadable for an image "
                "that cannot be read), with a reason (recorded in the history).",
            ),
            progress_option,
            click.option(
                "-o",
                "--output",
                type=click.Choice(["text", "json", "yaml"]),
                default="text",
                show_default=True,
                help="With --dry-run: the plan as text or as data (the `plan -o json` shape).",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _report(release) -> None:
    click.echo(
        f"{release.app}/{release.stage} revision {release.revision}: {release.outcome} in {release.duration:.1f}s"
    )


skip_preflight_option = click.option(
    "--skip-preflight", is_flag=True, help="Do not check the cluster can take the objects before the first write."
)


@click.command()
@stage_options
@_deploy_flags
@skip_preflight_option
@click.option(
    "--build",
    "build_first",
    is_flag=True,
    help="First build and push the services with `build:` (as `shiplane build`), then deploy their digests.",
)
@etcd_of_option
@click.option("--resume", is_flag=True, help="Fan-out: skip targets already deployed at this spec (after a stop).")
@click.option(
    "--allow-target-removal",
    is_flag=True,
    help="Fan-out: allow (and prune) targets gone from the spec (targets.guard).",
)
@click.pass_context
def deploy(
    ctx,
    files,
    stage,
    context,
    namespace,
    kubeconfig,
    dry_run,
    plain,
    build_first,
    etcd_of,
    resume,
    allow_target_removal,
    **flags,
):
    """Gate on policy, check the cluster can take it (preflight), apply the stage in ordered waves, run
    migrations first, wait for the rollout (failing fast on errors that will not fix themselves); roll back
    automatically on failure. Exit 0 deployed, 1 failed, 2 bad input or preflight gaps, 3 API server
    unreachable, 4 locked, 5 policy refused. With --all-targets (spec targets:): a fan-out, see docs/targets.md."""
    from shiplane.actions.deploy import Deploy

    if selection()[1] or resume:
        from shiplane.cli.fanout import fan_out

        return fan_out(
            ctx,
            files,
            stage,
            kubeconfig,
            flags,
            resume=resume,
            dry_run=dry_run,
            plain=plain,
            allow_removal=allow_target_removal,
        )

    built = {}
    if build_first:  # before rendering: the pushed images are what gets pinned, gated and deployed
        from shiplane.actions import build

        pushed = drain(build.run(build.jobs(list(files), stage), dry_run=dry_run), plain or None)
        built = {b.image: b.pinned for b in pushed if b.digest}
    writes: list = []
    target, want = _target(
        files, stage, context, namespace, kubeconfig, images=built, writes=None if dry_run else writes, etcd_of=etcd_of
    )
    action = Deploy(
        target,
        want.objects,
        spec_digest=want.spec_digest,
        options=_options(flags, want=want),
        commit=(want.commit, want.committed),
        pins=want.pins,
        etcd=want.etcd,
        writes=writes,
    )
    _show_pins(want.pins)
    if dry_run:
        return _dry_run(ctx, action.preview(), f"deploy of {target.app}/{stage} would:", flags["output"])
    _report(drain(action.run(), plain or None))


def _dry_run(ctx, result, head: str, output: str) -> None:
    """Show a dry-run's plan; exit 1 if the real run would change something."""
    if output == "text":
        click.secho(head, bold=True)
    _show_plan(result, output)
    ctx.exit(_plan_exit(result))


@click.command()
@stage_options
@click.argument("revision", required=False, type=int)
@_deploy_flags
@click.pass_context
def rollback(ctx, files, stage, context, namespace, kubeconfig, revision, dry_run, plain, **flags):
    """Re-apply an earlier successful release (default: the one before the current).

    Refused across contract/irreversible migrations; migrations are never re-run. Needs no secret
    values: the release's Secrets are still in the cluster."""
    from shiplane.actions.rollback import Rollback

    target = _locate(files, stage, context, namespace, kubeconfig)
    action = Rollback(target, revision=revision, options=_options(flags, rollback=True))
    if dry_run:
        chosen, result = action.preview()
        head = f"rollback of {target.app}/{stage} to revision {chosen.revision} would:"
        return _dry_run(ctx, result, head, flags["output"])
    _report(drain(action.run(), plain or None))


@click.command()
@stage_options
@output_option
def history(files, stage, context, namespace, kubeconfig, output):
    """Releases of the app in this stage, oldest first."""
    from shiplane.actions import inspect

    target = _locate(files, stage, context, namespace, kubeconfig)
    rows = inspect.history(target)
    if output != "text":
        return _emit(rows, output)
    click.echo(f"{'REV':>4}  {'OUTCOME':12} {'STARTED':20} {'DURATION':>9}  {'BY':24} MESSAGE")
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started"]))
        took = f"{r['duration']:.1f}s" if r["duration"] is not None else "-"
        note = r["message"].splitlines()[0] if r["message"] else ""
        if r.get("reason"):
            note = f"[{r['reason']}] {note}".rstrip()
        if r["rollback_of"]:
            note = f"rollback to {r['rollback_of']}" + (f"; {note}" if note and "rollback" not in note else "")
        click.echo(f"{r['revision']:>4}  {r['outcome']:12} {started:20} {took:>9}  {r['user'][:24]:24} {note}")


@click.command()
@stage_options
@output_option
@click.option("--watch", is_flag=True, help="Keep it updated from watches (Ctrl-C to stop).")
@progress_option
@click.pass_context
def status(ctx, files, stage, context, namespace, kubeconfig, output, watch, plain):
    """Every workload of the current release: readiness, restarts, OOM kills.

    Below each workload its tree: revisions (ReplicaSets, ControllerRevisions, a CronJob's Jobs) and
    their pods with readiness, restarts, last termination (OOMKilled, Error, exit code), image and
    digest, node, age and the newest Warning events; objects whose live fields drifted from the
    release are flagged. --watch redraws it from watches (changed lines with timestamps when not on
    a terminal or with --plain; one JSON document per change with -o json). Needs no secret values.
    With --all-targets: one row per target instead (docs/targets.md).
    Exit 0 healthy (and on Ctrl-C with --watch), 1 if any workload is unhealthy, 2 bad input, 3 API
    server unreachable."""
    from dataclasses import asdict

    from shiplane.actions import inspect, live
    from shiplane.cli import live as view

    if selection()[1]:
        if watch or output == "yaml":
            from shiplane.errors import InputError

            raise InputError("status --all-targets: one row per target, as text or -o json (no --watch, no yaml)")
        from shiplane.cli.fanout import target_status

        return target_status(ctx, files, stage, kubeconfig, output)
    target = _locate(files, stage, context, namespace, kubeconfig)
    if watch:
        ctx.exit(view.watch_status(target, output, plain))
    current, rows = inspect.workload_status(target)
    tree = live.status_tree(target)
    healthy = current is not None and all(r.state == "Current" for r in rows)
    if output != "text":
        _emit(
            {
                "revision": current.revision if current else None,
                "healthy": healthy,
                "workloads": [asdict(r) for r in rows],
                "tree": tree.to_json(),
            },
            output,
        )
    elif current is None:
        click.echo(f"nothing deployed in {target.app}/{stage}")
    else:
        view.show_tree(target, current, rows, tree)
    ctx.exit(0 if healthy else 1)


@click.command()
@spec_files
@click.option("--from", "source", required=True, help="Stage whose running images to take.")
@click.option("--to", "dest", required=True, help="Stage to deploy them to.")
@click.option("--kubeconfig", default=None, envvar="KUBECONFIG")
@_deploy_flags
@skip_preflight_option
@click.pass_context
def promote(ctx, files, source, dest, kubeconfig, dry_run, plain, **flags):
    """Deploy to --to exactly the images (digests where known) that --from runs.

    Digests come from the source stage's release record (a pinned stage records them), else from
    what its pods report; a destination with its own registry deploys the same digests from there.
    Exit codes as deploy's; 2 also when a digest is missing from the destination's registry."""
    from shiplane.actions import desired, pinning
    from shiplane.actions.deploy import Deploy
    from shiplane.actions.promote import origins, promoted, running_images

    # missing secret values fail before any request; the destination's tags are not resolved: the source decides
    writes: list = []
    dst, want = _target(files, dest, None, None, kubeconfig, pin=False, writes=None if dry_run else writes)
    src = _locate(files, source, None, None, kubeconfig)
    images, notes = running_images(src)
    client = pinning.client_for(want.registry, images.values()) if want.pin or want.registry else None
    try:
        images, pins = promoted(
            images, stage=dest, registry=want.registry, pin=want.pin, client=client, written=origins(src)
        )
    finally:
        if client is not None:
            client.close()
    objects = desired.with_images(want.objects, images)
    for note in notes:
        if note.split(":", 1)[0] not in pins:
            click.echo(f"note: {note}", err=True)
    _show_pins(pins)
    action = Deploy(
        dst,
        objects,
        spec_digest=desired.digest(objects),
        options=_options(flags, want=want),
        pins=pins,
        etcd=want.etcd,
        writes=writes,
    )
    if dry_run:
        return _dry_run(
            ctx, action.preview(), f"promotion of {dst.app} from {source} to {dest} would:", flags["output"]
        )
    _report(drain(action.run(), plain or None))


@click.command()
@stage_options
def unlock(files, stage, context, namespace, kubeconfig):
    """Remove the deploy lock now (it also expires by itself when its holder stops renewing it)."""
    from shiplane.actions import inspect

    target = _locate(files, stage, context, namespace, kubeconfig)
    held = inspect.unlock(target)
    click.echo(f"removed the lock held by {held.holder}" if held else "no lock was held")
