"""The engine: run the profile's rules over every object, locate hits, apply suppressions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from shiplane.errors import InputErrors
from shiplane.policy import shape, suppressions
from shiplane.policy.catalog import Rule
from shiplane.policy.context import Context, name, ns, parse_version
from shiplane.policy.findings import Finding, ObjectRef, Override, Report, Suppressed
from shiplane.policy.manifests import Manifest, gc_paused
from shiplane.policy.profiles import Profile, get
from shiplane.policy.rules import RULES as MANIFEST_RULES

RULES: list[Rule] = [*MANIFEST_RULES, *suppressions.meta_rules(frozenset(r.id for r in MANIFEST_RULES))]
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def format_path(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part or "/" in part:
            out += f'["{part}"]'
        else:
            out += f".{part}" if out else part
    return out


def ref(obj: dict[str, Any]) -> ObjectRef:
    kind = obj.get("kind")
    return ObjectRef(kind if isinstance(kind, str) else "?", name(obj), ns(obj))


def _where(m: Manifest, path: Sequence[str | int]) -> str:
    if not m.file:
        return ""
    line = m.line_of(tuple(path))
    return f"{m.file}:{line}: " if line else f"{m.file}: "


def _as_manifest(o: dict[str, Any] | Manifest) -> Manifest:
    return o if isinstance(o, Manifest) else Manifest(o)


def evaluate(
    objects: Iterable[dict[str, Any] | Manifest],
    *,
    profile: str | Profile = "baseline",
    kubernetes_version: str = "1.36",
    overrides: Iterable[Override] = (),
) -> Report:
    """Check `objects` (plain dicts, or Manifests that know their file and lines).

    Pure: no I/O. Findings at or above a threshold are `report.failing(threshold)`;
    `overrides` accept findings with a recorded reason (the deploy gate's --override).
    """
    with gc_paused():
        return _evaluate(objects, profile, kubernetes_version, overrides)


def _evaluate(
    objects: Iterable[dict[str, Any] | Manifest],
    profile: str | Profile,
    kubernetes_version: str,
    overrides: Iterable[Override],
) -> Report:
    prof = get(profile)
    manifests = [_as_manifest(o) for o in objects]
    version = parse_version(kubernetes_version)
    malformed = [
        f"{_where(m, path)}{ref(m.obj)}: {format_path(path) or '(object)'}: {what}"
        for m in manifests
        for path, what in shape.problems(m.obj)
    ]
    if malformed:
        raise InputErrors(malformed, hint="Kubernetes would reject these objects; fix the fields named above")
    manifests = [Manifest(shape.normalized(m.obj), m.file, m.line, m.lines) for m in manifests]
    ctx = Context([m.obj for m in manifests], version, prof.pss_version or version)
    active = [(r, sev) for r in RULES if (sev := prof.severity(r)) is not None]
    overrides = list(overrides)
    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    problems: list[str] = []
    by_kind: dict[str, list[tuple[Rule, Any]]] = {}  # the active rules that apply to each kind
    for m in manifests:
        kind = m.obj.get("kind", "")
        rules = by_kind.get(kind)
        if rules is None:
            rules = by_kind[kind] = [(r, sev) for r, sev in active if r.applies_to(kind)]
        accepted = suppressions.valid(m.obj)
        obj_ref = ref(m.obj)
        for r, severity in rules:
            try:
                hits = list(r.check(m.obj, ctx))
            except (AttributeError, TypeError, KeyError, ValueError, ArithmeticError) as err:
                # Shape-checked objects should not get here; if one does, it is still bad input, not a crash.
                problems.append(f"{_where(m, ())}{obj_ref}: malformed object ({r.id} could not read it: {err})")
                break
            for hit in hits:
                f = Finding(
                    rule=r.id,
                    severity=severity,
                    group=str(r.group),
                    message=f"{r.title}: {hit.detail}" if hit.detail else r.title,
                    why=r.why,
                    fix=r.fix,
                    object=obj_ref,
                    path=format_path(hit.path),
                    file=m.file,
                    line=m.line_of(hit.path),
                )
                if r.id in accepted:
                    suppressed.append(Suppressed(f, accepted[r.id], "annotation"))
                elif over := next((o for o in overrides if o.matches(f)), None):
                    suppressed.append(Suppressed(f, over.reason, "override"))
                else:
                    findings.append(f)
    if problems:
        raise InputErrors(problems)
    return Report(
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        suppressed=tuple(suppressed),
        objects=len(manifests),
        profile=prof.label,
        kubernetes_version=f"{version[0]}.{version[1]}",
        rules_run=tuple(r.id for r, _ in active),
    )
