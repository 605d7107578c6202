"""The four DORA metrics of one app in one stage, from its release records. Pure.

A *change* is a release that deployed new desired state: every release but rollbacks (a
rollback re-applies an older release; it restores, it changes nothing). Releases still pending
or interrupted have no outcome yet and count nowhere. The formulas (docs/operate.md):

  deployment frequency  successful changes finished in the window / window length in days
  lead time             median of (finished - committed) over successful changes whose spec
                        was in git (the commit time is recorded in the release)
  change failure rate   failed changes / finished changes, where a change failed if its
                        rollout failed (failed, rolled-back) or the next release rolled back
                        past it
  time to restore       median, over failed changes, of (finish of the next successful release
                        - finish of the failed change)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from shiplane.releases.history import GOOD
from shiplane.releases.record import Outcome, Release

DAY = 86400.0
FAILED = (Outcome.FAILED, Outcome.ROLLED_BACK)
FINISHED = (*GOOD, *FAILED)


@dataclass(frozen=True)
class Dora:
    deployment_frequency: float  # per day, over `window` seconds
    lead_time: float | None  # seconds (median); None without a change that recorded its commit
    change_failure_rate: float | None  # 0..1; None without a finished change
    time_to_restore: float | None  # seconds (median); None without a restored failure
    changes: int  # finished changes the rate counts
    window: float

    def to_json(self) -> dict:
        return {
            "deployment_frequency_per_day": self.deployment_frequency,
            "lead_time_seconds": self.lead_time,
            "change_failure_rate": self.change_failure_rate,
            "time_to_restore_seconds": self.time_to_restore,
            "changes": self.changes,
            "window_days": self.window / DAY,
        }


def changes(history: list[Release]) -> list[Release]:
    """Finished releases that deployed new state (not rollbacks), oldest first."""
    return [r for r in history if r.rollback_of is None and r.outcome in FINISHED and r.finished is not None]


def failed(history: list[Release]) -> list[Release]:
    """Changes that failed: their rollout failed, or the release right after them rolled back past them."""
    ordered = sorted(history, key=lambda r: r.revision)
    counted = {r.revision for r in changes(ordered)}
    out = []
    for i, r in enumerate(ordered):
        if r.revision not in counted:
            continue
        after = ordered[i + 1] if i + 1 < len(ordered) else None
        undone = after is not None and after.rollback_of is not None and after.rollback_of < r.revision
        if r.outcome in FAILED or undone:
            out.append(r)
    return out


def deployment_frequency(history: list[Release], *, now: float, window: float = 30 * DAY) -> float:
    ok = [r for r in changes(history) if r.outcome in GOOD and now - window <= r.finished <= now]
    return len(ok) / (window / DAY)


def lead_time(history: list[Release]) -> float | None:
    times = [r.finished - r.committed for r in changes(history) if r.outcome in GOOD and r.committed is not None]
    return statistics.median(times) if times else None


def change_failure_rate(history: list[Release]) -> float | None:
    total = changes(history)
    return len(failed(history)) / len(total) if total else None


def time_to_restore(history: list[Release]) -> float | None:
    ordered = sorted(history, key=lambda r: r.revision)
    times = []
    for bad in failed(ordered):
        fix = next(
            (r for r in ordered if r.revision > bad.revision and r.outcome in GOOD and r.finished is not None), None
        )
        if fix is not None:
            times.append(fix.finished - bad.finished)
    return statistics.median(times) if times else None


def dora(history: list[Release], *, now: float, window: float = 30 * DAY) -> Dora:
    return Dora(
        deployment_frequency(history, now=now, window=window),
        lead_time(history),
        change_failure_rate(history),
        time_to_restore(history),
        len(changes(history)),
        window,
    )
