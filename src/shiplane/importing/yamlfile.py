"""YAML in, plain values out, with a `file:line:col` for every key and item.

Compose files use two tags of their own (`!reset`, `!override`) that a safe loader
refuses, so we build values from the node tree ourselves (as `spec.loading` does)
and turn those tags into markers the merge understands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shiplane.errors import InputError, InputErrors

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Mark:
    file: str
    line: int  # 1-based
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Reset:
    """`!reset`: remove what earlier files or the extended service set here."""


@dataclass(frozen=True)
class Override:
    """`!override value`: replace instead of merging."""

    value: Any


def _mark(file: str, m: yaml.Mark) -> Mark:
    return Mark(file, m.line + 1, m.column + 1)


class _Builder:
    def __init__(self, file: str, loader: Any) -> None:
        self.file = file
        self.loader = loader
        self.marks: dict[Path_, Mark] = {}
        self.problems: list[str] = []

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.marks.setdefault(path, _mark(self.file, node.start_mark))
        if node.tag == "!reset":
            return Reset()
        if node.tag == "!override":
            if isinstance(node, yaml.ScalarNode):
                node.tag = self.loader.resolve(yaml.ScalarNode, node.value, (True, False))
            else:
                node.tag = "tag:yaml.org,2002:map" if isinstance(node, yaml.MappingNode) else "tag:yaml.org,2002:seq"
            return Override(self.build(node, path))
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # YAML merge keys (<<), common with x- anchors
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if isinstance(key, list | dict) or key is None:
                    self.problems.append(f"{_mark(self.file, key_node.start_mark)}: keys must be plain scalars")
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    self.problems.append(f"{_mark(self.file, key_node.start_mark)}: duplicate key {key!r}")
                self.marks[(*path, key)] = _mark(self.file, key_node.start_mark)
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.marks[(*path, i)] = _mark(self.file, item.start_mark)
                items.append(self.build(item, (*path, i)))
            return items
        return self.loader.construct_object(node, deep=True)


def read(path: Path, display: str | None = None, *, kind: str = "compose file") -> tuple[Any, dict[Path_, Mark]]:
    """One YAML document → (value, marks). Syntax errors and duplicate keys are InputErrors."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{name}: cannot read this {kind}: {err}") from None
    return parse(text, name)


def parse(text: str, name: str) -> tuple[Any, dict[Path_, Mark]]:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        builder = _Builder(name, loader)
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as err:
        where = _mark(name, err.problem_mark) if err.problem_mark else Mark(name, 1, 1)
        raise InputError(f"{where}: invalid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise InputError(f"{name}: invalid YAML: {err}") from None
    finally:
        loader.dispose()
    if builder.problems:
        raise InputErrors(builder.problems)
    return data, builder.marks


def parse_all(text: str, name: str) -> list[tuple[Any, dict[Path_, Mark]]]:
    """Every document of a YAML stream (Kubernetes manifests), with marks relative to the file."""
    loader = _Loader(text)
    out = []
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is None:
                continue
            builder = _Builder(name, loader)
            data = builder.build(root, ())
            if builder.problems:
                raise InputErrors(builder.problems)
            out.append((data, builder.marks))
    except yaml.MarkedYAMLError as err:
        where = _mark(name, err.problem_mark) if err.problem_mark else Mark(name, 1, 1)
        raise InputError(f"{where}: invalid YAML: {err.problem or err.context}") from None
    finally:
        loader.dispose()
    return out
