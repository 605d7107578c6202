"""The one way shiplane reads a user's file: regular files only, capped, UTF-8 with a clear error.

A FIFO where a file is expected would block forever, a device file may hang or never end,
and a huge file eats memory; so a path is `stat`ed before it is opened (devices are never
opened), opened non-blocking and without a controlling terminal, checked again on the open
descriptor (the path may have changed in between), and read up to a limit.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from shiplane.errors import InputError

MAX_BYTES = 32 * 1024 * 1024  # any one input file (or stdin); the largest CRD bundles are a few MiB
STDIN = "<stdin>"


def human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def kind_of(mode: int) -> str:
    """What a file is, in words."""
    for test, word in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def _why(err: OSError) -> str:
    if err.errno == errno.ENOENT:
        return "no such file"
    if err.errno == errno.ELOOP:
        return "is a symbolic link (not followed here)"
    return err.strerror or str(err)


def read_bytes(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    what: str = "file",
    limit: int = MAX_BYTES,
    follow_symlinks: bool = True,
) -> bytes:
    """The bytes of a regular file, at most `limit`; anything else is an InputError naming the file."""
    name = name or str(path)
    try:
        st = os.stat(path, follow_symlinks=follow_symlinks)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except ValueError:  # a NUL in the path (it can come from a YAML string)
        raise InputError(f"{name!r}: not a valid file name") from None
    except OSError as err:
        raise InputError(f"{name}: cannot read this {what}: {_why(err)}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{name}: cannot read this {what}: it is {kind_of(st.st_mode)}, not a regular file")
    if st.st_size > limit:
        raise InputError(f"{name}: this {what} is larger than the {human(limit)} limit ({st.st_size} bytes)")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise InputError(f"{name}: cannot read this {what}: {_why(err)}") from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped between stat and open
            raise InputError(f"{name}: cannot read this {what}: it is {kind_of(mode)}, not a regular file")
        return _capped(fh, name, what, limit)


def _capped(fh: BinaryIO, name: str, what: str, limit: int) -> bytes:
    try:
        data = fh.read(limit + 1)
    except OSError as err:
        raise InputError(f"{name}: cannot read this {what}: {_why(err)}") from None
    if len(data) > limit:
        raise InputError(f"{name}: this {what} is larger than the {human(limit)} limit")
    return data


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a leading BOM dropped); otherwise an InputError with the line, column and byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise InputError(f"{name}: is UTF-16 text; shiplane reads UTF-8 (save the file as UTF-8)") from None
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            f"{name}:{line}:{col}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})",
            hint="shiplane reads UTF-8 files; convert it, e.g. `iconv -f latin1 -t utf-8`",
        ) from None


def read_text(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    what: str = "file",
    limit: int = MAX_BYTES,
    follow_symlinks: bool = True,
) -> str:
    name = name or str(path)
    return decode(read_bytes(path, name=name, what=what, limit=limit, follow_symlinks=follow_symlinks), name)


def read_stdin(*, what: str = "input", limit: int = MAX_BYTES) -> str:
    """Standard input as UTF-8 text, with the same cap as a file."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # replaced by a text stream (tests, embedding)
        text = sys.stdin.read(limit + 1)
        if len(text) > limit:
            raise InputError(f"{STDIN}: this {what} is larger than the {human(limit)} limit")
        return text
    return decode(_capped(stream, STDIN, what, limit), STDIN)


def head(path: str | os.PathLike[str], size: int) -> bytes | None:
    """The first `size` bytes of a regular file, or None for anything else (never blocks, never opens a device)."""
    if not is_regular(path):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            return fh.read(size)
        except OSError:
            return None


def is_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> bool:
    """True for a regular file (never blocks, never opens anything)."""
    try:
        return stat.S_ISREG(os.stat(path, follow_symlinks=follow_symlinks).st_mode)
    except (OSError, ValueError):
        return False


def within(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink resolved, is `root` or lies under it."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    root = root.resolve()
    return resolved == root or root in resolved.parents


def walk_files(
    directory: Path,
    *,
    suffixes: tuple[str, ...] | None = None,
    recursive: bool = True,
    root: Path | None = None,
    skip_dirs: frozenset[str] = frozenset(),
) -> Iterator[Path]:
    """Regular files under `directory` (sorted, depth first), skipping FIFOs, devices and sockets,
    never descending into symlinked directories, and (with `root`) leaving out anything whose real
    path lies outside `root`."""
    pending = [directory]  # a stack, not recursion: directory trees can nest deeper than Python's stack
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            if current == directory:
                raise InputError(f"{directory}: cannot list this directory: {_why(err)}") from None
            continue
        subdirs = []
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=True)
            except OSError:
                continue
            if is_dir:
                if recursive and entry.name not in skip_dirs:
                    subdirs.append(path)
                continue
            if not is_file or (suffixes is not None and path.suffix not in suffixes):
                continue
            if root is not None and entry.is_symlink() and not within(path, root):
                continue
            yield path
        pending.extend(reversed(subdirs))
