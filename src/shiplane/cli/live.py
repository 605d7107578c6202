"""events, logs, and the status tree (`status`, `status --watch`): a deployed stage as it runs now."""

from __future__ import annotations

import json
import sys
import time

import click

from shiplane.cli.deploying import _emit, _locate, output_option, stage_options
from shiplane.cli.output import age

# ---- the status tree ------------------------------------------------------------------------------


def _when(epoch: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "--:--:--"


def tree_lines(tree, *, indent: str = "    ") -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    """Per workload (kind, name): the lines below its status row, each with a colour (or None)."""
    out: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for w in tree.workloads:
        rows: list[tuple[str, str | None]] = []
        for d in w.drift:
            rows.append((f"{indent}drifted: {d}", "yellow"))
        for ev in w.warnings:
            rows.append((f"{indent}! {ev.reason} x{ev.count} ({_when(ev.last)}): {ev.message}", "red"))
        for r in w.revisions:
            if not r.pods and not r.current:
                continue
            figures = f" {r.ready}/{r.desired} ready" if r.desired is not None else ""
            mark = ", current" if r.current else ""
            rows.append((f"{indent}{r.kind} {r.name} (revision {r.revision}{mark}){figures}", None))
            for ev in r.warnings:
                rows.append((f"{indent}  ! {ev.reason} x{ev.count}: {ev.message}", "red"))
            rows.extend(_pod_rows(r.pods, indent + "  "))
        rows.extend(_pod_rows(w.pods, indent))
        out[(w.kind, w.name)] = rows
    return out


def _pod_rows(pods, indent: str) -> list[tuple[str, str | None]]:
    rows: list[tuple[str, str | None]] = []
    for p in pods:
        colour = None if p.healthy else "yellow"
        reason = f" ({p.reason})" if p.reason else ""
        rows.append(
            (
                f"{indent}pod {p.name}  {p.phase}{reason}  {p.ready} ready  restarts {p.restarts}  "
                f"node {p.node or '-'}  age {age(p.age)}",
                colour,
            )
        )
        for c in p.containers:
            digest = f"@{c.digest[:19]}" if c.digest and "@" not in c.image else ""
            last = f"  last {c.last_termination}" if c.last_termination else ""
            rows.append((f"{indent}  {c.name}: {c.image}{digest}  {c.state}{last}", "red" if last else None))
            if c.usage:
                rows.append((f"{indent}    {c.usage_text()}{_near(c)}", "yellow" if c.near_memory_limit else None))
        for ev in p.warnings:
            rows.append((f"{indent}  ! {ev.reason} x{ev.count} ({_when(ev.last)}): {ev.message}", "red"))
    return rows


def _near(c) -> str:
    return "  near its memory limit: the next spike is an OOM kill" if c.near_memory_limit else ""


def show_tree(target, current, rows, tree) -> None:
    """`status` as text: each workload's row, its tree below it, then drift."""
    below = tree_lines(tree)
    flagged = {(w.kind, w.name) for w in tree.workloads if w.drifted}
    click.echo(f"{target.app}/{target.stage} revision {current.revision} in {target.namespace}")
    for r in rows:
        counts = f"{r.ready or 0}/{r.desired}" if r.desired is not None else ""
        drifted = "  [drifted]" if (r.kind, r.name) in flagged else ""
        click.echo(f"  {r.kind:12} {r.name:24} {r.state:11} {counts:6} restarts {r.restarts:<3} {r.message}{drifted}")
        for p in r.problems:
            click.echo(f"      {p}")
        for line, colour in below.get((r.kind, r.name), []):
            click.secho(line, fg=colour)
    others = [d for d in tree.drifted if d.ref.kind not in {w.kind for w in tree.workloads}]
    for d in others:
        click.secho(f"  {d.ref.kind} {d.ref.name}  [drifted]: " + ", ".join(_drift(d)), fg="yellow")
    click.echo(f"drift: {tree.summary()}" + (" (`shiplane diff` shows each field)" if tree.drifted else ""))


def _drift(d) -> list[str]:
    if d.missing:
        return ["gone"]
    return [f.change.path for f in (*d.changed, *d.added)]


def _rich_tree(tree):
    """The tree for a terminal: nested nodes, not indented lines."""
    from rich.text import Text
    from rich.tree import Tree as RichTree

    def warn(node, warnings) -> None:
        for ev in warnings:
            node.add(Text(f"! {ev.reason} x{ev.count} ({_when(ev.last)}): {ev.message}", style="red"))

    def pods(node, found) -> None:
        for p in found:
            reason = f" ({p.reason})" if p.reason else ""
            line = f"pod {p.name}  {p.phase}{reason}  {p.ready} ready  restarts {p.restarts}  node {p.node or '-'}"
            pod = node.add(Text(f"{line}  age {age(p.age)}", style="" if p.healthy else "yellow"))
            for c in p.containers:
                digest = f"@{c.digest[:19]}" if c.digest and "@" not in c.image else ""
                last = f"  last {c.last_termination}" if c.last_termination else ""
                line = pod.add(Text(f"{c.name}: {c.image}{digest}  {c.state}{last}", style="red" if last else ""))
                if c.usage:
                    line.add(Text(f"{c.usage_text()}{_near(c)}", style="yellow" if c.near_memory_limit else "dim"))
            warn(pod, p.warnings)

    root = RichTree(Text(f"{tree.app}/{tree.stage} revision {tree.revision} in {tree.namespace}", style="bold"))
    for w in tree.workloads:
        figures = f" {w.ready}/{w.desired} ready" if w.desired is not None else ""
        style = "green" if w.exists and (w.desired is None or w.ready == w.desired) else "yellow"
        node = root.add(Text(f"{w.kind} {w.name}{figures}" + ("  [drifted]" if w.drifted else ""), style=style))
        for d in w.drift:
            node.add(Text(f"drifted: {d}", style="yellow"))
        warn(node, w.warnings)
        for r in w.revisions:
            if not r.pods and not r.current:
                continue
            figures = f" {r.ready}/{r.desired} ready" if r.desired is not None else ""
            rev = node.add(f"{r.kind} {r.name} (revision {r.revision}{', current' if r.current else ''}){figures}")
            warn(rev, r.warnings)
            pods(rev, r.pods)
        pods(node, w.pods)
    root.add(Text(f"drift: {tree.summary()}", style="yellow" if tree.drifted else "dim"))
    root.add(Text(f"updated {time.strftime('%H:%M:%S')}; watching (Ctrl-C to stop)", style="dim"))
    return root


def watch_status(target, output: str, plain: bool) -> int:
    """`status --watch`: the tree redrawn in place on a terminal, changed lines otherwise, one JSON
    document per change with `-o json`. Ctrl-C ends it with exit 0."""
    from shiplane.actions import live
    from shiplane.observing.tree import lines

    stream = live.watch(target)
    try:
        if output != "text":  # JSON lines, also for -o yaml: one document per change
            for item in stream:
                if isinstance(item, live.Trouble):
                    click.echo(f"warning: {item.message}", err=True)
                else:
                    click.echo(json.dumps({"time": time.time(), "tree": item.to_json()}, default=str))
        elif sys.stdout.isatty() and not plain:
            from rich.console import Console
            from rich.live import Live

            console = Console()
            with Live(console=console, auto_refresh=False) as screen:
                for item in stream:
                    if isinstance(item, live.Trouble):
                        console.print(f"[yellow]{item.message}[/]")
                    else:
                        screen.update(_rich_tree(item), refresh=True)
        else:
            before: dict[str, str] = {}
            for item in stream:
                stamp = time.strftime("%H:%M:%S")
                if isinstance(item, live.Trouble):
                    click.echo(f"{stamp} ! {item.message}")
                    continue
                now = lines(item)
                for key, line in now.items():
                    if before.get(key) != line:
                        click.echo(f"{stamp} {'~' if key in before else '+'} {line}")
                for key in before.keys() - now.keys():
                    click.echo(f"{stamp} - {key}: gone")
                before = now
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
    return 0


# ---- events ---------------------------------------------------------------------------------------


def _event_row(workload: str, ev) -> str:
    count = f" x{ev.count}" if ev.count > 1 else ""
    return f"{_when(ev.last)}  {ev.type:7} {ev.reason:20} {ev.kind}/{ev.name}{count}: {ev.message}"


def _event_json(workload: str, ev) -> dict:
    return {"workload": None if workload == "-" else workload, **ev.to_json()}


@click.command()
@stage_options
@click.option("--follow", is_flag=True, help="Keep printing new events as they happen (Ctrl-C to stop).")
@output_option
def events(files, stage, context, namespace, kubeconfig, follow, output):
    """Events about the app's objects (its workloads, their revisions and pods), grouped by workload.

    Only events about objects of the current release (and the ReplicaSets, ControllerRevisions,
    Jobs and pods they own) are shown, oldest first. --follow prints new ones from a watch (pods a
    rollout creates later included); with -o json, one JSON document per event. Needs no secret
    values. Exit 0, 2 bad input, 3 API server unreachable."""
    from shiplane.actions import live

    target = _locate(files, stage, context, namespace, kubeconfig)
    state, tree, found = live.events(target)
    if not follow:
        if output != "text":
            return _emit([_event_json(w, ev) for w, ev in found], output)
        if tree.revision is None:
            click.echo(f"nothing deployed in {target.app}/{stage}")
            return None
        groups: dict[str, list] = {}
        for w, ev in found:
            groups.setdefault(w, []).append(ev)
        for w in [*(x.name for x in tree.workloads), "-"]:
            if w not in groups:
                continue
            click.secho("other objects" if w == "-" else w, bold=True)
            for ev in groups.pop(w):
                click.secho(f"  {_event_row(w, ev)}", fg="red" if ev.type == "Warning" else None)
        click.echo(f"events: {len(found)} about {target.app}/{stage} in {target.namespace}")
        return None
    stream = live.follow_events(target, state)
    try:
        for w, ev in found:
            _print_event(w, ev, output)
        for item in stream:
            if isinstance(item, live.Trouble):
                click.echo(f"warning: {item.message}", err=True)
            else:
                _print_event(*item, output)
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
    return None


def _print_event(workload: str, ev, output: str) -> None:
    if output != "text":
        click.echo(json.dumps(_event_json(workload, ev), default=str))
    else:
        click.secho(f"[{workload}] {_event_row(workload, ev)}", fg="red" if ev.type == "Warning" else None)


# ---- logs -----------------------------------------------------------------------------------------

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")


def duration(ctx, param, value: str | None) -> float | None:
    """`--since`: 30s, 5m, 2h, 1h30m, 2d (`shiplane.durations`). Zero is refused: it would ask the
    API server for no limit at all, the opposite of "nothing older than now"."""
    from shiplane import durations

    if value is None:
        return None
    try:
        return float(durations.parse(value, positive=True))
    except durations.DurationError as err:
        raise click.BadParameter(str(err)) from None


@click.command()
@stage_options
@click.argument("service", required=False)
@click.option("--follow", is_flag=True, help="Keep printing as pods log, new pods of a rollout included (Ctrl-C).")
@click.option("--since", callback=duration, default=None, metavar="DURATION", help="Only lines this recent (5m, 1h).")
@output_option
def logs(files, stage, context, namespace, kubeconfig, service, follow, since, output):
    """All pods' logs of a service (or of the whole app), merged, each line prefixed with its pod.

    Reads the API's pods/log for every container of the current release's pods of SERVICE, merged
    by time; --follow streams them, starts on each new pod a rollout creates and re-opens a
    container's log after it restarts. With -o json, one JSON document per line. Needs no secret
    values. Exit 0, 1 if a container's log could not be read (the others are shown), 2 bad input
    (an unknown service, a bad --since), 3 API server unreachable."""
    from shiplane.actions import logs as action
    from shiplane.actions.live import Trouble

    target = _locate(files, stage, context, namespace, kubeconfig)
    colours: dict[str, str] = {}

    def show(line) -> None:
        if output != "text":
            click.echo(json.dumps(line.to_json()))
            return
        colour = colours.setdefault(line.pod, _COLOURS[len(colours) % len(_COLOURS)])
        click.echo(click.style(f"{line.prefix} |", fg=colour) + f" {line.text}")

    if not follow:
        found, troubles = action.read(target, service, since=since)
        for line in found:
            show(line)
        for trouble in troubles:
            click.secho(f"warning: {trouble.message}", fg="yellow", err=True)
        return 1 if troubles else 0
    stream = action.follow(target, service, since=since)
    try:
        for item in stream:
            if isinstance(item, Trouble):
                click.echo(f"warning: {item.message}", err=True)
            else:
                show(item)
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
