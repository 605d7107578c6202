"""YAML in, plain values out, with a `file:line:col` for every key and list item.

No validator knows YAML positions, so values are built from PyYAML's composed node
tree (which keeps start marks) rather than with a plain `safe_load`. Shared by the
spec loader and the compose importer (which adds compose's own tags on top).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shiplane.errors import InputError, InputErrors
from shiplane.fileio import reading
from shiplane.fileio.yamlload import MAX_DEPTH, Budget, Loader, syntax_error, too_deep

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Mark:
    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def mark_of(file: str, m: yaml.Mark) -> Mark:
    return Mark(file, m.line + 1, m.column + 1)


class Builder:
    """Turns a composed node tree into Python values, recording marks and key problems.

    Subclasses adjust `special` (custom tags), `key` (how keys are taken) and
    `duplicate` (how a repeated key is reported).
    """

    def __init__(self, file: str, loader: Any) -> None:
        self.file = file
        self.loader = loader
        self.marks: dict[Path_, Mark] = {}
        self.problems: list[str] = []
        self.budget = Budget(file)  # aliases: no recursion, no billion laughs

    def special(self, node: yaml.Node, path: Path_) -> tuple[bool, Any]:
        return False, None

    def key(self, key_node: yaml.Node) -> Any:
        """The key's value, or None (after recording a problem) if it cannot be a key."""
        if not isinstance(key_node, yaml.ScalarNode):  # never build a complex key: it may nest or alias anything
            self.problems.append(f"{mark_of(self.file, key_node.start_mark)}: keys must be plain scalars")
            return None
        key = self.loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) or key is None:
            self.problems.append(f"{mark_of(self.file, key_node.start_mark)}: keys must be plain scalars")
            return None
        return key

    def duplicate(self, key_node: yaml.Node, path: Path_, key: Any) -> str:
        return f"{mark_of(self.file, key_node.start_mark)}: duplicate key {key!r}"

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if len(path) > MAX_DEPTH:
            raise too_deep(self.file, node)
        handled, value = self.special(node, path)
        if handled:
            return value
        if isinstance(node, yaml.MappingNode):
            again = self.budget.enter(node)
            self.loader.flatten_mapping(node)  # honours YAML merge keys (<<)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node)
                if key is None:
                    continue
                if key in out:
                    self.problems.append(self.duplicate(key_node, path, key))
                self.marks[(*path, key)] = mark_of(self.file, key_node.start_mark)
                out[key] = self.build(value_node, (*path, key))
            self.budget.leave(node, again)
            return out
        if isinstance(node, yaml.SequenceNode):
            again = self.budget.enter(node)
            items = []
            for i, item in enumerate(node.value):
                self.marks[(*path, i)] = mark_of(self.file, item.start_mark)
                items.append(self.build(item, (*path, i)))
            self.budget.leave(node, again)
            return items
        return self.loader.construct_object(node, deep=True)


def read_text(path: Path, name: str, what: str = "file") -> str:
    """A YAML file's text (regular files only, size-capped, UTF-8); any problem is an InputError naming it."""
    return reading.read_text(path, name=name, what=what)


def documents(text: str, name: str, builder: type[Builder] = Builder) -> Iterator[tuple[Any, dict[Path_, Mark]]]:
    """Every document of a YAML stream as (value, marks); syntax errors and key problems are InputErrors."""
    loader = Loader(text, name)
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is None:
                continue
            b = builder(name, loader)
            data = b.build(root, ())
            if b.problems:
                raise InputErrors(b.problems)
            yield data, b.marks
    except yaml.YAMLError as err:
        raise syntax_error(name, err, text) from None
    except RecursionError:  # a safety net: depth is limited above
        raise InputError(f"{name}: nested too deeply to read") from None
    finally:
        loader.dispose()


def single(text: str, name: str, builder: type[Builder] = Builder) -> tuple[Any, dict[Path_, Mark]]:
    """One YAML document as (value, marks); (None, {}) for an empty file."""
    loader = Loader(text, name)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        b = builder(name, loader)
        data = b.build(root, ())
    except yaml.YAMLError as err:
        raise syntax_error(name, err, text) from None
    except RecursionError:  # a safety net: depth is limited above
        raise InputError(f"{name}: nested too deeply to read") from None
    finally:
        loader.dispose()
    if b.problems:
        raise InputErrors(b.problems)
    return data, b.marks
