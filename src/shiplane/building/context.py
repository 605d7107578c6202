"""What a build depends on, hashed: the context's files (minus `.dockerignore`d ones), the Dockerfile,
the target and the build args. Pure over what it reads; equal hashes mean the builder would be given
the same input, so the tag made from it names the same image."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from shiplane.errors import InputError
from shiplane.fileio import reading

MAX_IGNORE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    keep: bool  # a `!pattern` line: re-included


def _regex(pattern: str) -> re.Pattern[str]:
    """A `.dockerignore` pattern (Go filepath.Match plus `**`) as a regex over `/`-joined relative paths."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            if pattern.startswith("/", i):  # `**/x` also matches `x` at the top
                out[-1] = "(?:.*/)?"
                i += 1
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + "$")


def ignore_rules(text: str) -> list[Rule]:
    """`.dockerignore` lines → rules; comments and blank lines dropped, paths cleaned as Docker does."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        cleaned = os.path.normpath(line[1:].strip() if keep else line).lstrip("/")
        if cleaned in ("", "."):
            continue
        rules.append(Rule(_regex(cleaned), keep))
    return rules


def ignored(relative: str, rules: list[Rule]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for rule in rules:
        if any(rule.pattern.match(p) for p in prefixes):
            verdict = not rule.keep
    return verdict


def files(context: Path, rules: list[Rule]) -> list[tuple[str, Path]]:
    """(relative path, path) of every file and symlink the builder would be sent, sorted."""
    out = []
    for top, dirs, names in os.walk(context):
        rel_top = os.path.relpath(top, context)
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            relative = name if rel_top == "." else f"{rel_top}/{name}"
            if not ignored(relative, rules):
                out.append((relative, Path(top) / name))
    return sorted(out)


def digest(context: Path, dockerfile: Path, *, target: str | None, args: dict[str, str]) -> str:
    """sha256 hex of everything the build reads (file modes and link targets too, never mtimes)."""
    if not context.is_dir():
        raise InputError(f"build context {context}: not a directory")
    ignore = context / ".dockerignore"
    text = ignore.read_text(errors="replace") if ignore.is_file() and ignore.stat().st_size <= MAX_IGNORE_BYTES else ""
    h = hashlib.sha256()
    h.update(b"dockerfile\0" + reading.read_bytes(dockerfile, what="Dockerfile") + b"\0")
    h.update(f"target\0{target or ''}\0".encode())
    for key in sorted(args):
        h.update(f"arg\0{key}={args[key]}\0".encode())
    for relative, path in files(context, ignore_rules(text)):
        try:
            _add_file(h, relative, path)
        except OSError as err:
            raise InputError(
                f"build context {context}: cannot read {relative}: {err.strerror or err}",
                hint="the builder would be sent this file too: fix its permissions or list it in .dockerignore",
            ) from None
    return h.hexdigest()


def _add_file(h, relative: str, path: Path) -> None:
    st = path.lstat()
    h.update(f"file\0{relative}\0{st.st_mode & 0o7777 | (st.st_mode & 0o170000)}\0".encode())
    if path.is_symlink():
        h.update(os.readlink(path).encode() + b"\0")
        return
    if not path.is_file():  # a FIFO or socket: its name and type only (reading it could block)
        return
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    h.update(b"\0")
