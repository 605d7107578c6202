"""Structured overlays: RFC 7386 JSON merge patch, plus the same walk for source marks.

Why merge patch: it is a published, well-understood rule set (maps merge
recursively, `null` deletes a key, anything else replaces), and the spec keys
every collection that users override (services, ports, env, volumes, sidecars…) by
name, so no strategic list merging is needed. Lists always replace as a whole.

Functions are pure: inputs are never mutated, untouched subtrees are shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

Path_ = tuple[Any, ...]
M = TypeVar("M")


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` (RFC 7386) and return the result."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge_marks(base: Mapping[Path_, M], overlay: Mapping[Path_, M], overlay_data: Any) -> dict[Path_, M]:
    """Marks of `merge_patch(base_data, overlay_data)`.

    A mapping present on both sides keeps its base position (where it was declared);
    every value the overlay sets or replaces points into the overlay.
    """
    out = dict(base)
    for path, mark in overlay.items():
        if path in out and isinstance(_get(overlay_data, path), Mapping):
            continue
        out[path] = mark
    return out


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def relocate(marks: Mapping[Path_, M], src: Path_, dst: Path_) -> dict[Path_, M]:
    """Marks under `src`, re-rooted at `dst` (e.g. stage overrides → the document root)."""
    n = len(src)
    return {(*dst, *path[n:]): mark for path, mark in marks.items() if path[:n] == src and len(path) > n}
