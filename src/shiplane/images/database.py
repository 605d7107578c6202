"""The local advisory index: OSV records from files, folders and `all.zip` into SQLite.

One row per advisory (the OSV document kept whole) and one per affected package, keyed by the
normalised ecosystem and package name the matcher looks up. Every import is a `source` (the path
given, when, how many); importing the same path again replaces what it brought before.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import sqlite3
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shiplane import events
from shiplane.errors import InputError
from shiplane.images import support
from shiplane.images.errors import DatabaseMissing

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, imported_at TEXT NOT NULL, advisories INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS advisories (
    id TEXT PRIMARY KEY, source INTEGER NOT NULL, modified TEXT, withdrawn TEXT, aliases TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS affected (
    advisory TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL, entry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS affected_by_package ON affected (ecosystem, name);
CREATE INDEX IF NOT EXISTS advisories_by_source ON advisories (source);
CREATE TABLE IF NOT EXISTS support (
    source INTEGER NOT NULL, kind TEXT NOT NULL, release TEXT NOT NULL, pattern TEXT NOT NULL, version TEXT,
    date TEXT, details TEXT);
"""
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def default_path() -> Path:
    """$SHIPLANE_CACHE/advisories.db, else $XDG_CACHE_HOME/shiplane/..., else ~/.cache/shiplane/..."""
    if explicit := os.environ.get("SHIPLANE_CACHE"):
        return Path(explicit) / "advisories.db"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shiplane" / "advisories.db"


def ecosystem_key(ecosystem: str) -> str:
    """'Debian:12' -> 'debian:12', 'PyPI' -> 'pypi'; the release suffix is kept (advisories differ per release)."""
    return ecosystem.strip().lower()


def name_key(ecosystem: str, name: str) -> str:
    base = ecosystem.split(":", 1)[0].lower()
    if base == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


@dataclass(frozen=True)
class Source:
    path: str
    imported_at: dt.datetime
    advisories: int

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        return (now or dt.datetime.now(dt.UTC)) - self.imported_at


@dataclass(frozen=True)
class Status:
    path: Path
    sources: tuple[Source, ...]
    advisories: int
    by_ecosystem: dict[str, int]
    support_lines: int = 0

    @property
    def oldest(self) -> Source | None:
        return min(self.sources, key=lambda s: s.imported_at, default=None)


