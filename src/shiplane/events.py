"""Progress as a typed event stream.

Long-running work (building the control plane, starting it, later deploys and
rollouts) yields these frozen dataclasses. The CLI renders them (a live display on
a terminal, timestamped lines otherwise); tests and metrics consume the same stream.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Step:
    """A unit of work started (or, with `done=True`, finished)."""

    message: str
    done: bool = False
    seconds: float | None = None


@dataclass(frozen=True)
class Progress:
    """Work with a known size advanced: `completed` of `total` `unit`s; `item` is the latest."""

    task: str
    completed: int
    total: int | None
    item: str = ""
    unit: str = "packages"


@dataclass(frozen=True)
class Waiting:
    """Still waiting for `what`; `detail` says what was seen last."""

    what: str
    elapsed: float
    detail: str = ""


@dataclass(frozen=True)
class Note:
    """Something the user should know that is neither progress nor failure."""

    message: str


@dataclass(frozen=True)
class Applied:
    """An object was applied (`action`: create, update, unchanged, replace)."""

    ref: str
    action: str


@dataclass(frozen=True)
class StatusChanged:
    """A tracked object's computed readiness changed (see `shiplane.status`)."""

    ref: str
    state: str
    message: str


@dataclass(frozen=True)
class Pruned:
    ref: str


@dataclass(frozen=True)
class RolledBack:
    to_revision: int
    ok: bool
    message: str


Event = Step | Progress | Waiting | Note | Applied | StatusChanged | Pruned | RolledBack


def result(stream: Generator[Event, None, T], on_event: Callable[[Event], None] | None = None) -> T:
    """Run an event stream to its end and return the generator's own return value.

    `on_event` sees each event (the CLI renders them; tests and scripts may ignore them).
    """
    while True:
        try:
            event = next(stream)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)
