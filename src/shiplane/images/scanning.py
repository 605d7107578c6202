"""Scan images: read, inventory, look every package up in the advisory index, match."""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from shiplane import events
from shiplane.images import inventory as inv
from shiplane.images import matching, support
from shiplane.images.database import Database, Status
from shiplane.images.errors import ImageError
from shiplane.images.exceptions import Exception_, Exceptions
from shiplane.images.filesystem import LayerInfo, Limits
from shiplane.images.reading import read
from shiplane.images.severity import GATE_RANK

THRESHOLDS = ("low", "medium", "high", "critical", "never")


@dataclass(frozen=True)
class ImageScan:
    image: str
    kind: str
    tags: tuple[str, ...]
    manifest_digest: str | None
    config_digest: str | None
    layers: tuple[LayerInfo, ...]
    inventory: inv.Inventory
    matches: matching.Matches
    support: tuple[support.Notice, ...] = ()
    error: str = ""  # the image could not be read: reported as such, never as clean
    excepted: tuple[tuple[matching.Finding, Exception_], ...] = ()  # accepted by a reasoned exception

    def failing(self, threshold: str) -> list[matching.Finding]:
        if threshold == "never":
            return []
        bar = GATE_RANK[threshold]
        return [f for f in self.matches.findings if GATE_RANK[f.severity] >= bar]


def scan(
    paths: list[str | Path],
    database: Database,
    *,
    limits: Limits | None = None,
    platform: str | None = None,
    max_age: dt.timedelta | None = None,
    exceptions: Exceptions | None = None,
) -> Generator[events.Event, None, tuple[Status, list[ImageScan]]]:
    """Scan each image; DatabaseMissing (exit 3) before any image is read when there is no data."""
    status = database.require()
    oldest = status.oldest
    if max_age is not None and oldest is not None and oldest.age() > max_age:
        yield events.Note(
            f"advisory data from {oldest.path} was imported {oldest.age().days} days ago "
            f"(older than {max_age.days} days): re-import it for recent advisories"
        )
    rules = database.support_rules()
    out = []
    for path in paths:
        yield events.Step(f"scan {path}")
        try:
            image = yield from read(path, limits=limits, wanted=inv.WANTED, platform=platform)
            try:
                found = inv.take(image.fs)
            finally:
                image.close()
        except ImageError as err:
            # One unreadable image does not hide the results of the others; the CLI exits 2.
            out.append(
                ImageScan(
                    str(path),
                    "",
                    (),
                    None,
                    None,
                    (),
                    inv.Inventory(inv.OSRelease(), ()),
                    matching.Matches(),
                    (),
                    str(err),
                )
            )
            yield events.Step(f"scan {path}: cannot be read", done=True)
            continue
        keys = [matching.lookup_key(p) for p in found.packages]
        matches = matching.match(found.packages, database.lookup(keys))
        excepted = []
        if exceptions is not None and exceptions.active:
            kept = []
            for f in matches.findings:
                exc = exceptions.find(f)
                if exc is None:
                    kept.append(f)
                else:
                    excepted.append((f, exc))
            matches.findings = kept
        src = image.source
        out.append(
            ImageScan(
                str(path),
                src.kind,
                tuple(src.tags),
                src.manifest_digest,
                src.config_digest,
                tuple(image.fs.layers),
                found,
                matches,
                tuple(support.check(list(found.packages), found.os.id, found.os.version_id, rules)),
                excepted=tuple(excepted),
            )
        )
        yield events.Step(f"scan {path}: {len(found.packages)} packages, {len(matches.findings)} findings", done=True)
    return status, out
