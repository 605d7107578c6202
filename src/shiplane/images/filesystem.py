"""The merged filesystem of an image as data: path -> Entry, content read lazily from its layer.

Layers are applied in order the way a container runtime would (whiteouts `.wh.NAME` delete from lower
layers, `.wh..wh..opq` empties a directory of lower-layer content), but nothing is written to disk.
Paths are root-relative POSIX strings without a leading slash ("etc/os-release"). Symlinks resolve
inside the image root as under chroot: `..` at the root stays at the root, absolute targets start at
the image root; a loop is an error.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shiplane.images.errors import ImageError

MAX_LINKS = 40  # as Linux's ELOOP limit
HEAD = 64  # bytes kept of every regular file, to sniff ELF and zip magic without a second pass


@dataclass(frozen=True)
class Limits:
    """Byte caps: a file larger than `max_file` is listed but never read; a layer whose uncompressed
    size passes `max_layer`, or that expands more than `max_ratio` times, is refused as a bomb."""

    max_file: int = 256 << 20
    max_layer: int = 8 << 30
    max_ratio: int = 1000
    max_files: int = 2_000_000


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    kind: str  # file, dir, symlink, other
    size: int
    mode: int
    layer: int  # index of the layer that last wrote it (0 for a rootfs directory)
    link: str | None = None  # symlink target
    ordinal: int = -1  # position of the member (or of a hardlink's target) in its layer's tar
    head: bytes = b""

    @property
    def executable(self) -> bool:
        return self.kind == "file" and bool(self.mode & 0o111)


Wanted = Callable[[str, int], bool]
# Asked of each regular file in the first pass: a parser of the file's whole content (its small result
# is kept in `FileSystem.inspected`, the bytes dropped), or None. Saves a second pass over the layers
# for what must be read whole (Go binaries, Java archives) without keeping those bytes in memory.
Inspect = Callable[["Entry"], Callable[[bytes], object] | None]


def _no_inspect(entry: Entry) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Wasted:
    """A file a lower layer added and a later one overwrote or deleted: its bytes still ship."""

    path: str
    size: int
    layer: int  # the layer that added it
    by: int  # the layer that replaced or deleted it
    how: str  # overwritten, deleted, hidden (opaque directory or a directory replaced by a file)


@dataclass
class LayerInfo:
    index: int
    digest: str | None
    diff_id: str | None
    files: int = 0
    size: int = 0  # bytes of regular files the layer adds


@dataclass
class FileSystem:
    label: str
    entries: dict[str, Entry]
    limits: Limits
    layers: list[LayerInfo] = field(default_factory=list)
    # Set by the reader: streams one layer again (without verification) for lazy reads.
    reopen: Callable[[int], Iterator] | None = None
    root: Path | None = None  # a rootfs directory: content is read from disk
    cache: dict[str, bytes] = field(default_factory=dict)
    wasted: list[Wasted] = field(default_factory=list)  # lower-layer files later layers replaced
    inspected: dict[str, object] = field(default_factory=dict)  # path -> what `Inspect` parsed from it

    # -- lookups ---------------------------------------------------------------------------------
    def resolve(self, path: str, *, follow_last: bool = True) -> str:
        """The path with every symlink resolved inside the root; ImageError on a loop."""
        parts = [p for p in path.strip("/").split("/") if p and p != "."]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join([*done, part])
            entry = self.entries.get(candidate)
            if entry is not None and entry.kind == "symlink" and (parts or follow_last):
                hops += 1
                if hops > MAX_LINKS:
                    raise ImageError(
                        f"{self.label}: symlink loop while resolving /{path.strip('/')} "
                        f"(more than {MAX_LINKS} links, last /{candidate} -> {entry.link})"
                    )
                target = entry.link or ""
                if target.startswith("/"):
                    done = []
                parts = [p for p in target.split("/") if p and p != "."] + parts
                continue
            done.append(part)
        return "/".join(done)

    def get(self, path: str) -> Entry | None:
        return self.entries.get(self.resolve(path))

    def files(self) -> Iterator[Entry]:
        for entry in self.entries.values():
            if entry.kind == "file":
                yield entry

    def read(self, path: str) -> bytes:
        real = self.resolve(path)
        entry = self.entries.get(real)
        if entry is None or entry.kind != "file":
            raise ImageError(f"{self.label}: /{path.strip('/')} is not a regular file in the image")
        for _, data in self.read_many([entry]):
            return data
        raise ImageError(f"{self.label}: /{real} could not be read from layer {entry.layer}")  # pragma: no cover

    def read_many(self, entries: Iterable[Entry]) -> Iterator[tuple[Entry, bytes]]:
        """Contents of several files, one pass per layer (not in the order given)."""
        pending: dict[int, dict[int, list[Entry]]] = {}
        for entry in entries:
            if entry.size > self.limits.max_file:
                raise ImageError(
                    f"{self.label}: /{entry.path} is {entry.size} bytes, over the per-file cap of "
                    f"{self.limits.max_file}"
                )
            if entry.path in self.cache:
                yield entry, self.cache[entry.path]
            elif self.root is not None:
                yield entry, self._read_disk(entry)
            else:
                pending.setdefault(entry.layer, {}).setdefault(entry.ordinal, []).append(entry)
        for layer, wanted in sorted(pending.items()):
            if self.reopen is None:  # pragma: no cover - set by every reader of layers
                raise ImageError(f"{self.label}: layer {layer} cannot be read again")
            left = len(wanted)
            with self.reopen(layer) as stream:
                for ordinal, member, tf in stream:
                    if ordinal not in wanted:
                        continue
                    fh = tf.extractfile(member)
                    data = fh.read(member.size) if fh is not None else b""
                    for entry in wanted[ordinal]:
                        yield entry, data
                    left -= 1
                    if not left:
                        break

    def _read_disk(self, entry: Entry) -> bytes:
        assert self.root is not None
        try:
            fd = os.open(self.root / entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as err:
            raise ImageError(f"{self.label}: cannot read /{entry.path}: {err.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            return fh.read(self.limits.max_file + 1)[: self.limits.max_file]


# -- building ------------------------------------------------------------------------------------
def member_path(label: str, name: str) -> str:
    """A tar member's root-relative path; '..' that climbs out of the root is hostile."""
    if "\x00" in name:
        raise ImageError(f"{label}: member name {name!r} contains a NUL byte")
    raw_parts = [p for p in name.split("/") if p not in ("", ".")]
    depth = 0
    for part in raw_parts:
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            raise ImageError(f"{label}: member {name!r} escapes the image root (path traversal)")
    return posixpath.normpath("/" + name).lstrip("/")


