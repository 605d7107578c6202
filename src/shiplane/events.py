"""Progress as a typed event stream.

Long-running work (building the control plane, starting it, later deploys and
rollouts) yields these frozen dataclasses. The CLI renders them (a live display on
a terminal, timestamped lines otherwise); tests and metrics consume the same stream.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ParamSpec, TypeVar

from shiplane.errors import ShiplaneError
from shiplane.status import State

T = TypeVar("T")
P = ParamSpec("P")


class Action(StrEnum):
    """What applying one object did."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"  # sent, and the server's object did not change
    REPLACE = "replace"  # an immutable field changed: deleted, then created
    SKIP = "skip"  # not sent: equal to what the last good release applied


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
    """An object was applied; `action` says what that did (a plain string is converted)."""

    ref: str
    action: Action

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))  # an unknown action fails here, not in a sink


@dataclass(frozen=True)
class StatusChanged:
    """A tracked object's computed readiness changed (`state` from `shiplane.status`)."""

    ref: str
    state: State
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", State(self.state))


@dataclass(frozen=True)
class PlannedWave:
    """One wave of a plan: its objects (as `Kind ns/name`), and whether it waits for readiness."""

    name: str
    refs: tuple[str, ...]
    wait: bool = False


@dataclass(frozen=True)
class PlanReady:
    """What a deploy or rollback is about to do, before its first write of an object.

    `revision` is the release being written; `rollback_of` the one a rollback restores.
    """

    app: str
    stage: str
    revision: int
    waves: tuple[PlannedWave, ...]
    prune: tuple[str, ...] = ()
    rollback_of: int | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {
            "waves": len(self.waves),
            "objects": sum(len(w.refs) for w in self.waves),
            "prune": len(self.prune),
        }


@dataclass(frozen=True)
class Failed:
    """The run failed: yielded once, before the action does anything about it (roll back) and raises.

    `error` is the class name from `shiplane.errors`, `exit_code` what the CLI will exit with.
    """

    error: str
    message: str
    exit_code: int = 1
    refs: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, err: Exception) -> Failed:
        return cls(
            type(err).__name__,
            getattr(err, "message", str(err)),
            getattr(err, "exit_code", 1),
            tuple(str(r) for r in getattr(err, "refs", ()) or ()),
        )


@dataclass(frozen=True)
class Pruned:
    ref: str


@dataclass(frozen=True)
class RolledBack:
    to_revision: int
    ok: bool
    message: str


Event = Step | Progress | Waiting | Note | Applied | StatusChanged | Pruned | RolledBack | PlanReady | Failed


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


def announce_failure(
    fn: Callable[P, Generator[Event, None, T]],
) -> Callable[P, Generator[Event, None, T]]:
    """Make an action's event stream end with a `Failed` event before it raises.

    Unless the stream yielded one itself (a deploy does, when its rollout fails, before
    it rolls back), a ShiplaneError it raises is announced as `Failed`, then re-raised.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Generator[Event, None, T]:
        stream = fn(*args, **kwargs)
        announced = False
        try:
            while True:
                try:
                    event = next(stream)
                except StopIteration as stop:
                    return stop.value
                announced = announced or isinstance(event, Failed)
                yield event
        except ShiplaneError as err:
            if not announced:
                yield Failed.of(err)
            raise
        finally:
            stream.close()

    return wrapper
