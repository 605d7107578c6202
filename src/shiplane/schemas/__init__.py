"""Offline validation of rendered objects against the Kubernetes JSON schemas of a target version.

The schemas are the ones bundled by the `kubernetes-validate` package (strict
variant: unknown fields are errors). We load them ourselves so the 1.6 MB shared
definitions are parsed once per version and a compiled validator is kept per kind.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import referencing
from referencing.jsonschema import DRAFT202012

from shiplane.errors import InputError, InputErrors


def _root():
    return resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")


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


@cache
def _registry(version: str) -> referencing.Registry:
    defs = json.loads(_dir(version).joinpath("_definitions.json").read_text())
    resource = referencing.Resource.from_contents(defs, default_specification=DRAFT202012)
    # Kind schemas refer to "/api/_definitions.json#/$defs/…".
    return referencing.Registry().with_resource("/api/_definitions.json", resource)


@cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _dir(version).joinpath(f"{kind.lower()}-{group_version}.json")
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(object)"


def problems(objects: list[dict[str, Any]], version: str) -> list[str]:
    """Every schema violation of every object, as `Kind name: field.path: message`."""
    out = []
    for o in objects:
        kind, name = o.get("kind", "?"), o.get("metadata", {}).get("name", "?")
        validator = _validator(version, kind, o.get("apiVersion", ""))
        if validator is None:
            out.append(f"{kind} {name}: no schema for {o.get('apiVersion')} {kind} in Kubernetes {version}")
            continue
        if kind == "Secret":
            # Never let a secret value reach an error message.
            o = {**o, **{f: {k: "" for k in o[f]} for f in ("data", "stringData") if isinstance(o.get(f), dict)}}
        for err in sorted(validator.iter_errors(o), key=lambda e: list(map(str, e.absolute_path))):
            out.append(f"{kind} {name}: {_path(err.absolute_path)}: {err.message}")
    return out


def validate(objects: list[dict[str, Any]], version: str) -> None:
    """Raise InputErrors listing every violation (rendered output is derived from the user's spec)."""
    found = problems(objects, version)
    if found:
        raise InputErrors(
            [f"Kubernetes {version} schema: {p}" for p in found],
            hint="the spec produced objects the API server would reject; fix the field named above",
        )
