"""Rules as data: id, group, severity, why, fix and a small pure check function.

A check takes one object and the Context (every object of the run, indexed) and
yields Hits: the field path that is wrong and a short detail. The engine turns hits
into Findings with file and line; profiles decide which rules run and how severe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shiplane.policy.findings import Severity

if TYPE_CHECKING:
    from shiplane.policy.context import Context


class Group(StrEnum):
    RESOURCES = "resources"
    PROBES = "probes"
    SECURITY = "security-context"
    HOST = "host-access"
    IMAGES = "images"
    AVAILABILITY = "availability"
    NETWORKING = "networking"
    LABELS = "labels-and-selectors"
    SECRETS = "secrets"
    RBAC = "service-accounts-and-rbac"
    APIS = "api-versions"
    JOBS = "jobs"
    PROCESSES = "processes"
    SUPPRESSIONS = "suppressions"
    DOCKERFILE = "dockerfile"


class Pss(StrEnum):
    """The Pod Security Standards level a rule belongs to (None: a best practice, not PSS)."""

    BASELINE = "baseline"
    RESTRICTED = "restricted"


@dataclass(frozen=True)
class Hit:
    path: tuple[str | int, ...]
    detail: str = ""


Check = Callable[[dict[str, Any], "Context"], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    group: Group
    severity: Severity
    title: str
    why: str
    fix: str
    check: Check
    kinds: frozenset[str] | None = None  # None: every kind
    pss: Pss | None = None
    optional: bool = False  # off unless a profile turns it on (e.g. digest pinning for prod)

    def applies_to(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


def rule(
    id: str,
    group: Group,
    severity: Severity,
    title: str,
    *,
    why: str,
    fix: str,
    kinds: Iterable[str] | None = None,
    pss: Pss | None = None,
    optional: bool = False,
) -> Callable[[Check], Rule]:
    """Decorator form, so a rule's data sits right above its check."""

    def wrap(fn: Check) -> Rule:
        return Rule(id, group, severity, title, why, fix, fn, frozenset(kinds) if kinds else None, pss, optional)

    return wrap
