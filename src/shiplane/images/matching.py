"""Which advisories affect which installed packages (OSV semantics), deduplicated by alias.

OS packages are looked up by their *source* package (what distro advisories name) and compared by
the source version; everything else by name and installed version. A range whose versions cannot
be ordered yields an `Undecided` entry, never a silent "not affected".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shiplane.images import severity as sev
from shiplane.images import versions
from shiplane.images.inventory import Package

MIN = object()


@dataclass(frozen=True)
class Finding:
    id: str
    aliases: tuple[str, ...]
    package: Package
    installed: str
    fixed: tuple[str, ...]
    severity: str
    score: float | None = None
    vector: str = ""
    summary: str = ""

    @property
    def rank(self) -> int:
        return sev.RANK[self.severity]


@dataclass(frozen=True)
class Undecided:
    advisory: str
    package: Package
    reason: str


@dataclass
class Matches:
    findings: list[Finding] = field(default_factory=list)
    undecided: list[Undecided] = field(default_factory=list)
    withdrawn_skipped: int = 0
    not_comparable: list[str] = field(default_factory=list)  # packages of ecosystems without a comparator
    owned_skipped: list[str] = field(default_factory=list)  # language packages the distribution ships


def lookup_key(p: Package) -> tuple[str, str]:
    if p.type in ("deb", "apk") and p.source_name:
        return p.ecosystem, p.source_name
    return p.ecosystem, p.name


def installed_version(p: Package) -> str:
    if p.type in ("deb", "apk") and p.source_version:
        return p.source_version
    return p.version


def evaluate(entry: dict[str, Any], version: str, ecosystem: str) -> tuple[bool | None, list[str]]:
    """(affected?, fixed versions above `version`); None when no applicable range could be ordered."""
    eco_key = versions.sort_key(ecosystem)
    listed = entry.get("versions") or []
    hit = version in listed
    if not hit and eco_key is not None and listed:
        try:
            mine = eco_key(version)
            hit = any(_same(eco_key, mine, v) for v in listed)
        except versions.BadVersion:
            pass
    undecided = False
    fixed: list[str] = []
    for r in entry.get("ranges") or []:
        kind = r.get("type")
        if kind == "GIT":
            continue
        key = versions.semver if kind == "SEMVER" else eco_key
        if key is None:
            undecided = True
            continue
        try:
            mine = key(version)
            events = []
            for i, ev in enumerate(r.get("events") or []):
                for what in ("introduced", "fixed", "last_affected"):
                    if what in ev:
                        raw = str(ev[what])
                        if what == "introduced" and raw == "0":
                            events.append(((0, i), what, raw, MIN))
                        else:
                            k = key(raw)
                            events.append(((1, k), what, raw, k))
            events.sort(key=lambda e: e[0])
        except (versions.BadVersion, TypeError):
            undecided = True
            continue
        status = False
        for _, what, _raw, k in events:
            if what == "introduced" and (k is MIN or mine >= k):
                status = True
            elif (what == "fixed" and mine >= k) or (what == "last_affected" and mine > k):
                status = False
        if status:
            hit = True
            above = [raw for _, what, raw, k in events if what == "fixed" and k > mine]
            fixed += above[:1]
    if hit:
        return True, fixed
    return (None if undecided else False), []


def _same(key, mine, other: str) -> bool:
    try:
        return key(other) == mine
    except versions.BadVersion:
        return False


def match(packages: Iterable[Package], found: dict[tuple[str, str], list[tuple[dict, dict]]]) -> Matches:
    """`found` is what `Database.lookup` returned for the packages' `lookup_key`s."""
    out = Matches()
    for pkg in packages:
        installed = installed_version(pkg)
        if not installed or installed == "(devel)":
            continue
        if pkg.detail.get("ownedBy"):
            out.owned_skipped.append(f"{pkg.purl} ({pkg.detail['ownedBy']})")
            continue
        if versions.sort_key(pkg.ecosystem) is None:
            out.not_comparable.append(pkg.purl)
        raw: list[Finding] = []
        for advisory, entry in found.get(lookup_key(pkg), []):
            if advisory.get("withdrawn"):
                out.withdrawn_skipped += 1
                continue
            affected, fixed = evaluate(entry, installed, pkg.ecosystem)
            if affected is None:
                out.undecided.append(
                    Undecided(advisory["id"], pkg, f"cannot order version {installed!r} against the advisory's ranges")
                )
                continue
            if not affected:
                continue
            level, score, vector = sev.of(advisory, entry)
            raw.append(
                Finding(
                    advisory["id"],
                    tuple(advisory.get("aliases") or ()),
                    pkg,
                    installed,
                    tuple(dict.fromkeys(fixed)),
                    level,
                    score,
                    vector,
                    str(advisory.get("summary") or advisory.get("details") or "").strip().split("\n")[0],
                )
            )
        out.findings += dedupe(raw)
    out.findings.sort(key=lambda f: (-sev.GATE_RANK[f.severity], -f.rank, f.package.name, f.id))
    return out


def dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per flaw and package: advisories sharing an id or alias (CVE, GHSA, PYSEC) merge."""
    groups: list[tuple[set[str], list[Finding]]] = []
    for f in findings:
        names = {f.id, *f.aliases}
        touching = [g for g in groups if g[0] & names]
        merged = (names.union(*(g[0] for g in touching)), [f, *(x for g in touching for x in g[1])])
        groups = [g for g in groups if not any(g is t for t in touching)] + [merged]
    out = []
    for names, members in groups:
        best = max(members, key=lambda f: (f.rank, f.score or 0))
        primary = sorted(f.id for f in members)[0]
        fixed = tuple(dict.fromkeys(v for f in members for v in f.fixed))
        out.append(
            Finding(
                primary,
                tuple(sorted(names - {primary})),
                best.package,
                best.installed,
                fixed,
                best.severity,
                best.score,
                best.vector,
                next((f.summary for f in members if f.summary), ""),
            )
        )
    return out