class _Overlay:
    """The layer being applied over the merged lower layers, for lookups only (no copy)."""

    def __init__(self, upper: dict[str, Entry], lower: dict[str, Entry]) -> None:
        self.upper, self.lower = upper, lower

    def get(self, path: str) -> Entry | None:
        found = self.upper.get(path)
        return found if found is not None else self.lower.get(path)


class Builder:
    """Applies layers one after the other."""

    def __init__(self, label: str, limits: Limits, wanted: Wanted, inspect: Inspect = _no_inspect) -> None:
        self.label = label
        self.limits = limits
        self.wanted = wanted
        self.inspect = inspect
        self.entries: dict[str, Entry] = {}
        self.cache: dict[str, bytes] = {}
        self.inspected: dict[str, object] = {}
        self.layers: list[LayerInfo] = []
        self.wasted: list[Wasted] = []

    def _parent_resolved(self, current: dict[str, Entry], path: str) -> str:
        """Writes through a symlinked directory land where the link points (as a runtime would)."""
        parent, _, base = path.rpartition("/")
        if not parent:
            return path
        parts = parent.split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            e = current.get(prefix) or self.entries.get(prefix)
            if e is not None and e.kind == "symlink":
                view = FileSystem(self.label, _Overlay(current, self.entries), self.limits)  # type: ignore[arg-type]
                resolved = view.resolve(parent)
                return f"{resolved}/{base}" if resolved else base
        return path

    def apply(self, info: LayerInfo, stream: Iterator[tuple[int, tarfile.TarInfo, tarfile.TarFile]]) -> None:
        what = f"{self.label}: layer {info.index}"
        current: dict[str, Entry] = {}
        removed: set[str] = set()
        opaque: set[str] = set()
        for ordinal, member, tf in stream:
            path = member_path(what, member.name)
            if not path:
                continue
            path = self._parent_resolved(current, path)
            parent, _, base = path.rpartition("/")
            if base == ".wh..wh..opq":
                opaque.add(parent)
                continue
            if base.startswith(".wh."):
                gone = f"{parent}/{base[4:]}" if parent else base[4:]
                removed.add(gone)
                current.pop(gone, None)
                continue
            self.cache.pop(path, None)  # whatever a lower layer had here is replaced
            self.inspected.pop(path, None)
            lower = self.entries.get(path)
            if lower is not None and lower.kind == "file" and path not in current:
                self.wasted.append(Wasted(path, lower.size, lower.layer, info.index, "overwritten"))
            info.files += 1
            if len(self.entries) + len(current) > self.limits.max_files:
                raise ImageError(f"{what}: more than {self.limits.max_files} files; refusing to index it")
            mode = stat.S_IMODE(member.mode)
            if member.isreg():
                info.size += member.size
                head = b""
                fh = tf.extractfile(member)
                if fh is not None:
                    if member.size <= self.limits.max_file and self.wanted(path, member.size):
                        data = fh.read(member.size)
                        self.cache[path] = data
                        head = data[:HEAD]
                    else:
                        head = fh.read(HEAD)
                entry = Entry(path, "file", member.size, mode, info.index, None, ordinal, head)
                current[path] = entry
                parse = self.inspect(entry) if fh is not None and member.size <= self.limits.max_file else None
                if parse is not None:
                    data = self.cache.get(path) or head + fh.read(member.size - len(head))
                    self.inspected[path] = parse(data)
            elif member.islnk():
                target = member_path(what, member.linkname)
                src = current.get(target)
                if src is None or src.kind != "file":
                    # A hardlink to a file of a lower layer cannot exist in a layer tar.
                    raise ImageError(f"{what}: hardlink /{path} -> /{target}: target is not a file of this layer")
                current[path] = Entry(path, "file", src.size, mode, info.index, None, src.ordinal, src.head)
                if target in self.cache:
                    self.cache[path] = self.cache[target]
            elif member.issym():
                current[path] = Entry(path, "symlink", 0, mode, info.index, member.linkname, ordinal)
            elif member.isdir():
                current[path] = Entry(path, "dir", 0, mode, info.index, None, ordinal)
            else:
                current[path] = Entry(path, "other", 0, mode, info.index, None, ordinal)
        if removed or opaque:
            self._delete(removed, opaque, by=info.index)
        # Replacing a directory with a non-directory hides everything under it.
        replaced = {
            p
            for p, e in current.items()
            if e.kind != "dir" and (old := self.entries.get(p)) is not None and old.kind == "dir"
        }
        if replaced:
            self._delete(replaced, set(), keep_self=True, by=info.index)
        self.entries.update(current)
        self.layers.append(info)

    def _delete(self, removed: set[str], opaque: set[str], keep_self: bool = False, by: int = -1) -> None:
        doomed = []
        for path in self.entries:
            probe = path
            while True:
                if probe in removed and not (keep_self and probe == path):
                    doomed.append(path)
                    break
                if probe != path and probe in opaque:
                    doomed.append(path)
                    break
                if "/" not in probe:
                    if "" in opaque:
                        doomed.append(path)
                    break
                probe = probe.rpartition("/")[0]
        for path in doomed:
            self.inspected.pop(path, None)
            gone = self.entries[path]
            if gone.kind == "file":
                how = "deleted" if path in removed else "hidden"
                self.wasted.append(Wasted(path, gone.size, gone.layer, by, how))
            del self.entries[path]
            self.cache.pop(path, None)


