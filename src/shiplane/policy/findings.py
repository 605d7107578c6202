"""What a check produces: severities, findings, suppressions and the report the gate reads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum

from shiplane.errors import InputError


class Severity(IntEnum):
    """Ordered, so `--fail-on` is a comparison. Names match SARIF-neutral wording."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str | Severity) -> Severity:
        if isinstance(text, Severity):
            return text
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(str(s) for s in cls)
            raise InputError(f"unknown severity {text!r} (expected one of: {names})") from None


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    group: str
    message: str  # what is wrong here, never a secret's value
    why: str
    fix: str
    object: ObjectRef | None = None
    path: str = ""  # field path in the object, e.g. spec.template.spec.containers[0].resources
    file: str | None = None
    line: int | None = None

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def sort_key(self) -> tuple:
        return (self.file or "", self.line or 0, -self.severity, self.rule, self.path)


@dataclass(frozen=True)
class Override:
    """An explicit decision to accept findings of `rule` (on `object`, or everywhere), with a reason.

    The deploy gate records these in the release history; `reason` is mandatory.
    """

    rule: str
    reason: str
    object: ObjectRef | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise InputError(f"override of {self.rule!r} needs a reason")

    def matches(self, f: Finding) -> bool:
        if f.rule != self.rule:
            return False
        if self.object is None:
            return True
        if f.object is None or (self.object.kind, self.object.name) != (f.object.kind, f.object.name):
            return False
        # An override written without a namespace (Kind/name) holds in whatever namespace the stage uses.
        return not self.object.namespace or self.object.namespace == f.object.namespace


@dataclass(frozen=True)
class Suppressed:
    finding: Finding
    reason: str
    source: str  # "annotation", "inline" (Dockerfile comment) or "override"


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    suppressed: tuple[Suppressed, ...] = ()
    objects: int = 0
    dockerfiles: int = 0
    profile: str = ""
    kubernetes_version: str = ""
    rules_run: tuple[str, ...] = field(default=(), repr=False)

    def failing(self, threshold: Severity | str = Severity.HIGH) -> list[Finding]:
        """Findings at or above `threshold`: what makes `shiplane check` exit 1 and the gate refuse."""
        level = Severity.parse(threshold)
        return [f for f in self.findings if f.severity >= level]

    def counts(self) -> dict[str, int]:
        c = Counter(str(f.severity) for f in self.findings)
        return {str(s): c.get(str(s), 0) for s in reversed(Severity)}

    def merged(self, other: Report) -> Report:
        return Report(
            findings=tuple(sorted((*self.findings, *other.findings), key=Finding.sort_key)),
            suppressed=(*self.suppressed, *other.suppressed),
            objects=self.objects + other.objects,
            dockerfiles=self.dockerfiles + other.dockerfiles,
            profile=self.profile or other.profile,
            kubernetes_version=self.kubernetes_version or other.kubernetes_version,
            rules_run=tuple(dict.fromkeys((*self.rules_run, *other.rules_run))),
        )
