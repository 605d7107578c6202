"""Scan images: read, inventory, look every package up in the advisory index, match."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from shiplane import events
from shiplane.errors import RegistryError
from shiplane.images import inventory as inv
from shiplane.images import layout, lean, matching, support
from shiplane.images.database import Database, Status
from shiplane.images.errors import ImageError
from shiplane.images.exceptions import Exception_, Exceptions
from shiplane.images.filesystem import LayerInfo, Limits
from shiplane.images.inventory.distro import owned_files
from shiplane.images.lean import Tool
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
    tools: tuple[Tool, ...] = ()  # compilers, build tools, package managers, shells (the lean report's)

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
    cache: Path | None = None,
    insecure: frozenset[str] = frozenset(),
    write_cache: bool = True,
) -> Generator[events.Event, None, tuple[Status, list[ImageScan]]]:
    """Scan each image; DatabaseMissing (exit 3) before any image is read when there is no data.

    With `cache` (a directory), each image's inventory is kept there by digest: an image seen before
    is not read again (advisories are still matched afresh, the database may have changed)."""
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
            src, layers, found, tools = yield from _inventory(path, limits, platform, cache, insecure, write_cache)
        except (ImageError, RegistryError) as err:
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
        out.append(
            ImageScan(
                str(path),
                src.kind,
                tuple(src.tags),
                src.manifest_digest,
                src.config_digest,
                layers,
                found,
                matches,
                tuple(support.check(list(found.packages), found.os.id, found.os.version_id, rules)),
                excepted=tuple(excepted),
                tools=tools,
            )
        )
        yield events.Step(f"scan {path}: {len(found.packages)} packages, {len(matches.findings)} findings", done=True)
    return status, out


CACHE_VERSION = 2


def _inventory(
    path: str | Path,
    limits: Limits | None,
    platform: str | None,
    cache: Path | None,
    insecure: frozenset[str],
    write_cache: bool = True,
) -> Generator[events.Event, None, tuple[layout.ImageSource, tuple[LayerInfo, ...], inv.Inventory, tuple[Tool, ...]]]:
    """(source, layers, inventory, tools) of one image, from the cache when its digest was seen before."""
    source = layout.find(path, platform, insecure)
    key = source.manifest_digest or source.config_digest
    file = cache / f"{key.replace(':', '-')}.json" if cache is not None and key else None
    if file is not None and file.is_file():
        try:
            doc = json.loads(file.read_text())
            if doc.get("version") == CACHE_VERSION and doc.get("key") == key:
                if source.store is not None:
                    source.store.close()
                yield events.Note(f"{path}: inventory of {key} taken from the cache")
                layers = tuple(LayerInfo(**la) for la in doc["layers"])
                tools = tuple(Tool(**t) for t in doc["tools"])
                return source, layers, inv.Inventory.from_dict(doc["inventory"]), tools
        except (OSError, ValueError, TypeError, KeyError):
            pass  # a damaged cache entry is read again and rewritten
    image = yield from read(
        path, limits=limits, wanted=inv.WANTED, platform=platform, source=source, inspect=inv.INSPECT
    )
    try:
        found = inv.take(image.fs)
        tools = lean.report(image.fs, source.config, owned_files(image.fs)).tools
    finally:
        image.close()
    layers = tuple(image.fs.layers)
    if file is not None and write_cache:
        doc = {
            "version": CACHE_VERSION,
            "key": key,
            "layers": [dataclasses.asdict(la) for la in layers],
            "inventory": found.to_dict(),
            "tools": [dataclasses.asdict(t) for t in tools],
        }
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, file)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return source, layers, found, tools
