"""Field-level differences between a live object and what applying would make of it.

Pure. Server-managed noise (managedFields, resourceVersion, status, …) is dropped
before comparing. Secret values are masked *before* diffing, so no code path after
this one ever holds them: a changed value shows as `(changed)`, never as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shiplane import digests

NOISE_META = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")
NOISE_ANNOTATIONS = ("deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration")
MASK = "***"


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any

    def render(self) -> str:
        if self.old is None:
            return f"+ {self.path}: {_short(self.new)}"
        if self.new is None:
            return f"- {self.path}: {_short(self.old)}"
        return f"~ {self.path}: {_short(self.old)} -> {_short(self.new)}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mask_values(values: dict | None) -> dict:
    # A short digest tells *whether* a value changed without revealing it: keyed with this process's
    # own key, so it compares both sides of one diff and means nothing once printed.
    return {k: f"{MASK} {digests.ephemeral(str(v))}" for k, v in (values or {}).items()}


def normalize(obj: dict | None) -> dict | None:
    """Drop server-side noise and mask Secret values."""
    if obj is None:
        return None
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in NOISE_META}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in NOISE_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    if obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if key in out:
                out[key] = _mask_values(out[key])
    return out


def _walk(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _walk(old.get(key), new.get(key), f"{path}.{key}" if path else key, out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append(FieldChange(path, old, new))


def diff(live: dict | None, predicted: dict | None) -> list[FieldChange]:
    """What would change, field by field (both sides normalized and masked first)."""
    out: list[FieldChange] = []
    _walk(normalize(live) or {}, normalize(predicted) or {}, "", out)
    return out
