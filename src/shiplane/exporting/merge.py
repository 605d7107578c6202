"""What several renderings of one object share and where they differ, as a tree.

`merge(values)` takes the same object (or field) as each unit rendered it and returns:

- `Same(value)`: every unit has exactly this value (types included: `1`, `1.0` and `True` differ);
- `Map({key: node})`: every unit has a mapping; keys in first-seen order, each merged again;
- `Seq([node])`: every unit has a list of the same length; items merged by position;
- `Varies(values)`: anything else; `MISSING` where a unit lacks the key.

Lists of different lengths differ as a whole: positions would pair unrelated items (an env list
with one more variable), and a whole list is what a reader of a values file expects to edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Same:
    value: Any


@dataclass(frozen=True)
class Map:
    items: dict[str, Node]


@dataclass(frozen=True)
class Seq:
    items: list[Node]


@dataclass(frozen=True)
class Varies:
    values: tuple[Any, ...]  # one per unit, MISSING where absent

    @property
    def optional(self) -> bool:
        return any(v is MISSING for v in self.values)


Node = Same | Map | Seq | Varies


def equal(a: Any, b: Any) -> bool:
    """Equality as YAML would read it back: `True` is not `1`, `1` is not `1.0`."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def merge(values: list[Any]) -> Node:
    first = values[0]
    if first is not MISSING and all(equal(first, v) for v in values[1:]):
        return Same(first)
    if all(isinstance(v, dict) for v in values):
        keys: dict[str, None] = {}
        for v in values:
            keys.update(dict.fromkeys(v))
        return Map({k: merge([v.get(k, MISSING) for v in values]) for k in keys})
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        return Seq([merge(list(col)) for col in zip(*values, strict=True)])
    return Varies(tuple(values))


def varying(node: Node, path: tuple = ()) -> list[tuple[tuple, Varies]]:
    """Every `Varies` in the tree with its path (keys and list positions)."""
    if isinstance(node, Varies):
        return [(path, node)]
    if isinstance(node, Map):
        return [x for k, child in node.items.items() for x in varying(child, (*path, k))]
    if isinstance(node, Seq):
        return [x for i, child in enumerate(node.items) for x in varying(child, (*path, i))]
    return []


def identity(o: dict[str, Any]) -> tuple[str, str, str]:
    """How an object is matched across units: its API group/version, kind and name (not its namespace,
    which each unit chooses)."""
    return (o["apiVersion"], o["kind"], o["metadata"]["name"])
