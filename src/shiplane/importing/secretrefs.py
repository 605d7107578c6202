"""Secret values out of commands, probes and env: each becomes a spec secret that the
container references, so no imported value of a password reaches the spec or the report.

A value is known to be secret when it came from a secret source (an env var that import
already moved to `.shiplane-secrets/`, a compose variable whose name marks it), or when a
command passes it to a flag named like one (`--db-password=…`, `--requirepass …`). Then:

- command and args: the value becomes `$(VAR)`, which Kubernetes expands from the
  container's env, and `VAR` is bound to the secret;
- exec probes: Kubernetes does not expand `$(VAR)` there, so the probe runs through
  `sh -c` and reads `"${VAR}"` from the environment;
- env literals that contain the value (`JDBC_OPTS=-Dpassword=…`) become secrets whole;
- anything else that still holds it is removed and reported as a blocker.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from shiplane import redaction
from shiplane.importing.report import ServiceReport
from shiplane.importing.sensitive import SecretBook

_FLAG = re.compile(r"^(--?[A-Za-z][\w.-]*)(=)(.*)$", re.S)
_ENV_NAME = re.compile(r"[^A-Z0-9_]+")
_NAMING = re.compile(r"(USER|USERNAME|LOGIN|DB|DATABASE|_NAME)$", re.I)


def _var(hint: str) -> str:
    name = _ENV_NAME.sub("_", redaction.normalized_name(hint)).strip("_") or "SECRET"
    return name if not name[0].isdigit() else f"S_{name}"


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # unbalanced quotes: still find --flag=value words
        return text.split()


def flag_values(argv: list[str]) -> list[tuple[str, str]]:
    """(flag, value) pairs a command line passes to secret-named flags, also inside `sh -c` strings."""
    out: list[tuple[str, str]] = []
    words: list[str] = []
    for arg in argv:
        words += _words(arg) if any(c.isspace() for c in arg) else [arg]
    for i, word in enumerate(words):
        m = _FLAG.match(word)
        if redaction.credential(word):  # a URL with user:password@, wherever it is
            flag = m.group(1) if m else words[i - 1] if i and words[i - 1].startswith("-") else "url"
            out.append((f"{flag.lstrip('-')}-url", m.group(3) if m else word))
            continue
        if m and redaction.sensitive_name(m.group(1)):
            value = m.group(3)
        elif word.startswith("-") and "=" not in word and redaction.sensitive_name(word) and i + 1 < len(words):
            value = words[i + 1]
            if value.startswith("-"):
                continue
        else:
            continue
        if value and not redaction.placeholder(value) and not value.startswith("$("):
            out.append(((m.group(1) if m else word).lstrip("-"), value))
    return out


class Protector:
    """Replaces known secret values in one import's services; `known` maps value → variable hint."""

    def __init__(self, book: SecretBook, known: dict[str, str] | None = None) -> None:
        self.book = book
        self.known: dict[str, str] = dict(known or {})
        self.weak: set[str] = set()  # values that are also ordinary configuration: cannot be hidden
        self.notes: list[str] = []  # for the report
        self._key: tuple[int, int, int] = (-1, -1, -1)
        self._table: dict[str, tuple[str, str]] = {}
        self._pattern: re.Pattern[str] | None = None

    def values(self) -> set[str]:
        return {*self.known, *self.book.values.values()} - self.weak

    def _lookup(self) -> tuple[re.Pattern[str] | None, dict[str, tuple[str, str]]]:
        """(one pattern of every secret value, text matched → (value, variable hint)); rebuilt only
        when values were added, so protecting N services stays linear in N."""
        key = (len(self.known), len(self.book.values), len(self.weak))
        if key != self._key:
            table: dict[str, tuple[str, str]] = {}
            for value, hint in {**{v: k for k, v in self.book.values.items()}, **self.known}.items():
                if len(value) >= redaction.MIN_SCRUB and value not in self.weak:
                    table[value] = (value, hint)
                    table.setdefault(value.replace("$(", "$$("), (value, hint))  # as containers.escape wrote it
            self._key, self._table, self._pattern = key, table, redaction.pattern(table)
        return self._pattern, self._table

    def _find_weak(self, services: dict[str, dict[str, Any]]) -> None:
        """A password that is also a user name, an image or a service name (`postgres`) names
        things too: replacing it everywhere would break them. It still moves to the secrets
        folder where it is the whole value; the report says to change it."""
        leaves: set[str] = set()  # values that name a user or database
        words: list[str] = list(services)  # texts that name things: images, services, hosts

        def walk(node: Any, key: Any = None) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    if k not in ("command", "args", "exec"):  # where a secret can be referenced
                        walk(v, k)
            elif isinstance(node, list):
                for v in node:
                    walk(v, key)
            elif isinstance(node, str):
                if key in ("image", "host", "context"):
                    words.append(node)
                elif isinstance(key, str) and _NAMING.search(key):
                    leaves.add(node)

        walk(services)
        tokens = {t for w in words for t in (*re.split(r"[^A-Za-z0-9]+", w), *re.split(r"[/:@]+", w)) if t}
        for value in {*self.known, *self.book.values.values()}:
            if value in leaves or value in tokens:
                self.weak.add(value)
                names = [n for n, v in self.book.values.items() if v == value]
                self.notes.append(
                    f"secret {names[0] if names else self.known.get(value, '?')}: its value is also used as ordinary "
                    "configuration (a user, image or service name), so it is not hidden there; it is too "
                    "guessable to be a password — change it"
                )

    def _bind(self, c: dict[str, Any], value: str, hint: str, r: ServiceReport) -> str:
        """The env var of container `c` that holds secret `value` (added when missing)."""
        name = self.book.add_value(hint, value, r.name)
        env = c.setdefault("env", {})
        for key, v in env.items():
            if v == {"secret": name}:
                return key
        var, n = _var(hint), 2
        while var in env:
            var, n = f"{_var(hint)}_{n}", n + 1
        env[var] = {"secret": name}
        r.mapped.append(f"env {var} → secret {name} (value in .shiplane-secrets/{name}, git-ignored)")
        return var

    def container(self, c: dict[str, Any], r: ServiceReport, where: str = "") -> None:
        """Protect one container dict (command, args, env, probes) in place."""
        argv = [*(c.get("command") or []), *(c.get("args") or [])]
        for flag, value in flag_values([a for a in argv if isinstance(a, str)]):
            self.known.setdefault(value, flag)
        p, _ = self._lookup()
        if p is None:
            return
        for key in ("command", "args"):
            if c.get(key):
                c[key] = [self._arg(c, a, r, key, where) if isinstance(a, str) else a for a in c[key]]
        for key, v in list((c.get("env") or {}).items()):
            if isinstance(v, str) and p.search(v):
                name = self.book.add_value(key, v, r.name)
                c["env"][key] = {"secret": name}
                r.mapped.append(
                    f"env {key} → secret {name}: its value holds a secret (value in .shiplane-secrets/{name})"
                )
        for kind, probe in list((c.get("probes") or {}).items()):
            if isinstance(probe, dict) and isinstance(probe.get("exec"), list):
                probe["exec"] = self._probe(c, probe["exec"], r, f"{where}{kind} probe")

    def _arg(self, c: dict, arg: str, r: ServiceReport, key: str, where: str) -> str:
        p, table = self._lookup()
        if p is None or not p.search(arg):
            return arg

        def ref(m: re.Match[str]) -> str:
            var = self._bind(c, *table[m.group(0)], r)
            r.mapped.append(f"{where}{key}: a secret value → $({var}) (Kubernetes expands it from the env)")
            return f"$({var})"

        return p.sub(ref, arg)

    def _probe(self, c: dict, argv: list[str], r: ServiceReport, where: str) -> list[str]:
        p, table = self._lookup()
        found = {table[m][0]: table[m][1] for a in argv for m in (p.findall(a) if p else [])}
        subs = sorted(found.items(), key=lambda vh: len(vh[0]), reverse=True)
        if not subs:
            return argv
        shell = argv[:2] == ["sh", "-c"] and len(argv) == 3
        words = [argv[2]] if shell else argv
        refs = {value: self._bind(c, value, hint, r) for value, hint in subs}
        marks = {f"${{{var}}}" if shell else f'"${{{var}}}"' for var in refs.values()}
        out = []
        for word in words:
            pieces = [word]
            for value, var in refs.items():
                pieces = _split_keep(pieces, value, f"${{{var}}}" if shell else f'"${{{var}}}"', marks)
            out.append("".join(p if (shell or p in marks) else shlex.quote(p) for p in pieces if p))
        r.mapped.append(
            f"{where}: runs through sh -c to read its secret from the env (Kubernetes does not expand $(VAR) in probes)"
        )
        return ["sh", "-c", out[0] if shell else " ".join(out)]

    def services(self, services: dict[str, dict[str, Any]], reports: dict[str, ServiceReport]) -> None:
        """Protect every container of every service (flags of all first, so the order does not matter)."""
        containers = [(svc, reports[key], where) for key, svc in services.items() for svc, where in _containers(svc)]
        for c, _, _ in containers:
            argv = [a for a in (*(c.get("command") or []), *(c.get("args") or [])) if isinstance(a, str)]
            for flag, value in flag_values(argv):
                self.known.setdefault(value, flag)
        self._find_weak(services)
        for c, r, where in containers:
            self.container(c, r, where)
        for key, svc in services.items():
            self.leftovers(svc, reports[key])

    def leftovers(self, svc: dict[str, Any], r: ServiceReport) -> None:
        """Remove whatever still holds a secret value (labels, build args, paths …): a blocker each."""
        values, _ = self._lookup()
        if values is None:
            return

        def walk(node: Any, path: tuple) -> Any:
            if isinstance(node, dict):
                for k in list(node):
                    if redaction.contains(k, values) or (
                        not isinstance(node[k], dict | list) and redaction.contains(node[k], values)
                    ):
                        del node[k]
                        at = path if redaction.contains(k, values) else (*path, k)
                        shown = ".".join(map(str, at))
                        r.blockers.append(f"{shown or 'a key'}: held a secret value; removed (set it by hand)")
                    else:
                        walk(node[k], (*path, k))
            elif isinstance(node, list):
                if any(not isinstance(x, dict | list) and redaction.contains(x, values) for x in node):
                    node[:] = [x for x in node if isinstance(x, dict | list) or not redaction.contains(x, values)]
                    r.blockers.append(f"{'.'.join(map(str, path))}: an item held a secret value; removed")
                for x in node:
                    walk(x, path)
            return node

        walk(svc, ())


