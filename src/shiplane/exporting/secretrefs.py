"""Secrets leave an export as references: their names and keys, never their data.

A rendered Secret is `<spec name>-<content hash>` with one key per value; what the export keeps
is that name (so workloads refer to it unchanged) and the keys the user must fill.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from shiplane.exporting import Unit
from shiplane.rendering.exporting import HEADER, to_yaml

SPEC_LABEL = "shiplane.io/secret"


@dataclass(frozen=True)
class SecretRef:
    spec_name: str  # the spec's secret name (postgres-password)
    name: str  # the Secret object's name (postgres-password-1a2b3c4d5e)
    keys: tuple[str, ...]
    obj: dict[str, Any]  # the rendered Secret with its data removed


def split(objects: list[dict[str, Any]]) -> tuple[list[SecretRef], list[dict[str, Any]]]:
    """The Secrets as references, and every other object."""
    refs, rest = [], []
    for o in objects:
        if o["kind"] != "Secret":
            rest.append(o)
            continue
        keys = tuple(sorted({*o.get("data", {}), *o.get("stringData", {})}))
        bare = copy.deepcopy({k: v for k, v in o.items() if k not in ("data", "stringData")})
        spec_name = o["metadata"].get("labels", {}).get(SPEC_LABEL, o["metadata"]["name"])
        refs.append(SecretRef(spec_name, o["metadata"]["name"], keys, bare))
    return refs, rest


def placeholder(ref: SecretRef, unit: Unit, *, namespace: bool = True) -> str:
    """A Secret manifest to fill in and apply: every key empty, where its value comes from said above."""
    o = copy.deepcopy(ref.obj)
    if not namespace:
        o["metadata"].pop("namespace", None)
    o["stringData"] = dict.fromkeys(ref.keys, "")
    source = unit.secret_sources.get(ref.spec_name, "the deploying machine")
    return (
        HEADER + f"# Secret {ref.spec_name!r} of {unit.name}: fill in stringData (shiplane reads it from {source}),\n"
        "# then apply it before the app. Never commit the filled-in file.\n" + to_yaml(o)
    )
