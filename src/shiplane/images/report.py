"""Scan results as JSON (for machines and the pipeline) and SARIF 2.1.0 (for code-scanning UIs)."""

from __future__ import annotations

import json
from typing import Any

from shiplane import __version__
from shiplane.images.database import Status
from shiplane.images.exceptions import Exceptions
from shiplane.images.matching import Finding
from shiplane.images.scanning import ImageScan

JSON_VERSION = 1
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "unknown": "warning"}


def _layer(scan: ImageScan, index: int) -> dict[str, Any]:
    layer = next((la for la in scan.layers if la.index == index), None)
    out: dict[str, Any] = {"index": index}
    if layer is not None:
        out |= {k: v for k, v in (("digest", layer.digest), ("diffId", layer.diff_id)) if v}
    return out


def finding_dict(scan: ImageScan, f: Finding) -> dict[str, Any]:
    p = f.package
    package = {"name": p.name, "version": p.version, "type": p.type, "ecosystem": p.ecosystem, "purl": p.purl}
    if p.source_name and p.source_name != p.name:
        package["source"] = {"name": p.source_name, "version": p.source_version}
    out = {
        "id": f.id,
        "aliases": list(f.aliases),
        "severity": f.severity,
        "package": package,
        "installedVersion": f.installed,
        "fixedVersions": list(f.fixed),
        "location": p.location,
        "layer": _layer(scan, p.layer),
        "summary": f.summary,
    }
    if f.score is not None:
        out["cvss"] = {"score": f.score, "vector": f.vector}
    return out


def to_json(status: Status, scans: list[ImageScan], fail_on: str, exceptions: Exceptions | None = None) -> str:
    images = []
    for s in scans:
        if s.error:
            images.append({"image": s.image, "error": s.error, "findings": None})
            continue
        images.append(
            {
                "image": s.image,
                "kind": s.kind,
                "tags": list(s.tags),
                "manifestDigest": s.manifest_digest,
                "configDigest": s.config_digest,
                "os": {k: v for k, v in (("id", s.inventory.os.id), ("versionId", s.inventory.os.version_id)) if v},
                "packages": len(s.inventory.packages),
                "findings": [finding_dict(s, f) for f in s.matches.findings],
                "excepted": [{**finding_dict(s, f), "exception": e.to_dict()} for f, e in s.excepted],
                "failing": len(s.failing(fail_on)),
                "undecided": [
                    {"id": u.advisory, "purl": u.package.purl, "reason": u.reason} for u in s.matches.undecided
                ],
                "notComparable": s.matches.not_comparable,
                "ownedByOS": s.matches.owned_skipped,
                "support": [
                    {
                        "package": n.package.name,
                        "version": n.package.version,
                        "source": n.package.source_name,
                        "status": n.status,
                        "date": n.rule.date or None,
                        "lastSupportedVersion": n.rule.version or None,
                        "details": n.rule.details,
                    }
                    for n in s.support
                ],
                "notes": list(s.inventory.notes),
            }
        )
    doc = {
        "version": JSON_VERSION,
        "tool": {"name": "shiplane", "version": __version__},
        "failOn": fail_on,
        "database": {
            "path": str(status.path),
            "advisories": status.advisories,
            "sources": [{"path": x.path, "importedAt": x.imported_at.isoformat()} for x in status.sources],
        },
        "images": images,
    }
    if exceptions is not None:
        doc["exceptions"] = {
            "source": exceptions.source,
            "active": len(exceptions.active),
            "problems": [p.to_dict() for p in exceptions.problems],
        }
    return json.dumps(doc, indent=2) + "\n"


def to_sarif(scans: list[ImageScan]) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for s in scans:
        accepted = {id(f): e for f, e in s.excepted}
        for f in [*s.matches.findings, *(f for f, _ in s.excepted)]:
            if f.id not in rules:
                rule: dict[str, Any] = {
                    "id": f.id,
                    "shortDescription": {"text": f.summary or f.id},
                    "helpUri": f"https://osv.dev/vulnerability/{f.id}",
                    "properties": {"tags": ["security", "vulnerability"], "aliases": list(f.aliases)},
                }
                if f.score is not None:
                    rule["properties"]["security-severity"] = f"{f.score:.1f}"
                rules[f.id] = rule
            fixed = f" (fixed in {', '.join(f.fixed)})" if f.fixed else " (no fixed version known)"
            results.append(
                {
                    "ruleId": f.id,
                    "level": SARIF_LEVEL[f.severity],
                    "message": {"text": f"{f.package.name} {f.installed} is affected by {f.id}{fixed}: {f.summary}"},
                    "locations": [
                        {
                            "physicalLocation": {"artifactLocation": {"uri": f.package.location.split("!/")[0]}},
                            "logicalLocations": [
                                {
                                    "name": s.image,
                                    "kind": "module",
                                    "fullyQualifiedName": f"{s.image}@layer{f.package.layer}",
                                }
                            ],
                        }
                    ],
                    "partialFingerprints": {"purlAdvisory": f"{f.package.purl}|{f.id}"},
                    **(
                        {"suppressions": [{"kind": "external", "justification": accepted[id(f)].reason}]}
                        if id(f) in accepted
                        else {}
                    ),
                    "properties": {
                        "image": s.image,
                        "purl": f.package.purl,
                        "layer": f.package.layer,
                        "severity": f.severity,
                    },
                }
            )
    unreadable = [
        {"level": "error", "message": {"text": f"{s.image}: cannot be read: {s.error}"}} for s in scans if s.error
    ]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "shiplane-images", "version": __version__, "rules": list(rules.values())}},
                "results": results,
                "invocations": [{"executionSuccessful": not unreadable, "toolExecutionNotifications": unreadable}],
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
