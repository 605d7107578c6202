"""Distro advisory feeds converted to OSV records at import: the Debian security tracker JSON
(security-tracker.debian.org/tracker/data/json) and Alpine secdb (secdb.alpinelinux.org/vX.Y/main.json).

Records are named as osv.dev names its conversions of the same feeds (DEBIAN-CVE-…, ALPINE-CVE-…),
with the CVE as an alias, one record per CVE listing every affected source package.
"""

from __future__ import annotations

import re
from typing import Any

# Debian release codenames -> the version number OSV ecosystems use ("Debian:12").
DEBIAN_RELEASES = {"stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"}


def kind(doc: Any) -> str:
    """'osv', 'debian-tracker', 'alpine-secdb' or '' for anything else."""
    if isinstance(doc, dict) and isinstance(doc.get("id"), str):
        return "osv"
    if isinstance(doc, dict) and isinstance(doc.get("packages"), list) and "distroversion" in doc:
        return "alpine-secdb"
    if isinstance(doc, dict) and doc and all(isinstance(v, dict) for v in doc.values()):
        sample = next(iter(doc.values()))
        if sample and all(isinstance(v, dict) and "releases" in v for v in sample.values()):
            return "debian-tracker"
    return ""


def _urgency(text: str) -> str:
    word = re.sub(r"[^a-z ]", "", str(text).lower()).strip()
    return {"unimportant": "low", "low": "low", "medium": "medium", "high": "high"}.get(word, "")


def debian_tracker(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Resolved issues become `fixed` ranges, open ones affect every version; `undetermined`,
    unknown releases and `fixed_version: 0` (never affected) are left out."""
    records: dict[str, dict[str, Any]] = {}
    for source, issues in doc.items():
        for issue, info in issues.items():
            for codename, rel in (info.get("releases") or {}).items():
                number = DEBIAN_RELEASES.get(codename)
                if number is None or not isinstance(rel, dict):
                    continue
                status, fixed = rel.get("status"), str(rel.get("fixed_version") or "")
                if status == "resolved" and fixed and fixed != "0":
                    events: list[dict[str, str]] = [{"introduced": "0"}, {"fixed": fixed}]
                elif status == "open":
                    events = [{"introduced": "0"}]
                else:
                    continue
                record = records.setdefault(
                    issue,
                    {
                        "id": f"DEBIAN-{issue}",
                        "aliases": [issue] if issue.startswith("CVE-") else [],
                        "summary": str(info.get("description") or "").strip(),
                        "affected": [],
                    },
                )
                entry: dict[str, Any] = {
                    "package": {"ecosystem": f"Debian:{number}", "name": source},
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                }
                if severity := _urgency(rel.get("urgency", "")):
                    entry["database_specific"] = {"severity": severity}
                record["affected"].append(entry)
    return list(records.values())


def alpine_secdb(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """`secfixes: {version: [CVE…]}` per origin package; version "0" means never affected there."""
    branch = str(doc.get("distroversion") or "").strip()
    ecosystem = f"Alpine:{branch}" if branch else "Alpine"
    records: dict[str, dict[str, Any]] = {}
    for item in doc.get("packages") or []:
        pkg = (item or {}).get("pkg") or {}
        name = pkg.get("name")
        if not isinstance(name, str):
            continue
        for version, ids in (pkg.get("secfixes") or {}).items():
            if str(version) == "0":
                continue
            for text in ids or []:
                for issue in str(text).split():
                    record = records.setdefault(
                        issue,
                        {
                            "id": f"ALPINE-{issue}",
                            "aliases": [issue] if issue.startswith("CVE-") else [],
                            "affected": [],
                        },
                    )
                    record["affected"].append(
                        {
                            "package": {"ecosystem": ecosystem, "name": name},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": str(version)}]}],
                        }
                    )
    return list(records.values())
