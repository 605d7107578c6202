"""Suppression by annotation, with a mandatory reason.

    metadata:
      annotations:
        check.shiplane.io/ignore: "availability-replicas: singleton by design; host-port: legacy LB"

Entries are `<rule-id>: <reason>` separated by `;` or newlines. An entry without a reason
suppresses nothing and is reported itself, as is an entry naming an unknown rule.
On workloads the pod template's annotations count too: that is where a spec's
`services.<name>.annotations` land, which makes them the spec-side suppression field.
"""

from __future__ import annotations

from dataclasses import dataclass

from shiplane.policy.catalog import Group, Hit, Rule, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, pod_meta

ANNOTATION = "check.shiplane.io/ignore"


@dataclass(frozen=True)
class Entry:
    rule: str
    reason: str
    path: tuple[str | int, ...]  # of the annotation


def parse(text: str, path: tuple[str | int, ...] = ()) -> list[Entry]:
    out = []
    for raw in text.replace("\n", ";").split(";"):
        if not raw.strip():
            continue
        rule_id, _, reason = raw.partition(":")
        out.append(Entry(rule_id.strip(), reason.strip(), path))
    return out


def entries(obj: dict) -> list[Entry]:
    places = [(("metadata",), obj.get("metadata") or {})]
    if obj.get("kind") in WORKLOADS and obj.get("kind") != "Pod":
        places.append(pod_meta(obj))
    out: list[Entry] = []
    for meta_path, meta in places:
        value = (meta.get("annotations") or {}).get(ANNOTATION)
        if value is not None:
            out += parse(str(value), (*meta_path, "annotations", ANNOTATION))
    return out


def valid(obj: dict) -> dict[str, str]:
    """rule id → reason, for the entries that carry a reason."""
    return {e.rule: e.reason for e in entries(obj) if e.reason}


@rule(
    "suppression-reason-missing",
    Group.SUPPRESSIONS,
    Severity.MEDIUM,
    "suppression without a reason",
    why="A suppression must say why the rule does not apply, so reviewers and auditors can judge it.",
    fix=f'Write the reason after the rule id: {ANNOTATION}: "<rule-id>: <reason>".',
)
def reason_missing(obj, ctx):
    for e in entries(obj):
        if not e.reason:
            yield Hit(e.path, f"{e.rule or '(empty)'} is not suppressed")


def unknown_rule_check(known: frozenset[str]):
    @rule(
        "suppression-unknown-rule",
        Group.SUPPRESSIONS,
        Severity.LOW,
        "suppression names an unknown rule",
        why="A misspelt rule id suppresses nothing, so the finding it meant to accept is still reported.",
        fix="Use a rule id from `shiplane check --list-rules`.",
    )
    def unknown(obj, ctx):
        for e in entries(obj):
            if e.rule and e.rule not in known:
                yield Hit(e.path, f"unknown rule {e.rule!r}")

    return unknown


def meta_rules(known: frozenset[str]) -> list[Rule]:
    return [reason_missing, unknown_rule_check(known | {"suppression-unknown-rule", "suppression-reason-missing"})]
