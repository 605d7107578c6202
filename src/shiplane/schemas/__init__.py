"""Offline validation of rendered objects against the Kubernetes JSON schemas of a target version.

The schemas are the ones bundled by the `kubernetes-validate` package (strict
variant: unknown fields are errors). We load them ourselves: the 1.6 MB shared
definitions are parsed once per version, each kind's schema is bundled with the
definitions it needs, and compiled validators are cached per (version, kind).
jsonschema-rs answers "valid?" fast; python-jsonschema explains the rare failures.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import util
from pathlib import Path
from typing import Any

import jsonschema_rs

from shiplane.errors import InputError, InputErrors


@cache
def _root() -> Path:
    # Located, not imported: importing kubernetes_validate imports python-jsonschema (up to 1.5 s).
    spec = util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the kubernetes-validate package (Kubernetes schemas) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


@cache
def versions() -> list[str]:
    """Kubernetes minor versions with bundled schemas, oldest first ('1.25', …)."""
    found = {m.group(1) for p in _root().iterdir() if (m := re.match(r"^v(\d+\.\d+)\.\d+-local-strict$", p.name))}
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def _dir(version: str):
    if version not in versions():
        raise InputError(
            f"no Kubernetes schemas for version {version}; available: {', '.join(versions())}",
            hint="set kubernetesVersion of the stage to one of these",
        )
    return _root().joinpath(f"v{version}.0-local-strict")


_PREFIX = "/api/_definitions.json#/$defs/"


@cache
def _definitions(version: str) -> dict[str, Any]:
    return json.loads(_dir(version).joinpath("_definitions.json").read_text().replace(_PREFIX, "#/$defs/"))["$defs"]


def _bundle(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The kind's schema with just the definitions it reaches, inlined under local `$defs`.

    Local references keep `$ref` resolution cheap: with the 1.6 MB shared document
    as an external resource, each object took ~30 ms to check; bundled, ~1 ms.
    """
    needed: dict[str, Any] = {}
    todo: list[Any] = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] not in needed:
                needed[ref[8:]] = defs[ref[8:]]
                todo.append(defs[ref[8:]])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return {**schema, "$defs": needed}


@dataclass(frozen=True)
class _Validators:
    fast: Any  # jsonschema_rs: decides valid/invalid in microseconds
    schema: dict[str, Any]

    def explain(self, obj: dict[str, Any]) -> list[Any]:
        """python-jsonschema: every error, with its path. Imported here, for the rare failure: its
        import costs up to 1.5 s of CPU (where rfc3987-syntax is installed it compiles grammars)."""
        import jsonschema

        return sorted(
            jsonschema.Draft202012Validator(self.schema).iter_errors(obj),
            key=lambda e: list(map(str, e.absolute_path)),
        )


@cache
def _validator(version: str, kind: str, api_version: str) -> _Validators | None:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _dir(version).joinpath(f"{kind.lower()}-{group_version}.json")
    if not path.is_file():
        return None
    schema = _bundle(json.loads(path.read_text().replace(_PREFIX, "#/$defs/")), _definitions(version))
    return _Validators(jsonschema_rs.Draft202012Validator(schema), schema)


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(object)"


def problems(objects: list[dict[str, Any]], version: str) -> list[str]:
    """Every schema violation of every object, as `Kind name: field.path: message`."""
    out = []
    defined = custom_kinds(objects)
    for o in objects:
        kind, name = o.get("kind", "?"), o.get("metadata", {}).get("name", "?")
        if _custom(o, defined):
            continue  # a custom resource: its schema is its CRD's, which the API server applies
        validator = _validator(version, kind, o.get("apiVersion", ""))
        if validator is None:
            out.append(f"{kind} {name}: no schema for {o.get('apiVersion')} {kind} in Kubernetes {version}")
            continue
        if kind == "Secret":
            # Never let a secret value reach an error message.
            o = {**o, **{f: {k: "" for k in o[f]} for f in ("data", "stringData") if isinstance(o.get(f), dict)}}
        if validator.fast.is_valid(o):
            continue
        for err in validator.explain(o):
            out.append(f"{kind} {name}: {_path(err.absolute_path)}: {err.message}")
    return out


def custom_kinds(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(group, kind) of each CustomResourceDefinition among the objects."""
    return {
        ((o.get("spec") or {}).get("group", ""), ((o.get("spec") or {}).get("names") or {}).get("kind", ""))
        for o in objects
        if o.get("kind") == "CustomResourceDefinition"
    }


def _custom(o: dict[str, Any], defined: set[tuple[str, str]]) -> bool:
    group = o.get("apiVersion", "").rpartition("/")[0]
    return (group, o.get("kind")) in defined or bool(group and not _BUILT_IN_GROUP.match(group))


def unvalidated(objects: list[dict[str, Any]]) -> list[str]:
    """A note per custom resource (its schema is its CRD's: checked by the API server, not offline)."""
    defined = custom_kinds(objects)
    return [
        f"{o['kind']} {o['metadata'].get('name')}: a custom resource"
        + (
            " of a CustomResourceDefinition in the same spec"
            if (o["apiVersion"].rpartition("/")[0], o["kind"]) in defined
            else ""
        )
        + "; no offline schema check (the API server validates it against its CRD)"
        for o in objects
        if _custom(o, defined)
    ]


def validate(objects: list[dict[str, Any]], version: str) -> None:
    """Raise InputErrors listing every violation (rendered output is derived from the user's spec)."""
    found = problems(objects, version)
    if found:
        raise InputErrors(
            [f"Kubernetes {version} schema: {p}" for p in found],
            hint="the spec produced objects the API server would reject; fix the field named above",
        )


_BUILT_IN_GROUP = re.compile(r"^([a-z0-9-]+|[a-z0-9.-]+\.k8s\.io)$")


@cache
def type_schema(kind: str, api_version: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(schema, definitions) for reading an object's field types, from the newest bundled version.

    An apiVersion the newest version no longer serves (extensions/v1beta1 Deployment) falls
    back to the kind's current built-in schema: field types barely change between versions,
    and the policy rules read such objects by kind. Custom resources get None.
    """
    newest = versions()[-1]
    group = api_version.rpartition("/")[0]
    candidates = [p for p in _dir(newest).iterdir() if p.name.startswith(f"{kind.lower()}-")]
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    exact = [p for p in candidates if p.name == f"{kind.lower()}-{group_version}.json"]
    if not exact and not (group == "" or _BUILT_IN_GROUP.match(group)):
        return None
    for path in exact or sorted(candidates, key=lambda p: p.name):
        schema = json.loads(path.read_text().replace(_PREFIX, "#/$defs/"))
        if any(g.get("kind") == kind for g in schema.get("x-kubernetes-group-version-kind", [])):
            return schema, _definitions(newest)
    return None


def object_meta_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """ObjectMeta's schema: every object's `metadata`, custom resources included."""
    return {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}, _definitions(versions()[-1])
