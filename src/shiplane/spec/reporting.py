"""Turn validation problems into `file:line:col: field.path: message` lines users can act on."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from shiplane.redaction import describe, sensitive_path
from shiplane.spec.fields import IMAGE, QUANTITY
from shiplane.spec.merging import Path_

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

# Regexes are exact but unreadable in an error; say what they mean instead.
PATTERN_HELP = {
    "^[a-z]([-a-z0-9]*[a-z0-9])?$": "a lowercase DNS label: a-z, 0-9 and '-', starting with a letter",
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "a lowercase name: a-z, 0-9 and '-'",
    "^/": "an absolute path starting with '/'",
    "^1\\.\\d+$": "a Kubernetes minor version such as '1.36'",
    "^[-._a-zA-Z][-._a-zA-Z0-9]*$": "an environment variable name",
    IMAGE: "an image reference: lowercase name[:tag][@sha256:digest], e.g. ghcr.io/acme/api:1.2",
    QUANTITY: "a Kubernetes quantity such as 500m, 0.5, 256Mi or 2Gi",
    "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$": "a label value: letters, digits, '-', '_' and '.', "
    "starting and ending with a letter or digit",
}


@dataclass(frozen=True)
class Problem:
    path: Path_
    message: str


def format_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{str(part)!r}]"
    return out


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close choice exists, else ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower().replace("_", ""): c for c in choices}
        hit = lowered.get(str(word).lower().replace("_", "").replace("-", ""))
        close = [hit] if hit else []
    return f"; did you mean {close[0]!r}?" if close else ""


def _unwrap(tp: Any) -> Any:
    """The model class behind Optional/Annotated/dict/list hints, if any, for one step of a path."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else None
    return tp


def model_at(root: type[BaseModel], loc: Path_) -> type[BaseModel] | None:
    """Follow a pydantic error location through the model classes to learn which keys were allowed."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            by_alias = {f.alias or n: f for n, f in tp.model_fields.items()}
            if part not in by_alias:
                return None
            tp = by_alias[part].annotation
        elif typing.get_origin(tp) in (dict, list):
            tp = typing.get_args(tp)[-1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def from_validation_error(err: ValidationError, root: type[BaseModel]) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        kind = e["type"]
        is_key = bool(loc) and loc[-1] == "[key]"
        if is_key:
            loc = loc[:-1]
        if kind == "extra_forbidden":
            model = model_at(root, loc[:-1])
            allowed = [f.alias or n for n, f in model.model_fields.items()] if model else []
            msg = f"unknown field {loc[-1]!r}{suggest(loc[-1], allowed)}"
        elif kind == "missing":
            msg = f"missing required field {loc[-1]!r}"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            pattern = (e.get("ctx") or {}).get("pattern")
            if pattern:
                msg = f"expected {PATTERN_HELP.get(pattern, 'a value matching ' + repr(pattern))}"
            if is_key:
                msg = f"invalid name {loc[-1]!r}: {msg}"
            elif (
                kind not in ("model_type", "dict_type", "list_type")
                and "input" in e
                and not isinstance(e["input"], Mapping | list)
            ):
                msg += f" (got {describe(e['input'], sensitive=sensitive_path(loc))})"
            elif kind in ("model_type", "dict_type", "list_type"):
                msg += f" (got {describe(e.get('input'), sensitive=sensitive_path(loc))})"
        problems.append(Problem(loc, msg))
    return problems


def locate(marks: Mapping[Path_, Any], path: Path_) -> Any:
    """The mark of `path`, or of its nearest ancestor present in the file (missing keys)."""
    for n in range(len(path), -1, -1):
        mark = marks.get(tuple(path[:n]))
        if mark is not None:
            return mark
    return None


def lines(problems: Mapping[tuple[Any, Problem], list[str]], all_stages: list[str]) -> list[str]:
    """Format (mark, problem) → stages where seen; a problem seen in every stage names none."""
    out = []
    order = sorted(
        problems.items(),
        key=lambda kv: (
            kv[0][0] is None,
            str(getattr(kv[0][0], "file", "")),
            getattr(kv[0][0], "line", 0),
            getattr(kv[0][0], "col", 0),
        ),
    )
    for (mark, problem), stages in order:
        where = f"{mark}: " if mark else ""
        path = format_path(problem.path)
        text = f"{where}{path + ': ' if path else ''}{problem.message}"
        if stages and sorted(set(stages)) != sorted(all_stages):
            text += f" (stage {', '.join(sorted(set(stages)))})"
        out.append(text)
    return out
