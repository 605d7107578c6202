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
from datetime import date
from typing import Any

from shiplane import schemas

Path_ = tuple[str | int, ...]

_RANGES = {"int32": (-(2**31), 2**31 - 1, "int32"), "int64": (-(2**63), 2**63 - 1, "int64")}
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


_PY: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str, date),  # an unquoted 2024-01-01: YAML's timestamp, a string to the API server
    "integer": (int,),  # bool is an int in Python: _Node.accepts tells them apart first
    "number": (int, float),
}


class _Node:
    """One schema node, resolved and compiled once: which Python values it accepts, what is below."""

    __slots__ = ("bools", "extra", "finite", "fmt", "items", "names", "nullable", "props", "py")

    def __init__(self, types: list[str] | None, schema: dict[str, Any]) -> None:
        self.names = None if types is None else [t for t in types if t != "null"]
        self.nullable = types is None or "null" in types
        self.py = tuple(t for name in self.names or () for t in _PY.get(name, ()))
        self.bools = types is None or "boolean" in types
        self.finite = "number" in (self.names or ())
        self.fmt = _RANGES.get(schema.get("format", ""))
        self.props: dict[str, Any] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        self.extra = extra if isinstance(extra, dict) else None
        items = schema.get("items")
        self.items = items if isinstance(items, dict) else None

    def accepts(self, value: Any) -> bool:
        if self.names is None:
            return True
        if isinstance(value, bool):
            return self.bools
        if isinstance(value, float):
            return self.finite and math.isfinite(value)
        return isinstance(value, self.py)


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

    def node(self, schema: dict[str, Any]) -> _Node:
        key = id(schema)
        found = _COMPILED.get(key)
        if found is None or found[0] is not schema:
            resolved = self.resolve(schema)
            found = _COMPILED[key] = (schema, _Node(self.types(resolved), resolved))
        return found[1]

    def walk(self, value: Any, schema: dict[str, Any], path: Path_, null: bool | None) -> Iterator[tuple[Path_, str]]:
        """`null`: True for an optional field, False for a list item, None: as the schema says."""
        node = self.node(schema)
        if value is None:
            if null is False:
                yield path, "expected a value, found null (a list item cannot be empty)"
            elif not (null or node.nullable):
                yield path, f"expected {' or '.join(dict.fromkeys(_NAMES[t] for t in node.names or ()))}, found null"
            return
        if not node.accepts(value):
            wanted = " or ".join(dict.fromkeys(_NAMES.get(t, t) for t in node.names or ()))
            yield path, f"expected {wanted}, found {describe(value)}"
            return
        if node.fmt is not None and isinstance(value, int) and not node.fmt[0] <= value <= node.fmt[1]:
            yield path, f"out of range for {node.fmt[2]} ({node.fmt[0]}..{node.fmt[1]})"
        elif isinstance(value, dict):
            yield from self.mapping(value, node, path)
        elif isinstance(value, list) and node.items is not None:
            for i, item in enumerate(value):
                yield from self.walk(item, node.items, (*path, i), null=False)

    def mapping(self, value: dict[Any, Any], node: _Node, path: Path_) -> Iterator[tuple[Path_, str]]:
        props, extra = node.props, node.extra
        for key, item in value.items():
            key = key if isinstance(key, str) else json_key(key)
            schema = props.get(key, extra)
            if schema is None:
                continue
            if item.__class__ is str and self.node(schema).accepts(item):
                continue  # a well-typed string has nothing below it: no generator for half the fields
            yield from self.walk(item, schema, (*path, key), null=True if key in props else None)


# id(schema dict) → (that dict, compiled node); schemas are cached for the process, so ids are stable,
# and the dict kept alongside guards against a reused id.
_COMPILED: dict[int, tuple[dict[str, Any], _Node]] = {}


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
        return out
    schema, defs = found
    return list(_Walker(defs).walk(obj, schema, (), null=None))


def json_key(key: Any) -> str:
    """A YAML key as the API server's YAML-to-JSON step spells it (`1:` → "1", `on:` → "true")."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def normalized(value: Any) -> Any:
    """A copy as the API server reads it: `field: null` is unset (dropped), a YAML timestamp is a
    string, a number or boolean key a string; rules then need not tell these apart."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else json_key(k): normalized(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
