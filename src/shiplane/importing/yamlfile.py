"""Compose YAML in, plain values out, with a `file:line:col` for every key and item.

Compose files use two tags of their own (`!reset`, `!override`) that a safe loader
refuses; the shared marked-YAML builder (`spec.marks`) is extended to turn them into
markers the merge understands. Compose keys are always strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shiplane.spec.marks import Builder, Mark, Path_, documents, mark_of, read_text, single

__all__ = ["Mark", "Override", "Path_", "Reset", "parse", "parse_all", "read"]


@dataclass(frozen=True)
class Reset:
    """`!reset`: remove what earlier files or the extended service set here."""


@dataclass(frozen=True)
class Override:
    """`!override value`: replace instead of merging."""

    value: Any


class _ComposeBuilder(Builder):
    def special(self, node: yaml.Node, path: Path_) -> tuple[bool, Any]:
        # Every node gets a mark (the compose mapper points at whole sections too).
        self.marks.setdefault(path, mark_of(self.file, node.start_mark))
        if node.tag == "!reset":
            return True, Reset()
        if node.tag == "!override":
            if isinstance(node, yaml.ScalarNode):
                node.tag = self.loader.resolve(yaml.ScalarNode, node.value, (True, False))
            else:
                node.tag = "tag:yaml.org,2002:map" if isinstance(node, yaml.MappingNode) else "tag:yaml.org,2002:seq"
            return True, Override(self.build(node, path))
        return False, None

    def key(self, key_node: yaml.Node) -> Any:
        if not isinstance(key_node, yaml.ScalarNode):  # never build a complex key: it may nest or alias anything
            self.problems.append(f"{mark_of(self.file, key_node.start_mark)}: keys must be plain scalars")
            return None
        key = self.loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict) or key is None:
            self.problems.append(f"{mark_of(self.file, key_node.start_mark)}: keys must be plain scalars")
            return None
        return key if isinstance(key, str) else str(key)


def read(path: Path, display: str | None = None, *, kind: str = "compose file") -> tuple[Any, dict[Path_, Mark]]:
    """One YAML document → (value, marks). Syntax errors and duplicate keys are InputErrors."""
    name = display or str(path)
    return parse(read_text(path, name, kind), name)


def parse(text: str, name: str) -> tuple[Any, dict[Path_, Mark]]:
    return single(text, name, _ComposeBuilder)


def parse_all(text: str, name: str) -> list[tuple[Any, dict[Path_, Mark]]]:
    """Every document of a YAML stream (Kubernetes manifests), with marks relative to the file."""
    return list(documents(text, name, _ComposeBuilder))
