"""Pure rotation arithmetic: durations, due dates, the rows `shiplane secrets status` shows.

Works on metadata only (version, created, expiry): no function here sees a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass

from shiplane import durations
from shiplane.spec.app import SecretSource


def seconds(duration: str) -> int:
    """`30d`, `12h`, `1d12h`, `45s` → seconds (`shiplane.durations`; the spec has checked the form)."""
    return durations.parse(duration)


@dataclass(frozen=True)
class Version:
    """One stored version's metadata."""

    number: int
    created: float
    expires: float | None = None  # certificates: notAfter
    reason: str = ""

    def to_json(self) -> dict:
        return {"created": self.created, "expires": self.expires, "reason": self.reason}

    @classmethod
    def of(cls, number: int, data: dict) -> Version:
        return cls(number, float(data["created"]), data.get("expires"), data.get("reason", ""))


@dataclass(frozen=True)
class State:
    """What the vault knows of one generated secret: the serving version, the one before it (kept
    for rollback until the next successful rotation) and one being rotated in."""

    current: Version
    previous: Version | None = None
    pending: Version | None = None


@dataclass(frozen=True)
class Row:
    name: str
    source: str  # generate:password, fromEnv, fromFile
    version: int | None
    created: float | None
    age: float | None  # seconds
    expires: float | None
    next_due: float | None
    overdue: bool  # past `rotation.every` plus its `window`: the schedule missed it
    renew: bool  # a certificate inside its renew window (or expired)
    note: str = ""
    resume: bool = False  # a dual-credential rotation stopped midway: the next rotation finishes it
    scheduled: bool = False  # past `rotation.every`: `rotate --due` makes the next version

    @property
    def due(self) -> bool:
        """What `rotate --due` rotates."""
        return self.scheduled or self.overdue or self.renew or self.resume

    @property
    def alarm(self) -> bool:
        """What `secrets status` exits 1 for: a rotation late past its window, a certificate to
        renew, a dual rotation left midway (a rotation merely due within its window is not late)."""
        return self.overdue or self.renew or self.resume

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "version": self.version,
            "created": self.created,
            "age": self.age,
            "expires": self.expires,
            "nextDue": self.next_due,
            "scheduled": self.scheduled,
            "overdue": self.overdue,
            "renew": self.renew,
            "resume": self.resume,
            "due": self.due,
            "note": self.note,
        }


def source_kind(source: SecretSource) -> str:
    if source.generate is not None:
        return f"generate:{source.generate.kind}"
    return "fromEnv" if source.from_env is not None else "fromFile"


def row(name: str, source: SecretSource, state: State | None, now: float) -> Row:
    """One secret's status at `now`: due when `rotation.every` has passed since the current version
    was made, or a certificate has entered its renew window (`renewBefore` before expiry); overdue
    when `rotation.window` (default 0) has passed after that too."""
    kind = source_kind(source)
    if source.generate is None:
        return Row(name, kind, None, None, None, None, None, False, False, "value from the deploying machine")
    if state is None:
        return Row(
            name, kind, None, None, None, None, None, False, False, "not generated yet: the next deploy makes it"
        )
    cur = state.current
    dues = []
    every = source.rotation.every if source.rotation else None
    if every:
        dues.append(cur.created + seconds(every))
    renew_at = None
    if cur.expires is not None:
        renew_at = cur.expires - seconds(source.generate.renew_before)
        dues.append(renew_at)
    next_due = min(dues) if dues else None
    scheduled = bool(every) and now >= cur.created + seconds(every)
    window = source.rotation.window if source.rotation and source.rotation.window else None
    overdue = scheduled and now >= cur.created + seconds(every) + (seconds(window) if window else 0)
    renew = renew_at is not None and now >= renew_at
    note = f"rotation to version {state.pending.number} in progress or interrupted" if state.pending else ""
    return Row(
        name,
        kind,
        cur.number,
        cur.created,
        now - cur.created,
        cur.expires,
        next_due,
        overdue,
        renew,
        note,
        scheduled=scheduled,
    )


def due(rows: list[Row]) -> list[str]:
    return [r.name for r in rows if r.due]
