"""Kubernetes YAML in, objects out, each with the file and line of every field.

PyYAML's composer keeps node marks; building the values ourselves keeps the line of
every key, so a finding points at the offending field rather than at the document.
Multi-document streams and `kind: List` are flattened into single objects.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shiplane.errors import InputError, InputErrors
from shiplane.fileio import reading, yamlload


def _resolve(kind: Any, value: Any, implicit: tuple[bool, bool]) -> str:
    return yamlload.Loader.resolve(_Loader, kind, value, implicit)  # reads class attributes only


class _Loader(yamlload.Loader):
    """The bounded C loader, with tag resolution memoised: manifests repeat the same keys and values
    thousands of times, and resolving each one runs a list of regexes in Python. The memo is
    functools' C one, so a repeated scalar costs the composer no Python frame at all."""

    resolve = staticmethod(functools.lru_cache(maxsize=1 << 14)(_resolve))


Path_ = tuple[str | int, ...]


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while thousands of objects are built or checked: they hold no
    cycles, and its full passes over the growing heap took half of `check`'s time on 5,000 objects."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Where each field of an object sits, so the composed YAML nodes (and their two marks each) can go: a
# scalar is its line; a mapping is (line, {key: (key's line, value)}), first occurrence of each plain
# key; a list is (line, [item, ...]).
Lines = int | tuple[int, Any]


@dataclass(frozen=True)
class Manifest:
    """One object and where it came from; `lines` locates any field on demand."""

    obj: dict[str, Any]
    file: str | None = None
    line: int | None = None
    lines: Lines | None = field(default=None, repr=False, compare=False)

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest part of `path` that exists in the file (the object's line at worst)."""
        tree, line = self.lines, self.line
        for part in path:
            content = tree[1] if isinstance(tree, tuple) else None
            if isinstance(content, dict) and isinstance(part, str):
                found = content.get(part)
                if found is None:
                    break
                line, tree = found
            elif isinstance(content, list) and isinstance(part, int) and part < len(content):
                tree = content[part]
                line = tree if isinstance(tree, int) else tree[0]
            else:
                break
        return line


def _lines(node: yaml.Node, memo: dict[int, Lines]) -> Lines:
    """The `Lines` of a built node (merge keys already flattened); an alias shares its anchor's."""
    cls = node.__class__
    if cls is _SCALAR:
        return node.start_mark.line + 1
    found = memo.get(id(node))
    if found is not None:
        return found
    out: Lines
    if cls is _MAPPING:
        content: dict[str, tuple[int, Lines]] = {}
        for k, v in node.value:
            if k.__class__ is _SCALAR and k.value not in content:
                below = v.start_mark.line + 1 if v.__class__ is _SCALAR else _lines(v, memo)  # scalars inline
                content[k.value] = (k.start_mark.line + 1, below)
        out = (node.start_mark.line + 1, content)
    elif cls is _SEQUENCE:
        out = (node.start_mark.line + 1, [_lines(v, memo) for v in node.value])
    else:
        out = node.start_mark.line + 1
    memo[id(node)] = out
    return out


_STR = "tag:yaml.org,2002:str"
_SCALAR = yaml.ScalarNode
_MAPPING = yaml.MappingNode
_SEQUENCE = yaml.SequenceNode


def _build(node: yaml.Node, loader: Any, budget: yamlload.Budget, depth: int = 0) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)  # strings: fast path
    if depth > yamlload.MAX_DEPTH:
        raise InputError(f"line {node.start_mark.line + 1}: nested deeper than {yamlload.MAX_DEPTH} levels")
    again = budget.enter(node)  # aliases: no recursion, no billion laughs
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            # Plain strings inline (most keys and values): a call per scalar was a third of the build.
            if key_node.tag == _STR and key_node.__class__ is _SCALAR:
                key = key_node.value
            else:
                key = _build(key_node, loader, budget, depth + 1)
                if not isinstance(key, str | int | float | bool):
                    raise InputError(f"line {key_node.start_mark.line + 1}: mapping keys must be plain scalars")
            if value_node.tag == _STR and value_node.__class__ is _SCALAR:
                out[key] = value_node.value
            else:
                out[key] = _build(value_node, loader, budget, depth + 1)
        budget.leave(node, again)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = [
            item.value if item.tag == _STR and item.__class__ is _SCALAR else _build(item, loader, budget, depth + 1)
            for item in node.value
        ]
        budget.leave(node, again)
        return items
    return loader.construct_object(node, deep=True)


def _items_node(node: yaml.Node) -> list[yaml.Node]:
    for k, v in node.value:
        if getattr(k, "value", None) == "items" and isinstance(v, yaml.SequenceNode):
            return v.value
    return []


def parse(text: str, file: str) -> list[Manifest]:
    """Every object in a YAML stream; raise InputErrors naming file:line for each problem."""
    loader = _Loader(text, file)
    out: list[Manifest] = []
    problems: list[str] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            try:
                data = _build(node, loader, yamlload.Budget(file))
            except InputError as err:  # "line N: …" from _build; the budget's own errors name the file
                msg = err.message
                problems.append(f"{file}:{msg.removeprefix('line ')}" if msg.startswith("line ") else msg)
                continue
            if data is None:
                continue
            if not isinstance(data, dict):
                out.extend(_one(data, file, node, problems))
                continue
            if isinstance(data.get("kind"), str) and data["kind"].endswith("List") and "items" in data:
                if not isinstance(data["items"] or [], list):
                    where = f"{file}:{node.start_mark.line + 1}"
                    problems.append(f"{where}: {data['kind']}: items: expected a list of objects")
                    continue
                for item, item_node in zip(data["items"] or [], _items_node(node), strict=False):
                    out.extend(_one(item, file, item_node, problems))
                continue
            out.extend(_one(data, file, node, problems))
    except yaml.YAMLError as err:
        problems.append(yamlload.syntax_error(file, err, text).message)
    finally:
        loader.dispose()
    if problems:
        raise InputErrors(problems)
    return out


def _one(data: Any, file: str, node: yaml.Node, problems: list[str]) -> list[Manifest]:
    line = node.start_mark.line + 1
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
    return [Manifest(data, file, line, _lines(node, {}))]


_SUFFIXES = (".yaml", ".yml", ".json")


def expand(paths: Iterable[str]) -> list[str]:
    """Files named, and the YAML/JSON files under directories named (sorted); `-` is stdin."""
    out: list[str] = []
    for p in paths:
        if p == "-":
            out.append(p)
            continue
        path = Path(p)
        if path.is_dir():  # FIFOs, devices and symlinked directories inside are skipped
            out += sorted(str(f) for f in reading.walk_files(path, suffixes=_SUFFIXES))
        elif path.exists():
            out.append(p)  # reading refuses what is not a regular file, saying what it is
        else:
            raise InputError(f"{p}: no such file or directory")
    return out


def read(paths: Iterable[str]) -> list[Manifest]:
    """Parse every file; collect the problems of all files before failing."""
    try:
        with gc_paused():
            return _read(paths)
    finally:
        _Loader.resolve.cache_clear()  # it holds scalars of the files read: not past the read


def _read(paths: Iterable[str]) -> list[Manifest]:
    out: list[Manifest] = []
    problems: list[str] = []
    for name in expand(paths):
        try:
            if name == "-":
                text = reading.read_stdin(what="manifest stream")
            else:
                text = reading.read_text(name, what="manifest")
        except InputError as err:
            problems.append(err.message)
            continue
        try:
            out += parse(text, "<stdin>" if name == "-" else name)
        except InputErrors as err:
            problems += err.problems
    if problems:
        raise InputErrors(problems)
    return out
