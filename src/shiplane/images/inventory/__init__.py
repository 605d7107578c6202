"""What is installed in an image: the OS release and every package a cataloger recognises.

Each cataloger is a pure function over the image's `FileSystem` returning `Package`s, each with a
package URL (purl), the OSV ecosystem its advisories use, the file it was found in and that file's
layer. `WANTED` tells the reader which small files to keep from its first pass over the layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from shiplane.images.filesystem import Entry, FileSystem

MAX_METADATA = 4 << 20
MAX_ARCHIVE = 256 << 20  # nested archives inspected in memory up to this size (Limits.max_file's default)


@dataclass(frozen=True)
class OSRelease:
    id: str = ""
    version_id: str = ""
    version_codename: str = ""
    pretty_name: str = ""
    id_like: str = ""
    location: str = ""

    @property
    def distro(self) -> str:
        """The purl `distro` qualifier: debian-12, alpine-3.19.1."""
        return f"{self.id}-{self.version_id}" if self.id and self.version_id else self.id


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    type: str  # the purl type: deb, apk, pypi, npm, golang, maven
    ecosystem: str  # OSV ecosystem: Debian:12, Alpine:v3.19, PyPI, npm, Go, Maven
    purl: str
    location: str  # the file (or package database) it was found in
    layer: int
    source_name: str = ""  # dpkg Source / apk origin: what distro advisories name
    source_version: str = ""
    arch: str = ""
    detail: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v not in ("", {}, None)} | {"layer": self.layer}


@dataclass(frozen=True)
class Inventory:
    os: OSRelease
    packages: tuple[Package, ...]
    notes: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Inventory:
        """The inverse of `to_dict` (scan caches keep inventories by image digest)."""
        return cls(
            OSRelease(**doc.get("os", {})),
            tuple(Package(**p) for p in doc.get("packages", [])),
            tuple(doc.get("notes", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "os": {k: v for k, v in asdict(self.os).items() if v},
            "packages": [p.to_dict() for p in self.packages],
            "notes": list(self.notes),
        }


_WANTED = re.compile(
    r"""^(?:
      (?:usr/lib|etc)/os-release
    | var/lib/dpkg/status
    | var/lib/dpkg/status\.d/[^/]+
    | var/lib/dpkg/info/[^/]+\.list
    | lib/apk/db/installed
    | .*\.dist-info/METADATA
    | .*\.egg-info(?:/PKG-INFO)?
    | .*/node_modules/(?:@[^/]+/)?[^/]+/package\.json
    )$""",
    re.X,
)


def WANTED(path: str, size: int) -> bool:
    """Small metadata files worth keeping while the layers stream past the first time."""
    return size <= MAX_METADATA and _WANTED.match(path) is not None


def INSPECT(entry: Entry):
    """Go programs and Java archives are parsed as the first pass streams past (no second pass)."""
    from shiplane.images.inventory import gobinary, java

    if java.wants(entry):

        def archive(data: bytes) -> tuple[list[Package], list[str]]:
            notes: list[str] = []
            return java.from_file(entry, data, MAX_ARCHIVE, notes), notes

        return archive
    if gobinary.wants(entry):
        return lambda data: (gobinary.from_file(entry, data), [])
    return None


def take(fs: FileSystem) -> Inventory:
    from shiplane.images.inventory import distro, languages

    notes: list[str] = []
    os_release = distro.os_release(fs)
    packages: list[Package] = []
    packages += distro.dpkg(fs, os_release, notes)
    packages += distro.apk(fs, os_release, notes)
    packages += languages.python(fs, notes)
    packages += languages.npm(fs, notes)
    packages += _binaries(fs, notes)
    owners = distro.owned_files(fs)
    packages = [_owned(p, owners) for p in packages]
    return Inventory(os_release, tuple(_sorted(packages)), tuple(notes))


# Libraries the distribution packages itself (python3-urllib3's egg-info in dist-packages,
# libcommons-lang3-java's jar in /usr/share/java) carry the distribution's patches under the upstream
# version: they are matched as OS packages, not again as PyPI/Maven/npm packages (which would report
# flaws the distribution fixed). A library merely *vendored* inside some package's own tree (a vendor's
# .deb bundling jars under /usr/lib/vendor/...) is still matched: nobody patched it.
OWNED_TYPES = ("pypi", "npm", "maven")
DISTRO_LIBRARY_DIRS = re.compile(
    r"^usr/(?:lib/python[0-9.]*/(?:dist|site)-packages|share/java|share/maven-repo|share/nodejs|lib/nodejs)/"
)


def _owned(p: Package, owners: dict[str, str]) -> Package:
    if p.type not in OWNED_TYPES:
        return p
    base = p.location.split("!/")[0]
    owner = owners.get(base) or owners.get(base.rsplit("/", 1)[0])  # the file, or its *-info directory
    if owner is None:
        return p
    from dataclasses import replace

    key = "ownedBy" if DISTRO_LIBRARY_DIRS.match(base) else "installedBy"
    return replace(p, detail={**p.detail, key: owner})


def _binaries(fs: FileSystem, notes: list[str]) -> list[Package]:
    """Go programs and Java archives: read in one more pass over only the layers that hold them."""
    from shiplane.images.errors import ImageError
    from shiplane.images.inventory import gobinary, java

    wanted = []
    for entry in fs.files():
        if not (gobinary.wants(entry) or java.wants(entry)):
            continue
        if entry.size > fs.limits.max_file:
            notes.append(f"/{entry.path}: {entry.size} bytes, over the per-file cap; not inspected")
        else:
            wanted.append(entry)
    out: list[Package] = []
    # Parsed during the first pass (same limits), unless the reader was not asked to.
    unread = []
    for entry in wanted:
        done = fs.inspected.get(entry.path)
        if done is None:
            unread.append(entry)
            continue
        found, found_notes = done  # type: ignore[misc]
        out += found
        notes += found_notes
    wanted = unread
    try:
        for entry, data in fs.read_many(wanted):
            if java.wants(entry):
                out += java.from_file(entry, data, fs.limits.max_file, notes)
            else:
                out += gobinary.from_file(entry, data)
    except ImageError as err:  # pragma: no cover - the layers were verified by the first pass
        notes.append(f"binaries and archives not inspected: {err}")
    return out


def _sorted(packages: Iterable[Package]) -> list[Package]:
    return sorted(packages, key=lambda p: (p.type, p.name.lower(), p.version, p.location))
