"""Fan-out deploy: one Deploy per target, canary first, then waves, at most N at once.

Each target's deploy is the ordinary Deploy action (its own lock, its own release record,
its own health gate and automatic rollback); this module only orders and bounds them.

Resume needs no state of its own: a target's release history (in its own cluster) already
records which spec digest it runs. `resume=True` skips every target whose current release
is `deployed` at the digest about to be deployed, so an interrupted fan-out (a crash, ^C, a
failed wave) continues where it stopped and no separate record can disagree with the clusters.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

from shiplane.actions.desired import Desired
from shiplane.actions.target import Target
from shiplane.errors import ShiplaneError
from shiplane.events import Event, RolledBack, result
from shiplane.releases import Outcome


class State(StrEnum):
    WAITING = "waiting"
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    UNCHANGED = "unchanged"  # --resume: already deployed at this spec digest
    ROLLED_BACK = "rolled back"
    FAILED = "failed"
    NOT_STARTED = "not started"  # a failure stopped the fan-out before its wave
    PRUNED = "pruned"  # gone from the spec; its objects deleted (--allow-target-removal)
    LEFT = "left running"  # gone from the spec; kept, since removal was not allowed


@dataclass(frozen=True)
class TargetChanged:
    """A target's state in a fan-out changed (the CLI's table redraws its row)."""

    name: str
    state: State
    wave: int
    detail: str = ""
    revision: int | None = None


@dataclass(frozen=True)
class Member:
    name: str  # prod/region=eu,tenant=acme
    target: Target
    want: Desired
    deploy: Callable[[Target, Desired], Generator[Event, None, object]]  # the Deploy action's run()


@dataclass
class Outcomes:
    rows: dict[str, TargetChanged] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.state in (State.DEPLOYED, State.UNCHANGED, State.PRUNED, State.LEFT) for r in self.rows.values())

    def as_json(self) -> list[dict]:
        return [
            {"target": r.name, "state": str(r.state), "wave": r.wave, "revision": r.revision, "detail": r.detail}
            for r in self.rows.values()
        ]


def current_digest(target: Target) -> str | None:
    """The spec digest the target runs now (its newest deployed release), if any."""
    deployed = [r for r in target.store().list() if r.outcome is Outcome.DEPLOYED]
    return deployed[-1].spec_digest if deployed else None


def run(
    waves: list[list[Member]], *, max_parallel: int, fail_fast: bool = True, resume: bool = False
) -> Generator[TargetChanged, None, Outcomes]:
    """Deploy wave after wave; inside a wave at most `max_parallel` targets at once (threads).

    A failed target stops the waves after its own (with fail_fast); targets of the failed wave
    still running finish. Yields every state change; returns the final state of every target.
    """
    out = Outcomes()
    changes: queue.Queue[TargetChanged | None] = queue.Queue()

    def note(change: TargetChanged) -> None:
        out.rows[change.name] = change
        changes.put(change)

    for i, wave in enumerate(waves):
        for m in wave:
            out.rows[m.name] = TargetChanged(m.name, State.WAITING, i)
    for i, wave in enumerate(waves):
        stop = threading.Event()

        def one(m: Member, wave_no: int = i, stop: threading.Event = stop) -> None:
            if stop.is_set():
                note(TargetChanged(m.name, State.NOT_STARTED, wave_no, "an earlier target failed"))
                return
            if resume and current_digest(m.target) == m.want.spec_digest:
                note(TargetChanged(m.name, State.UNCHANGED, wave_no, "already deployed at this spec (resume)"))
                return
            note(TargetChanged(m.name, State.DEPLOYING, wave_no))
            rolled: list[RolledBack] = []
            try:
                release = result(m.deploy(m.target, m.want), lambda e: _keep(rolled, e))
            except ShiplaneError as err:
                state = State.ROLLED_BACK if rolled and rolled[-1].ok else State.FAILED
                if fail_fast:
                    stop.set()
                note(TargetChanged(m.name, state, wave_no, str(err).splitlines()[0]))
                return
            note(TargetChanged(m.name, State.DEPLOYED, wave_no, "", getattr(release, "revision", None)))

        with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="shiplane-fanout") as pool:
            futures = [pool.submit(one, m) for m in wave]

            def finish(fs=futures) -> None:
                try:
                    for f in fs:
                        f.exception()
                finally:
                    changes.put(None)

            done = threading.Thread(target=finish, daemon=True)
            done.start()
            while (change := changes.get()) is not None:
                yield change
            done.join()
            for f in futures:
                f.result()  # a bug in a thread surfaces here, with its traceback
        failed = [m for m in wave if out.rows[m.name].state in (State.FAILED, State.ROLLED_BACK)]
        if failed and fail_fast:
            for later, rest in enumerate(waves[i + 1 :], start=i + 1):
                for m in rest:
                    change = TargetChanged(m.name, State.NOT_STARTED, later, f"{failed[0].name} failed")
                    out.rows[m.name] = change
                    yield change
            break
    return out


def _keep(rolled: list[RolledBack], event: Event) -> None:
    if isinstance(event, RolledBack):
        rolled.append(event)
