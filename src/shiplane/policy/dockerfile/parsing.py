"""A Dockerfile as instructions with line numbers, stages and heredocs.

Written here rather than with dockerfile-parse, which (2.0.1) splits BuildKit heredocs
(`RUN <<EOF`) into fake instructions: every line of such a script would be misattributed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from shiplane.errors import InputError

_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_DIRECTIVE = re.compile(r"^#\s*(syntax|escape|check)\s*=\s*(\S+)\s*$", re.I)


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, …
    args: str  # the arguments, continuation lines joined, heredoc bodies excluded
    line: int  # 1-based line of the keyword
    flags: tuple[tuple[str, str], ...] = ()  # (--mount, …), (--from, …): repeatable, so pairs
    heredocs: tuple[str, ...] = ()
    comments: tuple[tuple[int, str], ...] = ()  # the comment lines directly above

    def flag(self, key: str) -> list[str]:
        return [v for k, v in self.flags if k == key]

    @property
    def json_args(self) -> list[str] | None:
        """The exec form (`["a", "b"]`), or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return [str(v) for v in value] if isinstance(value, list) else None

    @property
    def script(self) -> str:
        """What a RUN executes: heredoc bodies when present, else the shell-form arguments."""
        if self.heredocs:
            return "\n".join(self.heredocs)
        argv = self.json_args
        return " ".join(argv) if argv is not None else self.args


@dataclass(frozen=True)
class Stage:
    index: int
    base: str  # image reference as written (may be another stage's name)
    name: str | None
    instructions: tuple[Instruction, ...]

    @property
    def label(self) -> str:
        return self.name or f"#{self.index}"


@dataclass(frozen=True)
class Dockerfile:
    path: str
    stages: tuple[Stage, ...]
    args_before_from: tuple[Instruction, ...] = ()

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def stage_names(self) -> set[str]:
        return {s.name.lower() for s in self.stages if s.name}


def _split_flags(rest: str) -> tuple[tuple[tuple[str, str], ...], str]:
    flags: list[tuple[str, str]] = []
    while rest.startswith("--"):
        token, _, remainder = rest.partition(" ")
        key, _, value = token[2:].partition("=")
        flags.append((key, value))
        rest = remainder.lstrip()
    return tuple(flags), rest


def parse(text: str, path: str) -> Dockerfile:
    lines = text.splitlines()
    escape = "\\"
    for raw in lines:
        m = _DIRECTIVE.match(raw.strip())
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
    instructions: list[Instruction] = []
    comments: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        raw = lines[i].strip()
        if not raw:
            comments = []
            i += 1
            continue
        if raw.startswith("#"):
            comments.append((i + 1, raw[1:].strip()))
            i += 1
            continue
        start = i
        body = raw
        while body.endswith(escape) and i + 1 < len(lines):
            i += 1
            nxt = lines[i].strip()
            if nxt.startswith("#"):
                continue  # comment lines inside a continuation are removed by the builder
            body = body[: -len(escape)].rstrip() + " " + nxt
        i += 1
        keyword, _, rest = body.partition(" ")
        if not keyword.isalpha():
            raise InputError(f"{path}:{start + 1}: not a Dockerfile instruction: {keyword[:40]!r}")
        flags, rest = _split_flags(rest.strip())
        heredocs = []
        for m in _HEREDOC.finditer(rest) if keyword.upper() in ("RUN", "COPY", "ADD") else ():
            strip_tabs, delimiter = m.group(1) == "-", m.group(3)
            content = []
            while i < len(lines):
                line = lines[i].lstrip("\t") if strip_tabs else lines[i]
                i += 1
                if line.strip() == delimiter:
                    break
                content.append(line)
            else:
                raise InputError(f"{path}:{start + 1}: heredoc <<{delimiter} is never closed")
            heredocs.append("\n".join(content))
        instructions.append(Instruction(keyword.upper(), rest, start + 1, flags, tuple(heredocs), tuple(comments)))
        comments = []
    return _stages(instructions, path)


def _stages(instructions: list[Instruction], path: str) -> Dockerfile:
    groups: list[tuple[str, str | None, list[Instruction]]] = []
    before: list[Instruction] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = ins.args.split()
            if not words:
                raise InputError(f"{path}:{ins.line}: FROM needs an image")
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            groups.append((words[0], name, [ins]))
        elif not groups:
            if ins.keyword != "ARG":
                raise InputError(f"{path}:{ins.line}: {ins.keyword} before the first FROM")
            before.append(ins)
        else:
            groups[-1][2].append(ins)
    if not groups:
        raise InputError(f"{path}: no FROM instruction: not a Dockerfile")
    stages = tuple(Stage(i, base, name, tuple(items)) for i, (base, name, items) in enumerate(groups))
    return Dockerfile(path, stages, tuple(before))
