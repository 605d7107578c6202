"""The one YAML loader: PyYAML's C safe loader, bounded.

A YAML file under 1 KB can describe a structure of billions of nodes through anchors and
aliases ("billion laughs"), or one that contains itself (`x: &a [*a]`); building values
from either never ends. Every document composed here is therefore checked before anyone
builds values from it: aliases may add at most `ALIAS_BUDGET` nodes beyond what the text
itself holds, may not refer to themselves, and nothing may nest deeper than `MAX_DEPTH`.
The text itself is capped at `reading.MAX_BYTES`. Every error names file:line:col.

The check walks the node graph once (shared nodes counted by memo), and only for texts
that contain both an anchor and an alias, so plain manifests pay nothing for it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from shiplane.errors import InputError
from shiplane.fileio.reading import MAX_BYTES, human

MAX_DEPTH = 200  # Kubernetes objects, CRD schemas included, nest well under 100
ALIAS_BUDGET = 100_000  # nodes aliases may add; compose's `<<: *defaults` adds hundreds

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Anchors and aliases can only start a node: at the start of the text or a line, or after
# whitespace or a flow indicator. A false positive only costs the check.
_ANCHOR = re.compile(r"(?:^|(?<=[\s\[\]{},:?\ufeff]))&[^\s\[\]{},]", re.M)
_ALIAS = re.compile(r"(?:^|(?<=[\s\[\]{},:?\ufeff]))\*[^\s\[\]{},]", re.M)


def where(name: str, mark: Any) -> str:
    """`file:line:col` of a PyYAML mark (1-based), or just the file without one."""
    if mark is None:
        return name
    return f"{name}:{mark.line + 1}:{mark.column + 1}"


class Loader(_Base):
    """A C safe loader whose composed documents have passed `check`."""

    def __init__(self, text: str, name: str = "<input>") -> None:
        if len(text) > MAX_BYTES:
            raise InputError(f"{name}: larger than the {human(MAX_BYTES)} limit for YAML input")
        self.name = name
        self._aliases = bool(_ANCHOR.search(text) and _ALIAS.search(text))
        try:
            super().__init__(text)
        except UnicodeEncodeError as err:  # lone surrogates cannot be encoded for libyaml
            raise InputError(f"{name}: invalid character at offset {err.start}: not UTF-8 text") from None

    def get_node(self) -> Any:
        return self._checked(super().get_node())

    def get_single_node(self) -> Any:
        return self._checked(super().get_single_node())

    def _checked(self, node: Any) -> Any:
        if node is not None and self._aliases:
            check(node, self.name)
        return node


def check(root: yaml.Node, name: str) -> None:
    """Refuse a node graph that is recursive, expands past the alias budget, or nests too deep."""
    total: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes when expanded, depth)
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids = _children(node)
        if done:
            on_path.discard(key)
            sizes = [total[id(k)] for k in kids]
            total[key] = (1 + sum(s for s, _ in sizes), 1 + max((d for _, d in sizes), default=0))
            continue
        if key in total:
            continue
        if key in on_path:
            raise InputError(
                f"{where(name, node.start_mark)}: an alias refers to the anchor that contains it "
                "(a recursive structure, which shiplane does not accept)"
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in total)
    size, depth = total[id(root)]
    if size - len(total) > ALIAS_BUDGET:
        raise InputError(
            f"{where(name, root.start_mark)}: aliases expand this document to {size} nodes "
            f"({len(total)} written); the limit is {ALIAS_BUDGET} nodes added by aliases",
            hint="a 'billion laughs' pattern? write the repeated parts out, or use fewer nested aliases",
        )
    if depth > MAX_DEPTH:
        raise InputError(f"{where(name, root.start_mark)}: nested deeper than {MAX_DEPTH} levels")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return []


def too_deep(name: str, node: yaml.Node) -> InputError:
    """For builders, which check depth as they go (the walk above runs only where aliases are)."""
    return InputError(f"{where(name, node.start_mark)}: nested deeper than {MAX_DEPTH} levels")


def syntax_error(name: str, err: yaml.YAMLError, text: str | None = None) -> InputError:
    """A PyYAML error as an InputError at file:line:col."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        return InputError(f"{where(name, mark) if mark else name + ':1:1'}: invalid YAML: {err.problem or err.context}")
    if isinstance(err, yaml.reader.ReaderError):
        pos = err.position
        if text is not None and 0 <= pos <= len(text):
            line = text.count("\n", 0, pos) + 1
            col = pos - (text.rfind("\n", 0, pos) + 1) + 1
            return InputError(f"{name}:{line}:{col}: invalid YAML: {err.reason} (character #x{err.character:04x})")
        return InputError(f"{name}: invalid YAML: {err.reason} at offset {pos}")
    return InputError(f"{name}: invalid YAML: {err}")


def load(text: str, name: str) -> Any:
    """One document as plain values (safe tags only), bounded as above; an empty text is None."""
    loader = Loader(text, name)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as err:
        raise syntax_error(name, err, text) from None
    except RecursionError:
        raise InputError(f"{name}: nested deeper than Python can build") from None
    finally:
        loader.dispose()
