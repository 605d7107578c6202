"""Kubernetes names for imported services, made once, with collision detection.

Service names become lowercase DNS labels (`WEB` → `web`, `a_b` → `a-b`), so two sources
can land on one name. Renaming one of them silently would break whatever reaches it by
its old host name, and keeping one would drop the other: a collision is an input error
(exit 2) naming both sources, and the user renames one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shiplane.errors import InputErrors


def spec_name(raw: str) -> str:
    """A DNS label: lowercase letters, digits and '-', starting with a letter, at most 40 characters."""
    name = re.sub(r"[^a-z0-9]+", "-", str(raw).lower()).strip("-")
    return (re.sub(r"^[^a-z]+", "", name) or "svc")[:40].rstrip("-")


def unique(
    sources: list[tuple[str, str]], what: str = "service", base: Callable[[str], str] = lambda raw: raw
) -> dict[str, str]:
    """raw name → spec name for [(raw name, where it comes from)] (`base` picks the part of the raw
    name that becomes the spec name); colliding names are an InputErrors naming both."""
    taken: dict[str, tuple[str, str]] = {}
    out: dict[str, str] = {}
    problems = []
    for raw, where in sources:
        name = spec_name(base(raw))
        if name in taken and taken[name][0] != raw:
            first_raw, first_where = taken[name]
            problems.append(
                f"{where}: {what} {raw!r} becomes the Kubernetes name {name!r}, as {what} {first_raw!r} "
                f"({first_where}) does: rename one of them"
            )
            continue
        taken.setdefault(name, (raw, where))
        out[raw] = name
    if problems:
        raise InputErrors(problems)
    return out
