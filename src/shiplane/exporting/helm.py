"""A Helm chart whose templates hold what every unit shares and whose values-<unit>.yaml what differs.

Per object and field path (see `merge`): equal in every unit → literal in the template; different
→ `{{ toJson .Values.<object>.<field> }}` (JSON is YAML, so any value, string, number, list or map,
goes in as data and nothing in it becomes template code); absent in some units → wrapped in
`{{- if }}` on the value (those units' values set it to null);
objects only some units have → the whole template under `{{- if .Values.<object>.enabled }}`.
A label with one value per unit everywhere (`shiplane.io/stage`) is one key under `labels`.
Namespaces come from `.Release.Namespace`; Secrets are references (`secrets.<name>.name`), their
manifests with empty data go to `secrets/<unit>/` outside the chart's templates.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from shiplane.exporting import Unit, secretrefs
from shiplane.exporting.merge import MISSING, Map, Node, Same, Seq, identity, merge, varying
from shiplane.fileio.writing import safe_name
from shiplane.rendering.exporting import HEADER, _str, to_yaml


@dataclass(frozen=True)
class Ref:
    """A value the chart computes instead of spelling out: the release namespace or a Secret's name."""

    expr: str
    concrete: str = field(compare=False)  # what this unit rendered, for values files


def _substitute(v: Any, unit: Unit, secret_names: dict[str, str], top: bool = True) -> Any:
    if isinstance(v, dict):
        out = {k: _substitute(x, unit, secret_names, False) for k, x in v.items()}
        meta = out.get("metadata") if top else None
        if meta and meta.get("namespace") == unit.namespace:
            meta["namespace"] = Ref("{{ .Release.Namespace | toJson }}", unit.namespace)
        return out
    if isinstance(v, list):
        return [_substitute(x, unit, secret_names, False) for x in v]
    if isinstance(v, str) and v in secret_names:
        return Ref(f'{{{{ index .Values.secrets {_go(secret_names[v])} "name" | toJson }}}}', v)
    return v


