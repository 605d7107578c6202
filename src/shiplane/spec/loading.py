"""Reading spec files: YAML → plain data plus a map from every path to its file:line:col.

PyYAML's composer keeps node marks; we build the Python values ourselves so each
key's position survives, which lets validation errors point at the user's text.
Several files (repeated `-f`, or `include:` lists) are merged with RFC 7386 merge
patch semantics, the same operation as stage overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shiplane.errors import InputError, InputErrors
from shiplane.spec.merging import Path_, merge_marks

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Mark:
    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Source:
    """The merged user document, where each path came from, and the base for relative paths."""

    data: dict[str, Any]
    marks: dict[Path_, Mark]
    base_dir: Path
    files: list[Path] = field(default_factory=list)


def merge_files(target: Any, patch: Any, path: Path_ = ()) -> Any:
    """Merge a later file over earlier ones: merge patch, except that nulls inside a stage's
    `overrides` are kept as values, since they are deletions the stage applies later."""
    if not isinstance(patch, dict):
        return patch
    in_overrides = len(path) >= 3 and path[0] == "stages" and path[2] == "overrides"
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None and not in_overrides:
            result.pop(key, None)
        else:
            result[key] = merge_files(result.get(key), value, (*path, key))
    return result


def _mark(file: str, m: yaml.Mark) -> Mark:
    return Mark(file, m.line + 1, m.column + 1)


class _Builder:
    """Turns a composed node tree into Python values, recording marks and duplicate keys."""

    def __init__(self, file: str, loader: Any) -> None:
        self.file = file
        self.loader = loader
        self.marks: dict[Path_, Mark] = {}
        self.problems: list[str] = []

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.MappingNode):
            if any(k.tag == _MERGE for k, _ in node.value):
                self.loader.flatten_mapping(node)  # honours YAML merge keys (<<)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.problems.append(f"{_mark(self.file, key_node.start_mark)}: keys must be plain scalars")
                    continue
                if key in out:
                    self.problems.append(
                        f"{_mark(self.file, key_node.start_mark)}: {_fmt(path)}: duplicate key {key!r}"
                    )
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


def _fmt(path: Path_) -> str:
    from shiplane.spec.reporting import format_path

    return format_path(path) or "(document)"


def read_file(path: Path, display: str | None = None) -> tuple[dict[str, Any], dict[Path_, Mark]]:
    """One YAML file → (mapping, marks). Syntax errors and duplicate keys are InputErrors."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{name}: cannot read: {err}") from None
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return {}, {}
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
    if not isinstance(data, dict):
        raise InputError(
            f"{name}:1:1: the spec must be a mapping (app:, services:, stages:), not a {type(data).__name__}"
        )
    return data, builder.marks


def _read_with_includes(path: Path, seen: tuple[Path, ...], display: str) -> tuple[dict, dict]:
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise InputError(f"{display}: include cycle: {chain}")
    data, marks = read_file(path, display)
    includes = data.pop("include", [])
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise InputError(f"{marks.get(('include',), Mark(display, 1, 1))}: include: expected a list of file paths")
    merged: dict[str, Any] = {}
    merged_marks: dict[Path_, Mark] = {}
    for i, rel in enumerate(includes):
        child = path.parent / rel
        if not child.is_file():
            raise InputError(f"{marks[('include', i)]}: include: no such file {rel!r} (relative to {path.parent})")
        cdata, cmarks = _read_with_includes(child, (*seen, resolved), _display(child))
        merged = merge_files(merged, cdata)
        merged_marks = merge_marks(merged_marks, cmarks, cdata)
    marks = {k: v for k, v in marks.items() if k[:1] != ("include",)}
    return merge_files(merged, data), merge_marks(merged_marks, marks, data)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_source(paths: list[Path]) -> Source:
    """Read and merge the given files in order (later files win)."""
    if not paths:
        raise InputError("no spec file given", hint="pass -f shiplane.yaml or run where shiplane.yaml is")
    data: dict[str, Any] = {}
    marks: dict[Path_, Mark] = {}
    for p in paths:
        d, m = _read_with_includes(Path(p), (), _display(Path(p)))
        data = merge_files(data, d)
        marks = merge_marks(marks, m, d)
    return Source(data=data, marks=marks, base_dir=Path(paths[0]).resolve().parent, files=list(paths))
