"""The lean-image report: what a production image carries that it should not, and where its bytes go.

Pure over a read image (`FileSystem` + its source's config): compilers and build tools, headers,
package managers and shells (each with the path, layer and, where a package database lists the file,
the package that installed it); setuid/setgid files; world-writable paths; bytes per layer; bytes
wasted by files a later layer overwrote or deleted (they still ship in the lower layer, as `dive`
counts them); the largest files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shiplane.images.errors import ImageError
from shiplane.images.filesystem import Entry, FileSystem, Wasted

# Categories, most serious first. `compiler` and `build-tool` are what "no compiler in production" means.
COMPILER = re.compile(
    r"^(?:(?:[\w.]+-linux-(?:gnu|musl)[\w]*-)?(?:gcc|g\+\+|c\+\+|cc|cpp|gfortran)(?:-[\d.]+)?"
    r"|cc1|cc1plus|cc1obj|collect2|clang(?:\+\+)?(?:-[\d.]+)?|tcc|rustc|cargo|go|gofmt|javac|kotlinc|scalac"
    r"|csc|dotnet|ghc|zig)$"
)
BUILD_TOOL = re.compile(
    r"^(?:make|gmake|cmake|ninja|meson|bazel|mvn|gradle|ant|autoconf|automake|libtool|pkg-config|pkgconf"
    r"|(?:[\w.]+-linux-(?:gnu|musl)[\w]*-)?(?:as|ld|ld\.bfd|ld\.gold|ar|objcopy|strip))$"
)
PACKAGE_MANAGER = re.compile(
    r"^(?:apt|apt-get|aptitude|dpkg|apk|yum|dnf|microdnf|rpm|zypper|pip|pip\d(?:\.\d+)?|npm|npx|yarn|pnpm"
    r"|gem|bundle|composer|cpan)$"
)
SHELL = re.compile(r"^(?:sh|bash|dash|ash|zsh|ksh|mksh|csh|tcsh|fish|busybox)$")
EXEC_DIRS = re.compile(
    r"^(?:(?:usr/)?(?:local/)?s?bin|usr/lib/go[^/]*/bin|usr/local/go/bin|opt/[^/]+/bin|usr/libexec)/"
)
GCC_INTERNALS = re.compile(r"^usr/(?:lib|libexec)/gcc/[^/]+/[^/]+/(cc1|cc1plus|cc1obj|collect2)$")
HEADERS = re.compile(r"^usr/(?:local/)?include/")

CATEGORIES = ("compiler", "build-tool", "package-manager", "shell")
LARGEST = 20


@dataclass(frozen=True)
class Tool:
    category: str  # compiler, build-tool, package-manager, shell
    name: str
    path: str
    layer: int
    target: str = ""  # where a symlink points (resolved inside the image)
    package: str = ""  # deb:NAME / apk:NAME when a package database lists the file

    def to_dict(self) -> dict[str, Any]:
        out = {"category": self.category, "name": self.name, "path": "/" + self.path, "layer": self.layer}
        if self.target:
            out["target"] = "/" + self.target
        if self.package:
            out["package"] = self.package
        return out


@dataclass(frozen=True)
class Special:
    """A setuid/setgid file or a world-writable path."""

    path: str
    mode: int
    layer: int
    kind: str
    package: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"path": "/" + self.path, "mode": f"{self.mode:04o}", "kind": self.kind, "layer": self.layer}
        if self.package:
            out["package"] = self.package
        return out


@dataclass(frozen=True)
class Layer:
    index: int
    digest: str | None
    created_by: str
    files: int
    bytes: int  # bytes of regular files the layer adds
    wasted: int  # of those, bytes a later layer overwrote or deleted


@dataclass(frozen=True)
class Report:
    image: str
    tools: tuple[Tool, ...]
    headers: tuple[int, int]  # count, bytes of files under /usr/include and /usr/local/include
    setuid: tuple[Special, ...]
    world_writable: tuple[Special, ...]
    layers: tuple[Layer, ...]
    wasted: tuple[Wasted, ...]  # largest first
    largest: tuple[Entry, ...]
    total_bytes: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def wasted_bytes(self) -> int:
        return sum(w.size for w in self.wasted)

    def of(self, *categories: str) -> list[Tool]:
        return [t for t in self.tools if t.category in categories]

    @property
    def build_tools(self) -> list[Tool]:
        """What "no compiler in production" refuses: compilers, build tools (headers count too)."""
        return self.of("compiler", "build-tool")

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "bytes": self.total_bytes,
            "wastedBytes": self.wasted_bytes,
            "tools": [t.to_dict() for t in self.tools],
            "headers": {"files": self.headers[0], "bytes": self.headers[1]},
            "setuid": [s.to_dict() for s in self.setuid],
            "worldWritable": [s.to_dict() for s in self.world_writable],
            "layers": [
                {
                    "index": la.index,
                    "digest": la.digest,
                    "createdBy": la.created_by,
                    "files": la.files,
                    "bytes": la.bytes,
                    "wastedBytes": la.wasted,
                }
                for la in self.layers
            ],
            "wasted": [
                {"path": "/" + w.path, "bytes": w.size, "layer": w.layer, "by": w.by, "how": w.how} for w in self.wasted
            ],
            "largest": [{"path": "/" + e.path, "bytes": e.size, "layer": e.layer} for e in self.largest],
            "notes": list(self.notes),
        }


def _category(path: str, entry: Entry) -> str | None:
    base = path.rpartition("/")[2]
    if GCC_INTERNALS.match(path):
        return "compiler"
    if not EXEC_DIRS.match(path):
        return None
    for name, pattern in zip(CATEGORIES, (COMPILER, BUILD_TOOL, PACKAGE_MANAGER, SHELL), strict=True):
        if pattern.match(base):
            return name
    return None


def _history(config: dict) -> list[str]:
    """`created_by` of each layer (history entries marked empty_layer made no layer)."""
    out = []
    for h in config.get("history") or []:
        if isinstance(h, dict) and not h.get("empty_layer"):
            out.append(str(h.get("created_by") or h.get("comment") or ""))
    return out


def report(fs: FileSystem, config: dict | None = None, owners: dict[str, str] | None = None) -> Report:
    """The lean report of a read image; `owners` maps paths to the package that lists them."""
    owners = owners or {}
    tools: list[Tool] = []
    setuid: list[Special] = []
    writable: list[Special] = []
    header_count = header_bytes = total = 0
    for path, entry in fs.entries.items():
        if entry.kind == "file":
            total += entry.size
            if HEADERS.match(path):
                header_count += 1
                header_bytes += entry.size
            if entry.mode & 0o6000:
                bits = entry.mode & 0o6000
                kind = "setuid+setgid" if bits == 0o6000 else "setuid" if bits == 0o4000 else "setgid"
                setuid.append(Special(path, entry.mode, entry.layer, kind, owners.get(path, "")))
        # Symlinks are 0777 by nature; a world-writable directory with the sticky bit (/tmp) is normal.
        if entry.kind in ("file", "dir") and entry.mode & 0o002 and not (entry.kind == "dir" and entry.mode & 0o1000):
            writable.append(Special(path, entry.mode, entry.layer, entry.kind, owners.get(path, "")))
        if entry.kind not in ("file", "symlink"):
            continue
        category = _category(path, entry)
        if category is None:
            continue
        target = ""
        if entry.kind == "symlink":
            try:
                target = fs.resolve(path)
            except ImageError:  # a symlink loop: not a usable tool
                continue
            real = fs.entries.get(target)
            if real is None or not real.executable:
                continue  # dangling (or pointing at a non-program): nothing runs
        elif not entry.executable:
            continue
        tools.append(Tool(category, path.rpartition("/")[2], path, entry.layer, target, owners.get(path, "")))
    tools.sort(key=lambda t: (CATEGORIES.index(t.category), t.path))
    names = _history(config or {})
    wasted_per_layer: dict[int, int] = {}
    for w in fs.wasted:
        wasted_per_layer[w.layer] = wasted_per_layer.get(w.layer, 0) + w.size
    layers = tuple(
        Layer(
            la.index,
            la.digest,
            names[la.index] if len(names) == len(fs.layers) else "",
            la.files,
            la.size,
            wasted_per_layer.get(la.index, 0),
        )
        for la in fs.layers
    )
    largest = sorted(fs.files(), key=lambda e: (-e.size, e.path))[:LARGEST]
    return Report(
        fs.label,
        tuple(tools),
        (header_count, header_bytes),
        tuple(sorted(setuid, key=lambda s: s.path)),
        tuple(sorted(writable, key=lambda s: s.path)),
        layers,
        tuple(sorted(fs.wasted, key=lambda w: (-w.size, w.path))),
        tuple(largest),
        total,
    )
