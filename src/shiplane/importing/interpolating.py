"""Compose variable interpolation and `.env` files, as `docker compose config` reads them.

Grammar (compose-spec "Interpolation"): `$$` is a literal `$`; `$VAR` and `${VAR}`;
`${VAR:-default}` / `${VAR-default}` (unset or empty / unset); `${VAR:?err}` /
`${VAR?err}` (fail); `${VAR:+alt}` / `${VAR+alt}` (replace when set). Defaults and
alternatives may themselves contain interpolation. An unset variable without a
default becomes "" and is reported, as compose warns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from shiplane.errors import InputError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A `${VAR?message}` whose variable is missing, or a malformed expression."""


@dataclass
class Interpolator:
    env: Mapping[str, str]
    unset: list[str] = field(default_factory=list)  # variables that defaulted to ""
    used: dict[str, str] = field(default_factory=dict)  # variables substituted → their values (for redaction)

    def __call__(self, text: str) -> str:
        out, _ = self._expand(text, 0, stop=None)
        return out

    def _expand(self, text: str, i: int, stop: str | None) -> tuple[str, int]:
        """Expand from i until `stop` (a closing brace of an enclosing ${…}) or the end."""
        out: list[str] = []
        while i < len(text):
            c = text[i]
            if stop is not None and c == stop:
                return "".join(out), i
            if c != "$":
                out.append(c)
                i += 1
                continue
            nxt = text[i + 1 : i + 2]
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "{":
                value, i = self._braced(text, i + 2)
                out.append(value)
            elif m := _NAME.match(text, i + 1):
                out.append(self._lookup(m.group(0)))
                i = m.end()
            else:
                raise InterpolationError(
                    f"invalid interpolation format at character {i + 1}: a '$' must be escaped as '$$'"
                )
        if stop is not None:
            raise InterpolationError(f"invalid interpolation format at character {i + 1}: missing '}}'")
        return "".join(out), i

    def _braced(self, text: str, i: int) -> tuple[str, int]:
        m = _NAME.match(text, i)
        if not m:
            raise InterpolationError(
                f"invalid interpolation format at character {i - 1}: expected a variable name after '${{'"
            )
        name, i = m.group(0), m.end()
        if text[i : i + 1] == "}":
            return self._lookup(name), i + 1
        op = next((o for o in (":-", ":?", ":+", "-", "?", "+") if text.startswith(o, i)), None)
        if op is None:
            raise InterpolationError(
                f"invalid interpolation format at character {i + 1}: expected '}}' or an operator (:- - :? ? :+ +)"
            )
        arg, i = self._expand(text, i + len(op), stop="}")
        i += 1
        value = self.env.get(name)
        if value is not None:
            self.used[name] = value
        empty_counts = op.startswith(":")
        missing = value is None or (empty_counts and value == "")
        if op.endswith("-"):
            return (arg if missing else value), i
        if op.endswith("+"):
            return ("" if missing else arg), i
        if missing:
            raise InterpolationError(
                f"required variable {name} is missing a value: {arg}"
                if arg
                else f"required variable {name} is missing a value"
            )
        return value, i

    def _lookup(self, name: str) -> str:
        if name in self.env:
            self.used[name] = self.env[name]
            return self.env[name]
        if name not in self.unset:
            self.unset.append(name)
        return ""


def interpolate_tree(value, interpolate: Callable[[str], str], where: Callable[[tuple], str], path: tuple = ()):
    """Interpolate every string value (keys stay as written); errors name the file:line and field."""
    if isinstance(value, dict):
        return {k: interpolate_tree(v, interpolate, where, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_tree(v, interpolate, where, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, str) and "$" in value:
        try:
            return interpolate(value)
        except InterpolationError as err:
            raise InputError(f"{where(path)}: {err}") from None
    return value


_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=(.*))?$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_dotenv(text: str, file: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """KEY=VALUE lines: `export`, comments, single quotes (literal), double quotes (escapes and
    ${VAR}), unquoted values cut at ' #'. Later lines may refer to earlier ones and to `env`."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw, lineno = lines[i], i + 1
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        m = _LINE.match(raw)
        if not m:  # the line may hold a secret: name its key at most, never the rest
            key = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*([:\s])", raw)
            found = f" (found {key.group(1)!r} followed by {key.group(2)!r}; use '=')" if key else ""
            raise InputError(f"{file}:{lineno}: expected KEY=VALUE{found}")
        key, value = m.group(1), (m.group(2) or "").lstrip()
        if m.group(2) is None:
            continue  # a bare KEY takes its value from the environment, which already wins
        quote = value[:1]
        if quote in ("'", '"'):
            body = value[1:]
            while quote not in _unescaped_end(body, quote) and i < len(lines):  # multi-line value
                body += "\n" + lines[i]
                i += 1
            end = _closing(body, quote)
            if end < 0:
                raise InputError(f"{file}:{lineno}: {key}: unterminated {quote} quote")
            body = body[:end]
            if quote == '"':
                body = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), "\\" + e.group(1)), body)
                body = _soft(body, {**(env or {}), **out}, file, lineno, key)
            out[key] = body
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
            out[key] = _soft(value, {**(env or {}), **out}, file, lineno, key)
    return out


def _unescaped_end(body: str, quote: str) -> str:
    return quote if _closing(body, quote) >= 0 else ""


def _closing(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if body[i] == "\\" and quote == '"':
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _soft(value: str, env: Mapping[str, str], file: str, line: int, key: str) -> str:
    if "$" not in value:
        return value
    try:
        return Interpolator(env)(value)
    except InterpolationError as err:
        raise InputError(f"{file}:{line}: {key}: {err}") from None
