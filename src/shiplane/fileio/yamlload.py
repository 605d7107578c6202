"""The one YAML loader: PyYAML's C safe loader, bounded.

A YAML file under 1 KB can describe a structure of billions of nodes through anchors and
aliases ("billion laughs"), or one that contains itself (`x: &a [*a]`); building values
from either never ends. So aliases may add at most `ALIAS_BUDGET` nodes beyond what the
text itself holds, may not refer to what contains them, and nothing may nest deeper than
`MAX_DEPTH`; the text itself is capped at `reading.MAX_BYTES`. Every error names file:line:col.

Two ways to enforce it: `check` walks a composed document before PyYAML's constructor
builds it (`load`); the marked builders (`spec.marks`, `policy.manifests`), which visit
every node anyway, carry a `Budget` instead, which costs a set lookup per mapping or list.
"""

from __future__ import annotations

from typing import Any

import yaml

from shiplane.errors import InputError
from shiplane.fileio.reading import MAX_BYTES, human

MAX_DEPTH = 200  # Kubernetes objects, CRD schemas included, nest well under 100
ALIAS_BUDGET = 100_000  # nodes aliases may add; compose's `<<: *defaults` adds hundreds

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def where(name: str, mark: Any) -> str:
    """`file:line:col` of a PyYAML mark (1-based), or just the file without one."""
    if mark is None:
        return name
    return f"{name}:{mark.line + 1}:{mark.column + 1}"


class Loader(_Base):
    """The C safe loader, refusing texts over the size limit; composed nodes need `check` or a `Budget`."""

    def __init__(self, text: str, name: str = "<input>") -> None:
        if len(text) > MAX_BYTES:
            raise InputError(f"{name}: larger than the {human(MAX_BYTES)} limit for YAML input")
        self.name = name
        try:
            super().__init__(text)
        except UnicodeEncodeError as err:  # lone surrogates cannot be encoded for libyaml
            raise InputError(f"{name}: invalid character at offset {err.start}: not UTF-8 text") from None


def recursive(name: str, node: yaml.Node) -> InputError:
    return InputError(
        f"{where(name, node.start_mark)}: an alias refers to the anchor that contains it "
        "(a recursive structure, which shiplane does not accept)"
    )


def bomb(name: str, node: yaml.Node, detail: str = "") -> InputError:
    return InputError(
        f"{where(name, node.start_mark)}: aliases expand this document{detail} past the limit of "
        f"{ALIAS_BUDGET} nodes added by aliases",
        hint="a 'billion laughs' pattern? write the repeated parts out, or use fewer nested aliases",
    )


class Budget:
    """What aliases add while a builder expands one document, which calls `enter` and `leave`
    around every mapping and list: a node entered again while it is being built is recursive,
    and every node built inside a second visit counts against `ALIAS_BUDGET`."""

    __slots__ = ("active", "added", "name", "repeats", "seen")

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.repeats = 0  # how many second visits enclose the current node
        self.added = 0

    def enter(self, node: yaml.Node) -> bool:
        """Returns whether this is a second visit (pass it to `leave`)."""
        key = id(node)
        if key in self.active:
            raise recursive(self.name, node)
        self.active.add(key)
        again = key in self.seen
        if again:
            self.repeats += 1
        else:
            self.seen.add(key)
        if self.repeats:
            self.added += 1 + len(node.value) * (2 if isinstance(node, yaml.MappingNode) else 1)
            if self.added > ALIAS_BUDGET:
                raise bomb(self.name, node)
        return again

    def leave(self, node: yaml.Node, again: bool) -> None:
        self.active.discard(id(node))
        if again:
            self.repeats -= 1


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
            raise recursive(name, node)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in total)
    size, depth = total[id(root)]
    if size - len(total) > ALIAS_BUDGET:
        raise bomb(name, root, f" to {size} nodes ({len(total)} written)")
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
        node = loader.get_single_node()
        if node is None:
            return None
        check(node, name)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise syntax_error(name, err, text) from None
    except RecursionError:
        raise InputError(f"{name}: nested deeper than Python can build") from None
    finally:
        loader.dispose()
