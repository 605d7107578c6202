"""Text report of `shiplane check`: grouped by file and object, coloured on a terminal (rich)."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.markup import escape

from shiplane.policy.findings import Finding, Report, Severity

STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _group_key(f: Finding) -> str:
    head = f.file or "(no file)"
    return f"{head}  {f.object}" if f.object else head


def render(report: Report, threshold: Severity | None, rules: dict, console: Console | None = None) -> None:
    console = console or Console(highlight=False, soft_wrap=True)
    ordered = sorted(report.findings, key=lambda f: (f.file or "", str(f.object), f.line or 0, -f.severity))
    for key, items in groupby(ordered, key=_group_key):
        console.print(f"[bold]{escape(key)}[/]")
        for f in items:
            sev = f"[{STYLE[f.severity]}]{str(f.severity).upper():8}[/]"
            line = f":{f.line}" if f.line else ""
            console.print(f"  {sev} {escape(f.rule)}  {escape(f.message)}")
            console.print(f"           [dim]at {escape(f.path or '-')}{line}[/]")
        console.print()
    seen = list(dict.fromkeys(f.rule for f in report.findings))
    if seen:
        console.print("[bold]Why and how to fix[/]")
        for rule_id in seen:
            r = rules.get(rule_id)
            if r is not None:
                console.print(f"  [bold]{rule_id}[/]: {escape(r.why)}\n    [green]fix:[/] {escape(r.fix)}")
        console.print()
    if report.suppressed:
        console.print("[bold]Suppressed[/]")
        for s in report.suppressed:
            f = s.finding
            where = escape(str(f.object or f.where))
            console.print(f"  {escape(f.rule)}  {where}  [dim]({s.source})[/] {escape(s.reason)}")
        console.print()
    counts = ", ".join(f"{n} {sev}" for sev, n in report.counts().items() if n) or "no findings"
    failing = report.failing(threshold) if threshold is not None else []
    verdict = (
        f"[bold red]FAIL[/]: {len(failing)} at or above {threshold}"
        if failing
        else "[bold green]PASS[/]" + (f" (nothing at or above {threshold})" if threshold is not None else "")
    )
    what = ", ".join(
        [f"{report.objects} objects"] * bool(report.objects or not report.dockerfiles)
        + [f"{report.dockerfiles} Dockerfile{'s' * (report.dockerfiles != 1)}"] * bool(report.dockerfiles)
    ) + (f", profile {report.profile}" if report.profile else "")
    console.print(f"{what}: {counts}; {len(report.suppressed)} suppressed. {verdict}")
