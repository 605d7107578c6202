"""Comparing what another tool builds from an export with what `shiplane render` gives.

Canonical form: objects sorted by kind, namespace and name; a Secret compared by everything
but its values (its keys from `data` or `stringData`), since exports never carry secret values.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml


def canonical(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for o in objects:
        if o.get("kind") == "Secret":
            o = copy.deepcopy(o)
            keys = sorted({*(o.pop("data", None) or {}), *(o.pop("stringData", None) or {})})
            o["keys"] = keys
        out.append(o)
    return sorted(out, key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def load_stream(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def differences(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> list[str]:
    """Readable differences (object by object), empty when equal."""
    a = {(o["kind"], o["metadata"]["name"]): o for o in canonical(got)}
    b = {(o["kind"], o["metadata"]["name"]): o for o in canonical(want)}
    out = [f"extra {k}" for k in a.keys() - b.keys()] + [f"missing {k}" for k in b.keys() - a.keys()]
    for k in sorted(a.keys() & b.keys()):
        if a[k] != b[k]:
            out.append(f"{k}:\n got: {a[k]}\nwant: {b[k]}")
    return out


def kustomize_command() -> list[str]:
    """A pinned kustomize when one is built (reproducible), else kubectl's embedded one, else build the pin."""
    import shutil
    import subprocess

    from shiplane.localcluster import tools
    from tests.conftest import go_tool

    if built := tools.locate("kustomize"):
        return [str(built), "build"]
    kubectl = shutil.which("kubectl")
    if (
        kubectl
        and "Kustomize Version"
        in subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, timeout=60).stdout
    ):
        return [kubectl, "kustomize"]
    return [str(go_tool("kustomize")), "build"]
