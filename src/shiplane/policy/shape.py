"""Before any rule reads an object: is every field the type Kubernetes says it is?

Rules are small functions written for well-formed objects (`spec.get("replicas")` is an
int, `metadata.annotations` a mapping). Rather than guard every access, each object is
checked once against the field types of the bundled Kubernetes schemas; an object with a
wrong-typed field is bad input (exit 2, naming file:line and field), never half-evaluated.

Only types are checked (and int32/int64 ranges): missing required fields, enums and
unknown fields are the rules' business (or the API server's), so a partial manifest
still gets its findings. A null is accepted wherever a field is optional, as the API
server reads it as unset. Values are never quoted: a Secret's data must not reach a message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from shiplane import schemas

Path_ = tuple[str | int, ...]

_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def describe(value: Any) -> str:
    """What a value is, never what it says."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number" if math.isfinite(value) else "an infinite or NaN number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _is(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return kind == "null" and value is None


class _Walker:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 50:
            schema = self.defs.get(schema["$ref"].removeprefix("#/$defs/"), {})
            seen += 1
        return schema

    def types(self, schema: dict[str, Any]) -> list[str] | None:
        """Allowed JSON types (None: anything, e.g. RawExtension or preserve-unknown-fields)."""
        branches = schema.get("oneOf") or schema.get("anyOf")
        if branches:
            out: list[str] = []
            for b in branches:
                t = self.types(self.resolve(b))
                if t is None:
                    return None
                out += t
            return out
        t = schema.get("type")
        if t is None:
            return None
        return [t] if isinstance(t, str) else list(t)

    def walk(self, value: Any, schema: dict[str, Any], path: Path_, null: bool | None) -> Iterator[tuple[Path_, str]]:
        """`null`: True for an optional field, False for a list item, None: as the schema says."""
        schema = self.resolve(schema)
        types = self.types(schema)
        if value is None and null is not False and (null or types is None or "null" in types):
            return
        if value is None and null is False:
            yield path, "expected a value, found null (a list item cannot be empty)"
            return
        if types is not None and not any(_is(value, t) for t in types):
            wanted = " or ".join(dict.fromkeys(_NAMES.get(t, t) for t in types if t != "null"))
            yield path, f"expected {wanted}, found {describe(value)}"
            return
        fmt = schema.get("format")
        if fmt in _RANGES and _is(value, "integer"):
            low, high = _RANGES[fmt]
            if not low <= value <= high:
                yield path, f"out of range for {fmt} ({low}..{high})"
            return
        if isinstance(value, dict):
            yield from self.mapping(value, schema, path)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                yield from self.walk(item, schema["items"], (*path, i), null=False)

    def mapping(self, value: dict[Any, Any], schema: dict[str, Any], path: Path_) -> Iterator[tuple[Path_, str]]:
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if not isinstance(key, str):
                yield path, f"keys must be strings, found {describe(key)} key"
                continue
            if key in props:
                yield from self.walk(item, props[key], (*path, key), null=True)
            elif isinstance(extra, dict):
                yield from self.walk(item, extra, (*path, key), null=None)


def problems(obj: dict[str, Any]) -> list[tuple[Path_, str]]:
    """(field path, what is wrong) for every wrong-typed field of one object; [] when well-formed."""
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    wrong: list[tuple[Path_, str]] = [
        ((k,), f"expected a string, found {describe(v)}")
        for k, v in (("apiVersion", api_version), ("kind", kind))
        if not isinstance(v, str)
    ]
    if not isinstance(obj.get("metadata"), dict):
        wrong.append((("metadata",), f"expected a mapping with name, found {describe(obj.get('metadata'))}"))
    if wrong:
        return wrong
    found = schemas.type_schema(kind, api_version) if isinstance(kind, str) and isinstance(api_version, str) else None
    if found is None:
        meta, defs = schemas.object_meta_schema()
        walker = _Walker(defs)
        out = list(walker.walk(obj.get("metadata"), meta, ("metadata",), null=True))
        out += [((), f"keys must be strings, found {describe(k)} key") for k in obj if not isinstance(k, str)]
        return out
    schema, defs = found
    return list(_Walker(defs).walk(obj, schema, (), null=None))


def without_nulls(value: Any) -> Any:
    """A copy with null mapping values dropped: the API server reads `field: null` as unset,
    and rules then need not tell the two apart."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