def from_directory(root: Path, limits: Limits, wanted: Wanted) -> FileSystem:
    """A root filesystem directory (an unpacked image, a debootstrap/mmdebstrap tree)."""
    entries: dict[str, Entry] = {}
    info = LayerInfo(0, None, None)
    label = str(root)

    def add(rel: str, st: os.stat_result, full: str) -> None:
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            entries[rel] = Entry(rel, "symlink", 0, mode, 0, os.readlink(full))
        elif stat.S_ISDIR(st.st_mode):
            entries[rel] = Entry(rel, "dir", 0, mode, 0)
        elif stat.S_ISREG(st.st_mode):
            head = b""
            try:
                with open(full, "rb", opener=lambda p, f: os.open(p, f | getattr(os, "O_NOFOLLOW", 0))) as fh:
                    head = fh.read(HEAD)
            except OSError:
                pass  # unreadable (root-only) files are listed, their content is not
            entries[rel] = Entry(rel, "file", st.st_size, mode, 0, None, -1, head)
            info.size += st.st_size
        else:
            entries[rel] = Entry(rel, "other", 0, mode, 0)
        info.files += 1
        if len(entries) > limits.max_files:
            raise ImageError(f"{label}: more than {limits.max_files} files; refusing to index it")

    device = os.lstat(root).st_dev
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        keep = []
        for name in [*dirnames, *filenames]:
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            add(f"{rel_dir}/{name}" if rel_dir else name, st, full)
            # Like `find -xdev`: /proc, /sys and other mounts inside the tree are listed, not entered.
            if name in dirnames and stat.S_ISDIR(st.st_mode) and st.st_dev == device:
                keep.append(name)
        dirnames[:] = keep
    return FileSystem(label, entries, limits, [info], root=root)
