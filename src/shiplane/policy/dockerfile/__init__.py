"""Dockerfile lint: `lint_text(text, path) -> Report`; `lint_file(path)` is the edge that reads.

Inline suppression, on the comment lines right above an instruction, reason mandatory:

    # shiplane ignore=DL3008,DL3015 the distro pins these through its snapshot mirror
    RUN apt-get install -y curl
"""

from __future__ import annotations

import re

from shiplane.fileio import reading
from shiplane.policy.catalog import Rule
from shiplane.policy.dockerfile.parsing import Dockerfile, Instruction, parse
from shiplane.policy.dockerfile.rules import RULES
from shiplane.policy.findings import Finding, Report, Severity, Suppressed
from shiplane.policy.suppressions import reason_missing

__all__ = ["RULES", "lint_file", "lint_text"]

_IGNORE = re.compile(r"^shiplane\s+ignore=([\w.,-]+)\s*(.*)$")
_KNOWN = {r.id for r in RULES}


def _finding(rule: Rule, ins_line: int, detail: str, path: str, severity: Severity | None = None) -> Finding:
    return Finding(
        rule=rule.id,
        severity=severity or rule.severity,
        group=str(rule.group),
        message=f"{rule.title}: {detail}" if detail else rule.title,
        why=rule.why,
        fix=rule.fix,
        path="",
        file=path,
        line=ins_line,
    )


def _ignores(ins: Instruction, path: str, problems: list[Finding]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line, text in ins.comments:
        m = _IGNORE.match(text)
        if not m:
            continue
        ids, reason = [x for x in m.group(1).split(",") if x], m.group(2).strip()
        for rule_id in ids:
            if rule_id not in _KNOWN:
                problems.append(
                    Finding(
                        "suppression-unknown-rule",
                        Severity.LOW,
                        "suppressions",
                        f"suppression names an unknown rule: {rule_id!r}",
                        "A misspelt rule id suppresses nothing.",
                        "Use a rule id from `shiplane check --list-rules`.",
                        file=path,
                        line=line,
                    )
                )
            elif not reason:
                problems.append(_finding(reason_missing, line, f"{rule_id} is not suppressed", path))
            else:
                out[rule_id] = reason
    return out


def lint(df: Dockerfile) -> Report:
    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    problems: list[Finding] = []
    ignores: dict[int, dict[str, str]] = {}
    for stage in df.stages:
        for ins in (*df.args_before_from, *stage.instructions):
            ignores.setdefault(ins.line, _ignores(ins, df.path, problems))
    for rule in RULES:
        for ins, detail in rule.check(df):
            f = _finding(rule, ins.line, detail, df.path)
            reason = ignores.get(ins.line, {}).get(rule.id)
            if reason:
                suppressed.append(Suppressed(f, reason, "inline"))
            else:
                findings.append(f)
    unique = list(dict.fromkeys([*findings, *problems]))  # one finding per rule and line
    return Report(
        findings=tuple(sorted(unique, key=Finding.sort_key)),
        suppressed=tuple(dict.fromkeys(suppressed)),
        dockerfiles=1,
        rules_run=tuple(r.id for r in RULES),
    )


def lint_text(text: str, path: str) -> Report:
    return lint(parse(text, path))


_MAX_DOCKERFILE = 4 * 1024 * 1024


def lint_file(path: str) -> Report:
    text = reading.read_text(path, what="Dockerfile", limit=_MAX_DOCKERFILE)
    return lint_text(text, path)
