"""Rendered objects out: a YAML stream, or one file per object; secret data masked unless asked."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from shiplane.errors import InputErrors
from shiplane.fileio.writing import OWN, OutputDir, safe_name

HEADER = f"{OWN}; do not edit. Source: the app's shiplane.yaml.\n"
MASK = "<masked: use --show-secrets>"


def mask_secrets(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies with every Secret value replaced; masked output fails loudly if applied by mistake."""
    out = []
    for o in objects:
        if o.get("kind") == "Secret":
            o = copy.deepcopy(o)
            for field in ("data", "stringData"):
                if field in o:
                    o[field] = {k: MASK for k in o[field]}
        out.append(o)
    return out


# Strings written plain: no spaces, commas, quotes or indicators, "-" only before a letter or digit, no trailing ":".
_PLAIN = re.compile(r"^(?:[A-Za-z0-9_./]|-+(?=[A-Za-z0-9]))[A-Za-z0-9_./@+=:-]*(?<!:)$")
_RESOLVER = yaml.resolver.Resolver()


@lru_cache(maxsize=65536)
def _str(s: str) -> str:
    """A YAML scalar for `s`: plain when it cannot be read back as anything else, else JSON-quoted."""
    if _PLAIN.fullmatch(s) and _RESOLVER.resolve(yaml.ScalarNode, s, (True, False)) == "tag:yaml.org,2002:str":
        return s
    # A JSON string is a YAML double-quoted scalar, once characters YAML may not carry raw
    # (non-printables, and line breaks it would fold: NEL, LS, PS) are escaped too.
    return _UNSAFE.sub(_escape, json.dumps(s, ensure_ascii=False))


_UNSAFE = re.compile(r"[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _scalar(v: Any) -> str:
    if isinstance(v, str):
        return _str(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return json.dumps(v)
    if isinstance(v, dict | list):  # only empty ones get here
        return "{}" if isinstance(v, dict) else "[]"
    raise TypeError(f"cannot write {type(v).__name__} as YAML")


def _block(v: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(v, dict):
        for k, x in v.items():
            key = _str(str(k))
            if x and isinstance(x, dict):
                lines.append(f"{pad}{key}:")
                _block(x, indent + 2, lines)
            elif x and isinstance(x, list):
                lines.append(f"{pad}{key}:")
                _block(x, indent, lines)  # sequences under a key are not indented, as kubectl writes them
            else:
                lines.append(f"{pad}{key}: {_scalar(x)}")
        return
    for x in v:
        if x and isinstance(x, dict):
            start = len(lines)
            _block(x, indent + 2, lines)
            lines[start] = f"{pad}- {lines[start][indent + 2 :]}"
        elif x and isinstance(x, list):
            lines.append(f"{pad}-")
            _block(x, indent + 2, lines)
        else:
            lines.append(f"{pad}- {_scalar(x)}")


def to_yaml(o: dict[str, Any]) -> str:
    """Block-style YAML in insertion order (apiVersion, kind, metadata, spec…).

    Our objects hold only maps, lists, strings, numbers, booleans and null, so a small
    emitter does; PyYAML's representer took ~90% of render time for large apps.
    """
    if not o:
        return "{}\n"
    lines: list[str] = []
    _block(o, 0, lines)
    return "\n".join(lines) + "\n"


def to_stream(objects: Iterable[dict[str, Any]]) -> str:
    return "".join(f"---\n{to_yaml(o)}" for o in objects)


def file_name(o: dict[str, Any]) -> str:
    return safe_name(f"{o['kind'].lower()}-{o['metadata']['name']}") + ".yaml"


def write_dir(objects: Iterable[dict[str, Any]], directory: Path, *, force: bool = False) -> list[Path]:
    """One file per object. Files we generated earlier and no longer produce are removed.

    Nothing is written if any target is a file shiplane did not write (unless `force`), a
    symlink or not a file at all; see `fileio.writing` for how our own files are recognised.
    """
    out = OutputDir(directory, force=force)
    texts = {file_name(o): HEADER + to_yaml(o) for o in objects}
    refused = [why for name in texts if (why := out.existing(name))]
    if refused:
        raise InputErrors(refused, hint="pass --force to replace them, or choose another output directory")
    written = [out.write(name, text) for name, text in texts.items()]
    for stale in out.names():
        if stale.endswith(".yaml") and stale not in texts:
            out.remove_own(stale)
    return written