def _documents(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every OSV file under `path`: a file, a folder (recursively) or a zip."""
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = Path(root, name)
                if name.endswith(".zip"):
                    yield from _documents(full)
                elif name.endswith((".json", ".yaml", ".yml")) or support.is_list(name):
                    yield str(full), full.read_bytes()
        return
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    wanted = info.filename.endswith((".json", ".yaml", ".yml")) or support.is_list(info.filename)
                    if wanted and not info.is_dir():
                        yield f"{path}!/{info.filename}", zf.read(info)
        except zipfile.BadZipFile as err:
            raise InputError(f"{path}: not a readable zip archive ({err})") from None
        return
    yield str(path), path.read_bytes()


def _parse(name: str, data: bytes) -> list[dict[str, Any]]:
    is_yaml = name.endswith((".yaml", ".yml"))
    try:
        doc = yaml.load(io.BytesIO(data), Loader=YAML_LOADER) if is_yaml else json.loads(data)  # safe loaders only
    except (ValueError, yaml.YAMLError) as err:
        raise InputError(f"{name}: not valid {'YAML' if is_yaml else 'JSON'}: {err}") from None
    from shiplane.images import feeds

    docs = doc if isinstance(doc, list) else [doc]
    if len(docs) == 1 and feeds.kind(docs[0]) == "debian-tracker":
        return feeds.debian_tracker(docs[0])
    if len(docs) == 1 and feeds.kind(docs[0]) == "alpine-secdb":
        return feeds.alpine_secdb(docs[0])
    out = []
    for d in docs:
        if not isinstance(d, dict) or not isinstance(d.get("id"), str):
            raise InputError(
                f"{name}: not an OSV record, a Debian security tracker file or an Alpine secdb file "
                "(expected an object with a string 'id')"
            )
        if not isinstance(d.get("affected", []), list):
            raise InputError(f"{name}: {d['id']}: 'affected' must be a list")
        out.append(d)
    return out


def _default(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):  # YAML timestamps
        return value.isoformat()
    raise TypeError(type(value).__name__)


class Database:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def _connect(self, create: bool = False) -> sqlite3.Connection:
        if not create and not self.path.exists():
            raise DatabaseMissing(
                f"no advisory database at {self.path}",
                hint="import OSV data first: shiplane images db import PATH (files, folders or all.zip)",
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        conn.executescript(SCHEMA)
        return conn

    def import_paths(
        self, paths: Iterable[Path], now: dt.datetime | None = None, dry_run: bool = False
    ) -> Generator[events.Event, None, int]:
        """Import each path as one source (in one transaction per path); returns the advisories read.

        With `dry_run` every record is read and checked, nothing is written (no database is created)."""
        now = now or dt.datetime.now(dt.UTC)
        total = 0
        paths = list(paths)
        for p in paths:
            if not p.exists():
                raise InputError(f"{p}: no such file or directory", hint="give OSV JSON/YAML files, folders or all.zip")
        if dry_run:
            for p in paths:
                count = sum(len(_parse(name, data)) for name, data in _documents(p) if not support.is_list(name))
                yield events.Step(f"would import {p.resolve()}: {count} advisories", done=True)
                total += count
            return total
        conn = self._connect(create=True)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for p in paths:
                label = str(p.resolve())
                yield events.Step(f"import {label}")
                with conn:
                    row = conn.execute("SELECT id FROM sources WHERE path = ?", (label,)).fetchone()
                    if row:
                        source_id = row[0]
                        conn.execute(
                            "DELETE FROM affected WHERE advisory IN (SELECT id FROM advisories WHERE source = ?)",
                            (source_id,),
                        )
                        conn.execute("DELETE FROM advisories WHERE source = ?", (source_id,))
                        conn.execute("DELETE FROM support WHERE source = ?", (source_id,))
                    else:
                        source_id = conn.execute(
                            "INSERT INTO sources (path, imported_at, advisories) VALUES (?, ?, 0)",
                            (label, now.isoformat()),
                        ).lastrowid
                    count = 0
                    adv_rows, aff_rows, support_rows = [], [], []
                    for name, data in _documents(p):
                        if support.is_list(name):
                            rules = support.parse(name, data.decode("utf-8", "replace"))
                            support_rows += [
                                (source_id, r.kind, r.release, r.pattern, r.version, r.date, r.details) for r in rules
                            ]
                            continue
                        for doc in _parse(name, data):
                            count += 1
                            adv_rows.append(self._advisory_row(doc, source_id))
                            aff_rows += self._affected_rows(doc)
                            if count % 1000 == 0:
                                yield events.Progress(
                                    f"import {p.name}", count, None, item=doc["id"], unit="advisories"
                                )
                    ids = [r[0] for r in adv_rows]
                    # An advisory id seen before (from this or another source) is replaced by the newest import.
                    for chunk in range(0, len(ids), 500):
                        part = ids[chunk : chunk + 500]
                        marks = ",".join("?" * len(part))
                        conn.execute(f"DELETE FROM affected WHERE advisory IN ({marks})", part)
                    conn.executemany("INSERT OR REPLACE INTO advisories VALUES (?, ?, ?, ?, ?, ?)", adv_rows)
                    conn.executemany("INSERT INTO affected VALUES (?, ?, ?, ?)", aff_rows)
                    conn.executemany("INSERT INTO support VALUES (?, ?, ?, ?, ?, ?, ?)", support_rows)
                    conn.execute(
                        "UPDATE sources SET imported_at = ?, advisories = ? WHERE id = ?",
                        (now.isoformat(), count, source_id),
                    )
                total += count
                extra = f", {len(support_rows)} support-status lines" if support_rows else ""
                yield events.Step(f"import {label}: {count} advisories{extra}", done=True)
        finally:
            conn.close()
        return total

    @staticmethod
    def _advisory_row(doc: dict[str, Any], source_id: int) -> tuple:
        return (
            doc["id"],
            source_id,
            str(doc.get("modified") or ""),
            str(doc.get("withdrawn") or "") or None,
            json.dumps(doc.get("aliases") or []),
            json.dumps(doc, default=_default, separators=(",", ":")),
        )

    @staticmethod
    def _affected_rows(doc: dict[str, Any]) -> list[tuple]:
        rows = []
        for aff in doc.get("affected") or []:
            pkg = (aff.get("package") or {}) if isinstance(aff, dict) else {}
            eco, name = pkg.get("ecosystem"), pkg.get("name")
            if not isinstance(eco, str) or not isinstance(name, str):
                continue
            entry = json.dumps(aff, default=_default, separators=(",", ":"))
            rows.append((doc["id"], ecosystem_key(eco), name_key(eco, name), entry))
        return rows

    def status(self) -> Status:
        conn = self._connect()
        try:
            sources = tuple(
                Source(path, dt.datetime.fromisoformat(at), n)
                for path, at, n in conn.execute("SELECT path, imported_at, advisories FROM sources ORDER BY path")
            )
            count = conn.execute("SELECT count(*) FROM advisories").fetchone()[0]
            by_eco = dict(
                conn.execute(
                    "SELECT ecosystem, count(DISTINCT advisory) FROM affected GROUP BY ecosystem ORDER BY ecosystem"
                )
            )
            support_lines = conn.execute("SELECT count(*) FROM support").fetchone()[0]
        finally:
            conn.close()
        return Status(self.path, sources, count, by_eco, support_lines)

    def support_rules(self) -> list[support.Rule]:
        conn = self._connect()
        try:
            rows = conn.execute("SELECT kind, release, pattern, version, date, details FROM support").fetchall()
        finally:
            conn.close()
        return [support.Rule(*row) for row in rows]

    def require(self) -> Status:
        status = self.status()
        if status.advisories == 0:
            raise DatabaseMissing(
                f"the advisory database at {self.path} is empty", hint="import OSV data: shiplane images db import PATH"
            )
        return status

    def lookup(self, packages: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[tuple[dict, dict]]]:
        """(ecosystem, name) -> [(advisory document, its affected entry)], for many packages at once."""
        # Several spellings can share one key ("URLLib3", "urllib3"): each gets the results.
        wanted: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for e, n in packages:
            wanted.setdefault((ecosystem_key(e), name_key(e, n)), []).append((e, n))
        out: dict[tuple[str, str], list[tuple[dict, dict]]] = {o: [] for origs in wanted.values() for o in origs}
        if not wanted:
            return out
        # Debian:12 packages also match advisories filed for plain 'Debian' (no release).
        bases: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for k, origs in wanted.items():
            if ":" in k[0]:
                bases.setdefault((k[0].split(":", 1)[0], k[1]), []).extend(origs)
        conn = self._connect()
        try:
            conn.execute("CREATE TEMP TABLE want (ecosystem TEXT, name TEXT)")

            def fetch(keys: dict) -> list[tuple]:
                conn.execute("DELETE FROM want")
                conn.executemany("INSERT INTO want VALUES (?, ?)", list(keys))
                return conn.execute(
                    "SELECT f.ecosystem, f.name, f.advisory, f.entry, a.doc FROM affected f "
                    "JOIN want w ON f.ecosystem = w.ecosystem AND f.name = w.name "
                    "JOIN advisories a ON a.id = f.advisory"
                ).fetchall()

            found = [(fetch(keys), keys) for keys in (wanted, bases) if keys]
        finally:
            conn.close()
        docs: dict[str, dict] = {}
        for rows, keys in found:
            for eco, name, adv, entry, doc in rows:
                docs.setdefault(adv, json.loads(doc))
                for orig in dict.fromkeys(keys[(eco, name)]):
                    out[orig].append((docs[adv], json.loads(entry)))
        return out


def run_import(
    db: Database, paths: list[Path], on_event: Callable[[events.Event], None] | None = None, dry_run: bool = False
) -> int:
    return events.result(db.import_paths(paths, dry_run=dry_run), on_event)
