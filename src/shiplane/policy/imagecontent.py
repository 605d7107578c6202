"""Findings from the real content of a stage's images (`shiplane check --stage S --images`).

Pure, over plain values the image audit hands over (policy never reads images): advisories found in
an image, an image that could not be read (never clean), an exception that does not apply, and the
"no compiler in production" rule of the Dockerfile rules fed by what the image really holds.
"""

from __future__ import annotations

from shiplane.policy.catalog import Group, Rule
from shiplane.policy.dockerfile.rules import RULES as DOCKERFILE_RULES
from shiplane.policy.findings import Finding, Severity

COMPILERS = next(r for r in DOCKERFILE_RULES if r.id == "dockerfile-build-tools-in-final-stage")


def _none(*_args):  # these rules are fed by the image audit, not run over objects
    return ()


RULES: list[Rule] = [
    Rule(
        "image-vulnerability",
        Group.IMAGES,
        Severity.HIGH,
        "known vulnerability in an image",
        "A package in the image is named by an advisory for its installed version.",
        "Upgrade the package or the base image; or accept it in the stage's images.exceptions file with a reason "
        "and an expiry date.",
        _none,
    ),
    Rule(
        "image-not-scanned",
        Group.IMAGES,
        Severity.HIGH,
        "image could not be read",
        "An image that cannot be read is not known to be clean.",
        "Check the reference and registry access (~/.docker/config.json, --insecure-registry for plain HTTP).",
        _none,
    ),
    Rule(
        "image-exception-invalid",
        Group.IMAGES,
        Severity.MEDIUM,
        "exception that does not apply",
        "An exception without a reason or past its expiry accepts nothing: the finding is back.",
        "Give it a reason and a new expiry date, or remove it.",
        _none,
    ),
]
LEVEL = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}


def _finding(rule: Rule, message: str, image: str, severity: Severity | None = None, path: str = "") -> Finding:
    return Finding(
        rule.id, severity or rule.severity, str(rule.group), message, rule.why, rule.fix, path=path, file=image
    )


def vulnerability(image: str, advisory: str, package: str, installed: str, fixed: list[str], severity: str, where: str):
    """An advisory finding; an unscored one (severity unknown) counts as high, as in the image gate."""
    fix = f"fixed in {', '.join(fixed)}" if fixed else "no fix known"
    message = f"{advisory} ({severity}) in {package} {installed}, {fix}"
    return _finding(RULES[0], message, image, LEVEL.get(severity, Severity.HIGH), path=where)


def not_scanned(image: str, error: str) -> Finding:
    return _finding(RULES[1], f"not scanned: {error}", image)


def exception_problem(where: str, message: str) -> Finding:
    file, _, line = where.rpartition(":")
    rule = RULES[2]
    if not line.isdigit():
        return _finding(rule, message, where)
    return Finding(rule.id, rule.severity, str(rule.group), message, rule.why, rule.fix, file=file, line=int(line))


def build_tools(image: str, tools: list[tuple[str, str, int, str]]) -> list[Finding]:
    """ "No compiler in production" from the image itself: (category, path, layer, package) per tool."""
    out = []
    for category, path, layer, package in tools:
        by = f", installed by {package}" if package else ""
        message = f"{COMPILERS.title}: {category} /{path} in layer {layer}{by}"
        out.append(_finding(COMPILERS, message, image, path=f"/{path}"))
    return out
