"""Debian's own list of packages with ended or limited security support (the
`debian-security-support` package: security-support-ended.debNN, security-support-limited).

As `check-support-status` reads them: the first column is a regular expression that must match the
whole source package name; an `ended` line whose date has passed means no more security updates
(a future date: support *will* end), a `limited` line means support is restricted (the reason says how).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import PurePath

from shiplane.images.inventory import Package

_NAME = re.compile(r"^security-support-(ended|limited)(?:\.deb(\d+))?$")


@dataclass(frozen=True)
class Rule:
    kind: str  # ended, limited
    release: str  # Debian major version ("12"); "" for the limited list (the release it shipped in)
    pattern: str
    version: str = ""  # last version with support
    date: str = ""  # YYYY-mm-dd
    details: str = ""


@dataclass(frozen=True)
class Notice:
    package: Package
    status: str  # ended, ends, limited
    rule: Rule


def is_list(name: str) -> bool:
    return _NAME.match(PurePath(name.split("!/")[-1]).name) is not None


def parse(name: str, text: str) -> list[Rule]:
    match = _NAME.match(PurePath(name.split("!/")[-1]).name)
    if match is None:
        return []
    kind, release = match.group(1), match.group(2) or ""
    rules = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if kind == "ended":
            parts = line.split(None, 3)
            if len(parts) < 3:
                continue
            rules.append(Rule(kind, release, parts[0], parts[1], parts[2], parts[3].strip() if len(parts) > 3 else ""))
        else:
            pattern, _, rest = line.strip().partition(" ")
            rules.append(Rule(kind, release, pattern.strip(), details=rest.strip()))
    return rules


def check(
    packages: list[Package], os_id: str, os_version: str, rules: list[Rule], today: dt.date | None = None
) -> list[Notice]:
    """Notices for the image's Debian packages (by source package), first matching line per list wins."""
    if os_id != "debian":
        return []
    today = today or dt.date.today()
    release = os_version.split(".")[0]
    lists = {
        "ended": [r for r in rules if r.kind == "ended" and r.release == release],
        "limited": [r for r in rules if r.kind == "limited"],
    }
    out = []
    for pkg in packages:
        if pkg.type != "deb":
            continue
        source = pkg.source_name or pkg.name
        for kind, candidates in lists.items():
            rule = next((r for r in candidates if _fullmatch(r.pattern, source)), None)
            if rule is None:
                continue
            status = kind
            if kind == "ended":
                try:
                    status = "ended" if dt.date.fromisoformat(rule.date) <= today else "ends"
                except ValueError:
                    status = "ended"
            out.append(Notice(pkg, status, rule))
    return out


def _fullmatch(pattern: str, name: str) -> bool:
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return pattern == name
