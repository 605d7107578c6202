"""Reading spec files: YAML → plain data plus a map from every path to its file:line:col.

Values and their positions come from `spec.marks`, which lets validation errors
point at the user's text.
Several files (repeated `-f`, or `include:` lists) are merged with RFC 7386 merge
patch semantics, the same operation as stage overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shiplane.errors import InputError
from shiplane.spec.marks import Builder, Mark, mark_of, read_text, single
from shiplane.spec.merging import Path_, merge_marks


@dataclass
class Source:
    """The merged user document, where each path came from, and the base for relative paths."""

    data: dict[str, Any]
    marks: dict[Path_, Mark]
    base_dir: Path
    files: list[Path] = field(default_factory=list)


def merge_files(target: Any, patch: Any, path: Path_ = ()) -> Any:
    """Merge a later file over earlier ones: merge patch, except that nulls inside any
    `overrides` (a stage's, a target dimension's, a component's) are kept as values, since they
    are deletions applied later."""
    if not isinstance(patch, dict):
        return patch
    in_overrides = (len(path) >= 3 and path[0] == "stages" and path[2] == "overrides") or (
        path[:1] == ("targets",) and "overrides" in path
    )
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None and not in_overrides:
            result.pop(key, None)
        else:
            result[key] = merge_files(result.get(key), value, (*path, key))
    return result


class _SpecBuilder(Builder):
    def duplicate(self, key_node, path: Path_, key) -> str:
        from shiplane.spec.reporting import format_path

        where = format_path(path) or "(document)"
        return f"{mark_of(self.file, key_node.start_mark)}: {where}: duplicate key {key!r}"


def read_file(path: Path, display: str | None = None) -> tuple[dict[str, Any], dict[Path_, Mark]]:
    """One YAML file → (mapping, marks). Syntax errors and duplicate keys are InputErrors."""
    name = display or str(path)
    data, marks = single(read_text(path, name, "spec file"), name, _SpecBuilder)
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise InputError(
            f"{name}:1:1: the spec must be a mapping (app:, services:, stages:), not a {type(data).__name__}"
        )
    return data, marks


def _patches(path: Path, seen: tuple[Path, ...], display: str) -> list[tuple[dict, dict]]:
    """A file and its includes as merge patches in the order they apply (includes first).

    Kept as separate patches, not pre-merged, so a `null` in any file still deletes
    what an earlier file set.
    """
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise InputError(f"{display}: include cycle: {chain}")
    data, marks = read_file(path, display)
    includes = data.pop("include", [])
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise InputError(f"{marks.get(('include',), Mark(display, 1, 1))}: include: expected a list of file paths")
    out: list[tuple[dict, dict]] = []
    for i, rel in enumerate(includes):
        child = path.parent / rel
        if not child.is_file():
            raise InputError(f"{marks[('include', i)]}: include: no such file {rel!r} (relative to {path.parent})")
        out += _patches(child, (*seen, resolved), _display(child))
    out.append((data, {k: v for k, v in marks.items() if k[:1] != ("include",)}))
    return out


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
        for d, m in _patches(Path(p), (), _display(Path(p))):
            data = merge_files(data, d)
            marks = merge_marks(marks, m, d)
    return Source(data=data, marks=marks, base_dir=Path(paths[0]).resolve().parent, files=list(paths))


def source_from_text(text: str, name: str, base_dir: Path) -> Source:
    """One spec given as text, not read from disk (an import checks what it would write, writing
    nothing). Includes are not followed: an imported spec has none."""
    data, marks = single(text, name, _SpecBuilder)
    if not isinstance(data, dict):
        raise InputError(f"{name}:1:1: the spec must be a mapping (app:, services:, stages:)")
    return Source(data=data, marks=marks, base_dir=base_dir, files=[])
