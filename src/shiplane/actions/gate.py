"""The policy gate in the deploy path: refuse on findings at or above a threshold.

An explicit override (rule, optional Kind/name, mandatory reason) lets a deploy
proceed; every override used is recorded in the release history.
"""

from __future__ import annotations

from dataclasses import dataclass

from shiplane import policy
from shiplane.errors import InputError, PolicyRefused  # PolicyRefused: also importable from here, as before


@dataclass(frozen=True)
class Policy:
    """The gate's settings for one deploy: profile, threshold, reasoned overrides (`RULE[:Kind/name]=REASON`).

    The defaults are a stage's defaults, so a library caller that passes nothing is gated too."""

    profile: str = "baseline"
    fail_on: str = "high"
    overrides: tuple[str, ...] = ()
    kubernetes_version: str = "1.36"


def parse_override(text: str) -> policy.Override:
    """`RULE=REASON` or `RULE:Kind/name=REASON`."""
    target, sep, reason = text.partition("=")
    if not sep or not reason.strip():
        raise InputError(f"--override {text!r}: expected RULE=REASON or RULE:Kind/name=REASON (a reason is required)")
    rule, _, obj = target.partition(":")
    ref = None
    if obj:
        kind, slash, name = obj.partition("/")
        if not slash or not kind or not name:
            raise InputError(f"--override {text!r}: the object must be written Kind/name")
        ref = policy.ObjectRef(kind, name)
    if rule not in policy.RULES_BY_ID:
        raise InputError(f"--override {text!r}: no policy rule {rule!r} (see `shiplane check --list-rules`)")
    return policy.Override(rule, reason.strip(), ref)


def check(
    objects: list[dict], *, kubernetes_version: str, profile: str, fail_on: str, overrides: list[str]
) -> list[dict]:
    """Raise PolicyRefused listing every failing finding; return the overrides to record."""
    parsed = [parse_override(o) for o in overrides]
    report = policy.evaluate(objects, profile=profile, kubernetes_version=kubernetes_version, overrides=parsed)
    if fail_on != "never":
        failing = report.failing(fail_on)
        if failing:
            lines = [f"[{f.severity}] {f.rule} {f.object or ''}: {f.message}" for f in failing]
            raise PolicyRefused(
                f"policy ({profile}) refuses this deploy: {len(failing)} finding(s) at or above {fail_on}:\n  "
                + "\n  ".join(lines),
                hint="fix them, suppress with a reasoned annotation check.shiplane.io/ignore, or deploy with "
                "--override RULE[:Kind/name]=REASON (recorded in the history)",
            )
    used = [s for s in report.suppressed if s.source == "override"]
    return [{"rule": s.finding.rule, "object": str(s.finding.object or ""), "reason": s.reason} for s in used]


def enforce(objects: list[dict], settings: Policy) -> list[dict]:
    """`check` with one deploy's settings (what `Deploy` runs before its first write)."""
    return check(
        objects,
        kubernetes_version=settings.kubernetes_version,
        profile=settings.profile,
        fail_on=settings.fail_on,
        overrides=list(settings.overrides),
    )
