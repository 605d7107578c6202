"""Dual-credential rotation as a resumable state machine (pure: the phases and the credential form).

Two database roles take turns. The serving credential is `user=<a> password=…`; a rotation moves
the pods to the other role with a fresh password, and only retires the old role once no pod holds it:

    (none) ──▶ prepare ──▶ rollout ──▶ verify ──▶ retire ──▶ (none)
                  │            │
                  └── failure ─┴──▶ abort: the old credential never stopped working (free rollback)

Each phase is idempotent (re-running it after a kill changes nothing more), and the phase is
written to the cluster *after* its work is done, so a killed run resumes at the first phase whose
work may not have happened.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

PHASES = ("prepare", "rollout", "verify", "retire")
_CREDENTIAL = re.compile(rb"^user=(\S+) password=(\S+)$")


def credential(user: str, password: bytes) -> bytes:
    """The secret's value: a libpq conninfo fragment (`psql "host=db dbname=shop $DB_CREDENTIAL"`)."""
    return b"user=" + user.encode() + b" password=" + password


def user_of(value: bytes) -> str | None:
    found = _CREDENTIAL.match(value)
    return found.group(1).decode() if found else None


def password_of(value: bytes) -> bytes | None:
    found = _CREDENTIAL.match(value)
    return found.group(2) if found else None


def other(users: list[str], current: str | None) -> str:
    """The role that takes over from `current` (the first one when the current value has no role)."""
    return users[1] if current == users[0] else users[0]


@dataclass(frozen=True)
class Progress:
    """A dual rotation in progress, as recorded in the cluster."""

    phase: str  # the next phase to run
    old: int  # versions
    new: int
    old_user: str
    new_user: str
    reason: str
    started: float
    revision: int | None = None  # the release that rolled the new credential out
    drained: float | None = None  # when verify first saw no pod holding the old credential

    def next(self, **changes) -> Progress:
        at = PHASES.index(self.phase)
        return replace(self, phase=PHASES[at + 1], **changes)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, data: dict) -> Progress:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
