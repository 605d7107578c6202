"""Kubernetes YAML in, objects out, each with the file and line of every field.

PyYAML's composer keeps node marks; building the values ourselves keeps the line of
every key, so a finding points at the offending field rather than at the document.
Multi-document streams and `kind: List` are flattened into single objects.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shiplane.errors import InputError, InputErrors

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Manifest:
    """One object and where it came from; `lines` maps field paths (relative to the object) to lines."""

    obj: dict[str, Any]
    file: str | None = None
    line: int | None = None
    lines: Mapping[Path_, int] = field(default_factory=dict, repr=False)

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest part of `path` that exists in the file (the object's line at worst)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return self.line


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int], loader: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                raise InputError(f"line {key_node.start_mark.line + 1}: mapping keys must be plain scalars")
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            items.append(_build(item, (*path, i), lines, loader))
        return items
    return loader.construct_object(node, deep=True)


def _rebase(lines: Mapping[Path_, int], prefix: Path_) -> dict[Path_, int]:
    n = len(prefix)
    return {p[n:]: v for p, v in lines.items() if p[:n] == prefix and len(p) > n}


def parse(text: str, file: str) -> list[Manifest]:
    """Every object in a YAML stream; raise InputErrors naming file:line for each problem."""
    loader = _Loader(text)
    out: list[Manifest] = []
    problems: list[str] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            try:
                data = _build(node, (), lines, loader)
            except InputError as err:
                problems.append(f"{file}:{err.message.removeprefix('line ')}")
                continue
            start = node.start_mark.line + 1
            if data is None:
                continue
            if not isinstance(data, dict):
                problems.append(
                    f"{file}:{start}: expected a Kubernetes object (a mapping), found {type(data).__name__}"
                )
                continue
            if isinstance(data.get("kind"), str) and data["kind"].endswith("List") and "items" in data:
                items = data["items"] or []
                for i, item in enumerate(items):
                    out.extend(_one(item, file, lines.get(("items", i), start), _rebase(lines, ("items", i)), problems))
                continue
            out.extend(_one(data, file, start, lines, problems))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problems.append(f"{where}: invalid YAML: {getattr(err, 'problem', None) or err}")
    finally:
        loader.dispose()
    if problems:
        raise InputErrors(problems)
    return out


def _one(data: Any, file: str, line: int, lines: dict[Path_, int], problems: list[str]) -> list[Manifest]:
    if not isinstance(data, dict):
        problems.append(f"{file}:{line}: expected a Kubernetes object (a mapping), found {type(data).__name__}")
        return []
    missing = [k for k in ("apiVersion", "kind") if not isinstance(data.get(k), str) or not data.get(k)]
    meta = data.get("metadata")
    if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
        missing.append("metadata.name")
    if missing:
        problems.append(f"{file}:{line}: not a Kubernetes object: missing {', '.join(missing)}")
        return []
    return [Manifest(data, file, line, lines)]


_SUFFIXES = (".yaml", ".yml", ".json")


def expand(paths: Iterable[str]) -> list[str]:
    """Files named, and the YAML/JSON files under directories named (sorted); `-` is stdin."""
    out: list[str] = []
    for p in paths:
        if p == "-":
            out.append(p)
            continue
        path = Path(p)
        if path.is_dir():
            out += sorted(str(f) for f in path.rglob("*") if f.suffix in _SUFFIXES and f.is_file())
        elif path.is_file():
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or directory")
    return out


def read(paths: Iterable[str]) -> list[Manifest]:
    """Parse every file; collect the problems of all files before failing."""
    out: list[Manifest] = []
    problems: list[str] = []
    for name in expand(paths):
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            problems.append(f"{name}: cannot read: {err}")
            continue
        try:
            out += parse(text, "<stdin>" if name == "-" else name)
        except InputErrors as err:
            problems += err.problems
    if problems:
        raise InputErrors(problems)
    return out
