"""Renders the typed event stream: a live display on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from shiplane import events
from shiplane.status import State

if TYPE_CHECKING:  # rich is imported by the sink that draws, not by every command that might
    from rich.console import Console

T = TypeVar("T")


QUIET = (events.Action.UNCHANGED, events.Action.SKIP)  # counted by the plan, not listed one by one


def _plan_line(event: events.PlanReady) -> str:
    what = f"rollback to revision {event.rollback_of}" if event.rollback_of is not None else "deploy"
    waves = ", ".join(f"{w.name} {len(w.refs)}" + (" (waits)" if w.wait else "") for w in event.waves)
    prune = f"; prune {len(event.prune)}" if event.prune else ""
    return f"plan: {what} {event.app}/{event.stage} revision {event.revision}: {waves}{prune}"


def _first_line(text: str) -> str:
    """The gist of a failure message: its first line, and the next one if the first only introduces it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[1]}"
    return lines[0] if lines else ""


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class PlainSink:
    """Timestamped lines for logs and CI; progress is rate-limited so logs stay readable."""

    def __init__(self, stream=None, every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self._last: dict[str, float] = {}

    def _line(self, text: str) -> None:
        print(f"{_stamp()} {text}", file=self.stream, flush=True)

    def _due(self, key: str, final: bool = False) -> bool:
        now = time.monotonic()
        if final or now - self._last.get(key, 0.0) >= self.every:
            self._last[key] = now
            return True
        return False

    def __call__(self, event: events.Event) -> None:
        match event:
            case events.Step(message=m, done=True, seconds=s):
                self._line(f"done  {m}" + (f" ({s:.1f}s)" if s is not None else ""))
            case events.Step(message=m):
                self._line(f"start {m}")
            case events.Progress(task=t, completed=c, total=n, item=i, unit=u):
                if self._due(t, final=n is not None and c >= n):
                    of = f"/{n}" if n else ""
                    self._line(f"      {t}: {c}{of} {u}" + (f" ({i})" if i else ""))
            case events.Waiting(what=w, elapsed=e, detail=d):
                if self._due(w):
                    self._line(f"wait  {w} ({e:.0f}s)" + (f": {d}" if d else ""))
            case events.Note(message=m):
                self._line(f"note  {m}")
            case events.Applied(ref=r, action=a) if a not in QUIET:
                self._line(f"apply {r}: {a}")
            case events.StatusChanged(ref=r, state=s, message=m):
                self._line(f"state {r}: {s} ({m})")
            case events.Pruned(ref=r):
                self._line(f"prune {r}")
            case events.RolledBack(to_revision=n, ok=ok, message=m):
                self._line(f"{'rolled back' if ok else 'ROLLBACK FAILED'} to revision {n}: {m}")
            case events.PlanReady():
                self._line(_plan_line(event))
            case events.Failed(error=e, message=m):
                self._line(f"FAIL  {e}: {_first_line(m)}")


class LiveSink:
    """rich progress bars and spinners for an interactive terminal."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[item]}"),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, int] = {}

    def _task(self, key: str, total: int | None = None):
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task(key, total=total, item="")
        return self._tasks[key]

    def _finish(self, key: str) -> None:
        if key in self._tasks:
            self.progress.remove_task(self._tasks.pop(key))

    def __call__(self, event: events.Event) -> None:
        match event:
            case events.Step(message=m, done=True, seconds=s):
                self._finish(m)
                took = f" [dim]({s:.1f}s)[/]" if s is not None else ""
                self.console.print(f"[green]✓[/] {m}{took}")
            case events.Step(message=m):
                self._task(m)
            case events.Progress(task=t, completed=c, total=n, item=i):
                self.progress.update(self._task(t, n), completed=c, total=n, item=i[-60:])
            case events.Waiting(what=w, elapsed=_, detail=d):
                self.progress.update(self._task(w), item=d[-80:])
            case events.Note(message=m):
                self.console.print(f"[yellow]•[/] {m}")
            case events.Applied(ref=r, action=a) if a not in QUIET:
                self.console.print(f"  [cyan]{a:9}[/] {r}")
            case events.StatusChanged(ref=r, state=s, message=m):
                # One live row per workload; finished rows leave a line behind.
                if s is State.CURRENT:
                    self._finish(r)
                    self.console.print(f"  [green]ready[/]     {r} [dim]{m}[/]")
                elif s is State.FAILED:
                    self._finish(r)
                    self.console.print(f"  [red]failed[/]    {r}: {m}")
                else:
                    self.progress.update(self._task(r), item=m)
            case events.Pruned(ref=r):
                self.console.print(f"  [magenta]pruned[/]    {r}")
            case events.RolledBack(to_revision=n, ok=ok, message=m):
                color = "green" if ok else "red"
                self.console.print(f"[{color}]{'rolled back' if ok else 'rollback failed'}[/] to revision {n}: {m}")
            case events.PlanReady():
                self.console.print(f"[bold]{_plan_line(event)}[/]", highlight=False)
            case events.Failed(error=e, message=m):
                from rich.markup import escape

                self.console.print(f"[red]✗ {e}[/]: {escape(_first_line(m))}", highlight=False)


@contextmanager
def sink(plain: bool | None = None) -> Iterator:
    """The right sink for stderr: live on a TTY unless `plain`, else timestamped lines."""
    if plain is None:
        plain = not sys.stderr.isatty()
    if plain:
        yield PlainSink()
        return
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:  # rich also honours TERM=dumb and the like
        yield PlainSink()
        return
    live = LiveSink(console)
    with live.progress:
        yield live


def age(seconds: float | None) -> str:
    """A duration in its largest whole unit, as kubectl shows ages: 3d, 5h, 12m, 40s ("-" unknown)."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def drain(stream: Generator[events.Event, None, T], plain: bool | None = None) -> T:
    """Render every event of `stream`; return the generator's own return value.

    Exceptions from the stream propagate to `main()`, the one error boundary.
    """
    with sink(plain) as emit:
        return events.result(stream, emit)
