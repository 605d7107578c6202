"""Severity of an advisory: the CVSS base score of its vectors (v3.x or v4), else what the
database says in words, else "unknown"."""

from __future__ import annotations

from typing import Any

LEVELS = ("unknown", "low", "medium", "high", "critical")
# For gates and ordering an advisory without any score counts as high: unknown is not harmless.
GATE_RANK = {"unknown": 3, "low": 1, "medium": 2, "high": 3, "critical": 4}
RANK = {"none": 0, "unknown": 0, "low": 1, "medium": 2, "moderate": 2, "high": 3, "important": 3, "critical": 4}


def from_score(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0:
        return "low"
    return "unknown"


def cvss_score(kind: str, vector: str) -> float | None:
    try:
        if kind == "CVSS_V3":
            from cvss import CVSS3

            return float(CVSS3(vector).scores()[0])
        if kind == "CVSS_V4":
            from cvss import CVSS4

            return float(CVSS4(vector).base_score)
    except Exception:
        return None
    return None


def of(advisory: dict[str, Any], affected: dict[str, Any] | None = None) -> tuple[str, float | None, str]:
    """(level, score, vector) of an advisory; per-package severity wins over the record's own."""
    entries = [*((affected or {}).get("severity") or []), *(advisory.get("severity") or [])]
    best: tuple[float, str] | None = None
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        score = cvss_score(str(entry.get("type")), str(entry.get("score")))
        if score is not None and (best is None or score > best[0]):
            best = (score, str(entry.get("score")))
    if best is not None:
        return from_score(best[0]), best[0], best[1]
    for where in ((affected or {}).get("database_specific") or {}, advisory.get("database_specific") or {}):
        word = str(where.get("severity", "")).lower() if isinstance(where, dict) else ""
        if word in RANK:
            return LEVELS[RANK[word]], None, ""
    return "unknown", None, ""
