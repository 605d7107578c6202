"""The one duration parser: `30s`, `5m`, `2h`, `30d`, combined `1h30m`, `1d12h`. Pure.

Used by the spec's rotation fields (`rotation.every`, `generate.duration`, …) and the CLI's
`--since`. A module at the package root (like `redaction`), so the data layer and the CLI both
import it without either depending on the other.
"""

from __future__ import annotations

import re

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_FORM = re.compile(r"(?:[0-9]+[dhms])+")
_PART = re.compile(r"([0-9]+)([dhms])")
LIMIT = 100 * 365 * 86400  # a century: beyond it, timestamps overflow and no schedule makes sense
EXAMPLES = "30s, 5m, 2h, 30d or combined like 1h30m"


class DurationError(ValueError):
    """A duration that does not parse: `expected` says what would, the message adds what was found
    (the spec's reporter shows the value itself, redacted where the field is a secret's)."""

    def __init__(self, expected: str, found: object) -> None:
        super().__init__(f"{expected} (found {found!r})")
        self.expected = expected


def parse(text: str, *, positive: bool = False) -> int:
    """`text` → whole seconds. Units d, h, m, s, each part a whole number (`1h30m`, not `1.5h`).
    `positive`: zero is refused too (where it would mean "always" or "nothing")."""
    value = text.strip() if isinstance(text, str) else text
    if not isinstance(value, str) or not _FORM.fullmatch(value):
        raise DurationError(f"expected a duration like {EXAMPLES}", text)
    total = sum(int(n) * UNITS[unit] for n, unit in _PART.findall(value))
    if total > LIMIT:
        raise DurationError("expected a duration of at most 100 years", text)
    if positive and total == 0:
        raise DurationError("expected a duration longer than zero", text)
    return total
