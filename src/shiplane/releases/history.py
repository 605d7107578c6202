"""The release lifecycle as decisions over a history (oldest first): pure, one definition each.

`actions/` executes what these return (writes records, applies objects); nothing here
talks to the cluster. A decision that changes records returns them as `Writes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from shiplane.errors import InputError
from shiplane.releases.record import MigrationRun, Outcome, Release, key_of

GOOD = (Outcome.DEPLOYED, Outcome.SUPERSEDED)  # rolled out successfully (then maybe replaced)
UNSAFE = ("contract", "irreversible")  # migrations older code may not survive
INTERRUPTED_MESSAGE = "the run that wrote it ended without finishing"


@dataclass(frozen=True)
class Writes:
    """Records to store (whole, replacing the same revision) and revisions to delete."""

    put: tuple[Release, ...] = ()
    delete: tuple[int, ...] = ()

    def __add__(self, other: Writes) -> Writes:
        return Writes(self.put + other.put, self.delete + other.delete)


def updated(history: list[Release], writes: Writes) -> list[Release]:
    """The history after `writes` (what a store would list next)."""
    by_revision = {r.revision: r for r in history}
    by_revision |= {r.revision: r for r in writes.put}
    for revision in writes.delete:
        by_revision.pop(revision, None)
    return [by_revision[r] for r in sorted(by_revision)]


def last_good(history: list[Release]) -> Release | None:
    """The newest release that rolled out successfully: what runs now, what a failure returns to.

    (A superseded release was good too; after a successful run the newest good one is the
    deployed one, but a run that died between its two writes may leave it superseded.)
    """
    return next((r for r in reversed(history) if r.outcome in GOOD), None)


def next_revision(history: list[Release]) -> int:
    return max((r.revision for r in history), default=0) + 1


def close_interrupted(history: list[Release], holder: str) -> Writes:
    """We hold the lock, so any other pending record belongs to a run that died: say so."""
    return Writes(
        tuple(
            r.with_(outcome=Outcome.INTERRUPTED, message=INTERRUPTED_MESSAGE)
            for r in history
            if r.outcome is Outcome.PENDING and r.holder != holder
        )
    )


def effective_outcome(release: Release, lock_holder: str | None, lock_expired: bool) -> Outcome:
    """As shown to a reader: a pending record whose run no longer holds the lock was interrupted."""
    if release.outcome is not Outcome.PENDING:
        return release.outcome
    if lock_holder != release.holder or lock_expired:
        return Outcome.INTERRUPTED
    return Outcome.PENDING


def retention(history: list[Release], keep: int) -> Writes:
    """Keep the newest `keep` records, and the last good one whatever its age."""
    good = last_good(history)
    old = history[:-keep] if keep > 0 else []
    return Writes(delete=tuple(r.revision for r in old if good is None or r.revision != good.revision))


def unsafe_migrations(history: list[Release], *, after: int) -> list[MigrationRun]:
    """Contract/irreversible migrations that ran in releases newer than revision `after`."""
    return [
        m
        for r in history
        if r.revision > after
        for m in r.migrations
        if m.compatibility in UNSAFE and m.outcome == "succeeded"
    ]


def rollback_target(history: list[Release], revision: int | None = None) -> Release:
    """The requested revision, or the good release before the current one (InputError if none)."""
    good = [r for r in history if r.outcome in GOOD]
    if revision is not None:
        match = next((r for r in history if r.revision == revision), None)
        if match is None:
            known = ", ".join(str(r.revision) for r in history) or "none"
            raise InputError(f"no revision {revision} in the history (revisions: {known})")
        if match not in good:
            raise InputError(
                f"revision {revision} did not deploy successfully ({match.outcome}); roll back to a successful one"
            )
        return match
    current = last_good(history)
    if history and history[-1].outcome is not Outcome.DEPLOYED:
        older = good  # the newest release failed or was interrupted: restore the last good one
    else:
        older = [r for r in good if current is None or r.revision < current.revision]
    if not older:
        raise InputError("nothing to roll back to: no earlier successful release")
    return older[-1]


def settle(history: list[Release], done: Release, *, keep: int) -> Writes:
    """After `done` rolled out: record it, supersede what was deployed, mark the failures it
    rolled back over, then apply retention."""
    writes = [done]
    for r in history:
        if r.revision == done.revision:
            continue
        if r.outcome is Outcome.DEPLOYED:
            writes.append(r.with_(outcome=Outcome.SUPERSEDED))
        elif r.outcome is Outcome.FAILED and done.rollback_of is not None and r.revision > done.rollback_of:
            writes.append(r.with_(outcome=Outcome.ROLLED_BACK))
    out = Writes(tuple(writes))
    return out + retention(updated(history, out), keep)


@dataclass(frozen=True)
class Applied:
    """What the cluster holds from shiplane, as far as the history knows, per object key.

    `objects`: the body the last good release applied (Secret values stripped);
    `managed`: a digest of the fields shiplane owned right after applying it;
    `unsettled`: keys a later, unsuccessful run may have applied differently.
    """

    objects: dict[str, dict]
    managed: dict[str, str]
    unsettled: frozenset[str] = frozenset()


def applied(history: list[Release]) -> Applied:
    """The baseline an incremental deploy compares with: the last good release, minus what any
    later run (failed, interrupted, pending) may have changed since."""
    good = last_good(history)
    if good is None:
        return Applied({}, {})
    objects = {key_of(o): o for o in good.objects}
    unsettled = {
        key_of(o) for r in history if r.revision > good.revision for o in r.objects if objects.get(key_of(o)) != o
    }
    return Applied(objects, dict(good.managed), frozenset(unsettled))