def _concrete(v: Any) -> Any:
    if isinstance(v, Ref):
        return v.concrete
    if isinstance(v, dict):
        return {k: _concrete(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_concrete(x) for x in v]
    return v


def _go(s: str) -> str:
    """A Go template string literal (JSON's escapes are Go's)."""
    return json.dumps(s)


_SKIP = {"spec", "template"}


def camel(parts: list[str]) -> str:
    words = [w for p in parts for w in re.split(r"[^A-Za-z0-9]+", str(p)) if w]
    text = "".join(w[:1].upper() + w[1:] for w in words)
    text = text[:1].lower() + text[1:]
    return text if text[:1].isalpha() else f"f{text}"


def _item_name(item: dict[str, Any]) -> Any:
    meta = item.get("metadata")
    return item.get("name") or (meta.get("name") if isinstance(meta, dict) else None)


def _field_parts(path: tuple, values: list[Any]) -> list[str]:
    """A readable name for a field path: list items by their `name`, and no spec/template hops."""
    parts: list[str] = []
    cur = values
    for i, step in enumerate(path):
        if isinstance(step, int):
            items = [v[step] if isinstance(v, list) and step < len(v) else None for v in cur]
            names = {_item_name(it) for it in items if isinstance(it, dict)}
            parts.append(str(names.pop()) if len(names) == 1 and None not in names else str(step))
            cur = items
        else:
            if not (step in _SKIP and i < len(path) - 1):
                parts.append(step)
            cur = [v.get(step) if isinstance(v, dict) else None for v in cur]
    return parts


@dataclass
class _Object:
    ident: tuple[str, str, str]
    present: list[int]  # unit indexes that render it
    node: Node
    roots: list[Any] = field(repr=False, default_factory=list)  # the object as each present unit has it
    key: str = ""
    fields: dict[tuple, str] = field(default_factory=dict)  # path → values key


class _Chart:
    def __init__(self, units: list[Unit]) -> None:
        self.units = units
        self.refs: list[list[secretrefs.SecretRef]] = []
        by_ident: dict[tuple, dict[int, dict]] = {}
        for i, unit in enumerate(units):
            refs, rest = secretrefs.split(unit.objects)
            self.refs.append(refs)
            names = {r.name: r.spec_name for r in refs}
            for o in rest:
                by_ident.setdefault(identity(o), {})[i] = _substitute(o, unit, names)
        self.objects: list[_Object] = []
        used_keys: set[str] = {"labels", "secrets"}
        for ident, per_unit in by_ident.items():
            present = sorted(per_unit)
            roots = [per_unit[i] for i in present]
            obj = _Object(ident, present, merge(roots), roots)
            obj.key = _unique(camel([ident[1], ident[2]]), used_keys)
            self.objects.append(obj)
        self.labels = self._common_labels()
        for obj in self.objects:
            taken = {"enabled"}
            for path, _v in varying(obj.node):
                if self._label(path, obj) is None:
                    obj.fields[path] = _unique(camel(_field_parts(path, obj.roots)) or "value", taken)

    def _common_labels(self) -> dict[str, dict[int, Any]]:
        """Labels whose value depends only on the unit, wherever they vary."""
        seen: dict[str, dict[int, Any]] = {}
        bad: set[str] = set()
        for obj in self.objects:
            for path, v in varying(obj.node):
                if not (len(path) >= 2 and path[-2] == "labels"):
                    continue
                label = path[-1]
                per = seen.setdefault(label, {})
                for i, value in zip(obj.present, v.values, strict=True):
                    if value is MISSING or not isinstance(value, str) or per.setdefault(i, value) != value:
                        bad.add(label)
        return {k: v for k, v in seen.items() if k not in bad}

    def _label(self, path: tuple, obj: _Object) -> str | None:
        if len(path) >= 2 and path[-2] == "labels" and path[-1] in self.labels:
            return path[-1]
        return None

    def expr(self, obj: _Object, path: tuple) -> str:
        if (label := self._label(path, obj)) is not None:
            return f"{{{{ index .Values.labels {_go(label)} | toJson }}}}"
        return f"{{{{ toJson .Values.{obj.key}.{obj.fields[path]} }}}}"

    def values(self, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        labels = {k: per[i] for k, per in self.labels.items() if i in per}
        if labels:
            out["labels"] = labels
        if self.refs[i]:
            out["secrets"] = {r.spec_name: {"name": r.name, "keys": list(r.keys)} for r in self.refs[i]}
        for obj in self.objects:
            entry: dict[str, Any] = {}
            partial = len(obj.present) < len(self.units)
            if partial:
                entry["enabled"] = i in obj.present
            if i in obj.present:
                pos = obj.present.index(i)
                for path, v in varying(obj.node):
                    if path in obj.fields:
                        value = v.values[pos]
                        entry[obj.fields[path]] = None if value is MISSING else _concrete(value)
            if entry:
                out[obj.key] = entry
        return out


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}{n}", n + 1
    taken.add(out)
    return out


class _Emitter:
    """YAML lines for a merged object: literal where shared, template actions where not."""

    def __init__(self, chart: _Chart, obj: _Object) -> None:
        self.chart, self.obj = chart, obj
        self.nonce = secrets.token_hex(6)
        self.tokens: dict[str, str] = {}

    def _literal(self, value: Any) -> list[str]:
        """Lines of a shared value; a `{{` in it is written so Go templates print it, not run it."""
        text = to_yaml(self._tokenize(value)).replace("{{", '{{ "{{" }}')
        for token, expr in self.tokens.items():
            text = text.replace(token, expr)
        return text.splitlines()

    def _tokenize(self, v: Any) -> Any:
        if isinstance(v, Ref):
            token = f"shiplaneref{self.nonce}x{len(self.tokens)}z"  # z: no token is a prefix of another
            self.tokens[token] = v.expr
            return token
        if isinstance(v, dict):
            return {k: self._tokenize(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self._tokenize(x) for x in v]
        return v

    def _key(self, k: str) -> str:
        return _str(str(k)).replace("{{", '{{ "{{" }}')

    def map(self, node: Map, indent: int, path: tuple, lines: list[str]) -> None:
        pad = " " * indent
        for k, child in node.items.items():
            here = (*path, k)
            if isinstance(child, Same):
                lines += [pad + line for line in self._literal({k: child.value})]
            elif isinstance(child, Map):
                lines.append(f"{pad}{self._key(k)}:")
                self.map(child, indent + 2, here, lines)
            elif isinstance(child, Seq):
                lines.append(f"{pad}{self._key(k)}:")
                self.seq(child, indent, here, lines)
            else:
                expr = self.chart.expr(self.obj, here)
                if child.optional:
                    # Absent in some units: their values say null (Helm keeps a null it cannot delete
                    # from the defaults, so test the value, not the key).
                    value = f'dig "{self.obj.fields[here]}" nil .Values.{self.obj.key}'
                    lines.append(f'{pad}{{{{- if not (kindIs "invalid" ({value})) }}}}')
                lines.append(f"{pad}{self._key(k)}: {expr}")
                if child.optional:
                    lines.append(f"{pad}{{{{- end }}}}")

    def seq(self, node: Seq, indent: int, path: tuple, lines: list[str]) -> None:
        pad = " " * indent
        for i, child in enumerate(node.items):
            here = (*path, i)
            if isinstance(child, Same):
                lines += [pad + line for line in self._literal([child.value])]
            elif isinstance(child, Map):
                sub: list[str] = []
                self.map(child, indent + 2, here, sub)
                inner = " " * (indent + 2)
                if sub and sub[0].startswith(inner) and not sub[0][indent + 2 :].startswith("{{"):
                    sub[0] = f"{pad}- {sub[0][indent + 2 :]}"
                else:
                    lines.append(f"{pad}-")
                lines += sub
            elif isinstance(child, Seq):
                lines.append(f"{pad}-")
                self.seq(child, indent + 2, here, lines)
            else:
                lines.append(f"{pad}- {self.chart.expr(self.obj, here)}")


def _template(chart: _Chart, obj: _Object) -> str:
    lines: list[str] = []
    em = _Emitter(chart, obj)
    if isinstance(obj.node, Map):
        em.map(obj.node, 0, (), lines)
    else:  # cannot happen for objects (apiVersion/kind/metadata are always maps), kept total
        lines = em._literal(obj.node.value if isinstance(obj.node, Same) else {})
    body = "\n".join(lines) + "\n"
    if len(obj.present) < len(chart.units):
        names = ", ".join(chart.units[i].name for i in obj.present)
        body = f"{{{{- if .Values.{obj.key}.enabled }}}}\n{body}{{{{- end }}}}\n"
        return f"{HEADER}# {obj.ident[1]} {obj.ident[2]}: only in {names}\n{body}"
    return f"{HEADER}# {obj.ident[1]} {obj.ident[2]}\n{body}"


def _chart_version(version: str | None) -> str:
    semver = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
    return version if version and semver.match(version) else "0.1.0"


def chart(units: list[Unit], *, app: str, version: str | None) -> dict[str, str]:
    """Every file of the chart, by path relative to its directory."""
    c = _Chart(units)
    files: dict[str, str] = {}
    names = ", ".join(u.name for u in units)
    meta = {
        "apiVersion": "v2",
        "name": app,
        "description": f"{app}, exported by shiplane from its shiplane.yaml (stages: {names})",
        "type": "application",
        "version": _chart_version(version),
    }
    if version:
        meta["appVersion"] = version
    files["Chart.yaml"] = HEADER + to_yaml(meta)
    used: set[str] = set()
    for obj in c.objects:
        name = _unique(safe_name(f"{obj.ident[1].lower()}-{obj.ident[2]}"), used)
        files[f"templates/{name}.yaml"] = _template(c, obj)
    first = units[0].name
    defaults = c.values(0)
    files["values.yaml"] = (
        HEADER + f"# Defaults: the values of {first}. Install a stage with its own file, e.g.\n"
        f"#   helm install {app} . -f values-{first}.yaml --namespace <namespace>\n"
        "# secrets.<name>.name names a Secret you create (see README.md); the chart never holds secret values.\n"
        + _values_yaml(defaults)
    )
    for i, unit in enumerate(units):
        files[f"values-{unit.name}.yaml"] = (
            HEADER + f"# {unit.name}: namespace {unit.namespace}\n" + _values_yaml(against(defaults, c.values(i)))
        )
        for ref in c.refs[i]:
            files[f"secrets/{unit.name}/{safe_name(ref.name)}.yaml"] = secretrefs.placeholder(ref, unit)
    files[".helmignore"] = HEADER + "secrets/\n*.tmp\n.git/\n"
    files["templates/NOTES.txt"] = (
        f"# Generated by shiplane: {app} installed as {{{{ .Release.Name }}}} in {{{{ .Release.Namespace }}}}.\n"
        "{{- if .Values.secrets }}\n"
        "It needs these Secrets, which the chart does not create (see README.md):\n"
        "{{- range $name, $s := .Values.secrets }}\n"
        '  {{ $s.name }} (keys: {{ join ", " $s.keys }})\n'
        "{{- end }}\n"
        "{{- end }}\n"
    )
    files["README.md"] = _readme(app, units, c)
    return files


def against(defaults: dict[str, Any], mine: dict[str, Any]) -> dict[str, Any]:
    """`mine` as a values file over `defaults`: Helm merges maps key by key, so a key the defaults have
    and this unit does not is set to null, which Helm deletes from the merge (lists and scalars replace)."""
    out = dict(mine)
    for k, d in defaults.items():
        if k not in out:
            out[k] = None
        elif isinstance(d, dict) and isinstance(out[k], dict):
            out[k] = against(d, out[k])
    return out


def _values_yaml(values: dict[str, Any]) -> str:
    return to_yaml(values) if values else "{}\n"


def _readme(app: str, units: list[Unit], c: _Chart) -> str:
    lines = [
        f"# Generated by shiplane: the Helm chart of {app}",
        "",
        "Templates hold what every stage shares; `values-<stage>.yaml` holds what differs. Install one with:",
        "",
        "```sh",
        *[f"helm install {app} . -f values-{u.name}.yaml --namespace {u.namespace}" for u in units],
        "```",
        "",
        "## Secrets",
        "",
        "The chart never holds secret values. Each Secret the app uses is named in `secrets.<name>.name`;",
        "create it in the release's namespace before installing: fill in the manifest under",
        "`secrets/<stage>/` (its keys are empty) and apply it, or create it another way (an external",
        "secrets operator, SealedSecrets) under that name, or set `secrets.<name>.name` to a Secret you",
        "already have with the same keys. `secrets/` is in `.helmignore`: it is never packaged.",
        "",
    ]
    for i, u in enumerate(units):
        for ref in c.refs[i]:
            source = u.secret_sources.get(ref.spec_name, "the deploying machine")
            lines.append(f"- {u.name}: `{ref.name}` (keys {', '.join(ref.keys)}; shiplane reads it from {source})")
    return "\n".join(lines) + "\n"