def _containers(svc: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    out = [(svc, "")]
    for group in ("sidecars", "initContainers"):
        out += [(c, f"{group}.{n} ") for n, c in (svc.get(group) or {}).items() if isinstance(c, dict)]
    if isinstance(svc.get("migration"), dict):
        out.append((svc["migration"], "migration "))
    return out


def _split_keep(pieces: list[str], value: str, ref: str, refs: set[str]) -> list[str]:
    out: list[str] = []
    for p in pieces:
        if p in refs:
            out.append(p)
            continue
        parts = p.split(value)
        for i, part in enumerate(parts):
            if i:
                out.append(ref)
            out.append(part)
    return out


def scrub_report(report: Any, values: set[str]) -> None:
    """The safety net: no known secret value in any line of the report."""
    p = redaction.pattern(values)
    if p is None:
        return
    for s in report.services:
        for attr in ("why", "source"):
            setattr(s, attr, redaction.scrub(getattr(s, attr), p))
        for attr in ("mapped", "guessed", "dropped", "blockers"):
            setattr(s, attr, [redaction.scrub(x, p) for x in getattr(s, attr)])
    for attr in ("notes", "prerequisites", "secrets", "spec_gaps", "sources", "images", "connections", "moved"):
        setattr(report, attr, [redaction.scrub(x, p) for x in getattr(report, attr)])
