"""The image-audit gate in the deploy path: scan every image a stage runs, refuse on findings.

Off unless the stage opts in (`images.failOn`, default "never"). Each image's inventory is cached by
digest under the cache dir; advisories are matched afresh on every run. An image that cannot be read
(no registry access, not found) is never taken as clean: with a threshold set it fails the gate unless
overridden. Overrides have the policy gate's shape, `ID[:IMAGE]=REASON` (ID an advisory id or alias,
`*` for any finding, `unreadable` for an image that cannot be read), and are recorded with the release
next to the policy overrides; the scan summary goes into the release record too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shiplane import events
from shiplane.errors import InputError, PolicyRefused

if TYPE_CHECKING:  # the images package loads only when a stage opts in (deploy's import stays light)
    from shiplane.images.exceptions import Problem
    from shiplane.images.matching import Finding
    from shiplane.images.scanning import ImageScan

LEVELS = ("info", "low", "medium", "high", "critical", "never")


@dataclass(frozen=True)
class ImageGate:
    """One deploy's image-gate settings; the defaults change nothing (no image is read)."""

    fail_on: str = "never"
    exceptions: Path | None = None  # reasoned exceptions file (shiplane YAML or OpenVEX)
    allow: tuple[str, ...] = ()  # overrides: ID[:IMAGE]=REASON
    insecure: frozenset[str] = frozenset()  # registry hosts spoken to over plain HTTP
    db: Path | None = None
    cache: Path | None = None  # default: image-scans/ beside the advisory database
    platform: str | None = None
    write_cache: bool = True  # False for a dry-run, which writes nothing anywhere (the cache is still read)


@dataclass(frozen=True)
class Allow:
    id: str
    image: str
    reason: str

    def covers(self, image: str, ids: set[str]) -> bool:
        return (not self.image or self.image == image) and (self.id == "*" or self.id.upper() in ids)


def parse_allow(text: str) -> Allow:
    target, sep, reason = text.partition("=")
    if not sep or not reason.strip() or not target.strip():
        raise InputError(
            f"--allow-image-finding {text!r}: expected ID=REASON or ID:IMAGE=REASON (a reason is required)",
            hint="ID is an advisory id or alias, * for any finding, or unreadable for an image that cannot be read",
        )
    ident, _, image = target.partition(":")
    return Allow(ident.strip(), image.strip(), reason.strip())


@dataclass
class Audit:
    """What the gate saw: per image its scan, what fails, what an override let through."""

    fail_on: str
    scans: list[tuple[str, ImageScan]] = field(default_factory=list)  # (image reference, scan)
    failing: list[str] = field(default_factory=list)  # one line per refusing finding
    used: list[dict] = field(default_factory=list)  # overrides used, recorded like policy overrides
    problems: tuple[Problem, ...] = ()
    database: str = ""

    def summary(self) -> dict[str, Any]:
        """The release record's `image_audit`: per image digest, counts, what failed or was allowed."""
        images = []
        for ref, s in self.scans:
            if s.error:
                images.append({"image": ref, "scanned": False, "error": s.error})
                continue
            counts: dict[str, int] = {}
            for f in s.matches.findings:
                counts[f.severity] = counts.get(f.severity, 0) + 1
            images.append(
                {
                    "image": ref,
                    "scanned": True,
                    "digest": s.manifest_digest or s.config_digest,
                    "packages": len(s.inventory.packages),
                    "findings": counts,
                    "excepted": [{"id": f.id, "package": f.package.name, "reason": e.reason} for f, e in s.excepted],
                }
            )
        return {
            "failOn": self.fail_on,
            "database": self.database,
            "images": images,
            "exceptionProblems": [p.to_dict() for p in self.problems],
            "failing": list(self.failing),
        }


def _ids(f: Finding) -> set[str]:
    return {f.id.upper(), *(a.upper() for a in f.aliases)}


def audit(images: list[str], settings: ImageGate, threshold: str) -> Generator[events.Event, None, Audit]:
    """Scan each distinct image (pure decisions over the scans; reading is `images.scanning`'s)."""
    from shiplane.images import exceptions as exc
    from shiplane.images.database import Database, default_path
    from shiplane.images.scanning import scan
    from shiplane.images.severity import GATE_RANK

    allows = [parse_allow(a) for a in settings.allow]
    accepted = exc.load(settings.exceptions) if settings.exceptions is not None else None
    database = Database(settings.db)
    cache = settings.cache or default_path().parent / "image-scans"
    status, scans = yield from scan(
        list(dict.fromkeys(images)),
        database,
        platform=settings.platform,
        max_age=dt.timedelta(days=7),
        exceptions=accepted,
        cache=cache,
        write_cache=settings.write_cache,
        insecure=settings.insecure,
    )
    result = Audit(threshold, database=str(status.path))
    result.problems = accepted.problems if accepted else ()
    bar = GATE_RANK.get(threshold)
    used: dict[tuple[str, str, str], dict] = {}

    def allowed(image: str, ids: set[str]) -> bool:
        for a in allows:
            if a.covers(image, ids):
                used[(a.id, image, a.reason)] = {"rule": f"images:{a.id}", "object": image, "reason": a.reason}
                return True
        return False

    for s in scans:
        image = str(s.image)
        result.scans.append((image, s))
        if bar is None:
            continue
        if s.error:
            if not allowed(image, {"UNREADABLE"}):
                result.failing.append(f"{image}: not scanned: {s.error}")
            continue
        for f in s.matches.findings:
            if GATE_RANK[f.severity] >= bar and not allowed(image, _ids(f)):
                fixed = f"fixed in {', '.join(f.fixed)}" if f.fixed else "no fix known"
                result.failing.append(f"{image}: [{f.severity}] {f.id} in {f.package.name} {f.installed} ({fixed})")
    if bar is not None:
        result.failing += [f"{p.where}: {p.message}" for p in result.problems if GATE_RANK[p.severity] >= bar]
    result.used = list(used.values())
    return result


def enforce(objects: list[dict], settings: ImageGate) -> Generator[events.Event, None, dict]:
    """The gate: nothing at all unless `fail_on` is set; else PolicyRefused (exit 5) listing what fails,
    before anything is applied. Returns the summary for the release record (with the overrides used)."""
    if settings.fail_on == "never":
        return {}
    from shiplane.actions.deploy import images_of

    refs = sorted(set(images_of(objects).values()))
    yield events.Step(f"image audit: {len(refs)} image(s), fail on {settings.fail_on}")
    # "info" has no advisory equivalent: everything counts.
    result = yield from audit(refs, settings, "low" if settings.fail_on == "info" else settings.fail_on)
    yield events.Step(f"image audit: {len(refs)} image(s), fail on {settings.fail_on}", done=True)
    if result.failing:
        raise PolicyRefused(
            f"image audit refuses this deploy: {len(result.failing)} problem(s) at or above {settings.fail_on}:\n  "
            + "\n  ".join(result.failing),
            hint="upgrade the image, accept a finding in the stage's images.exceptions file (with a reason and an "
            "expiry), or deploy with --allow-image-finding ID[:IMAGE]=REASON (recorded in the history)",
        )
    return {**result.summary(), "overrides": result.used}
