"""A Kustomize tree: `base/` holds the objects every unit renders, `overlays/<unit>/` what differs.

The base keeps the first unit's version of each shared object, without a namespace; an overlay sets
its namespace and patches, with JSON 6902 operations (exact: replace, add, remove at a field path),
each field where its unit differs from the base. Objects only some units render (a job only dev
runs, a ConfigMap whose content, and so whose hash-suffixed name, differs) are whole resources of
those overlays. Secrets come from a `secretGenerator` reading files the user provides, named in
README.md, under the Secret's exact name (no suffix hash: workloads already refer to it).
"""

from __future__ import annotations

from typing import Any

from shiplane.exporting import Unit, secretrefs
from shiplane.exporting.merge import MISSING, equal, identity, merge, varying
from shiplane.fileio.writing import OWN, safe_name
from shiplane.rendering.exporting import HEADER, to_yaml

KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


def _strip_namespace(o: dict[str, Any], namespace: str) -> dict[str, Any]:
    if o["metadata"].get("namespace") == namespace:
        o = {**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "namespace"}}
    return o


def _pointer(path: tuple) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _target(ident: tuple[str, str, str]) -> dict[str, str]:
    api, kind, name = ident
    group, _, version = api.rpartition("/")
    out = {"group": group} if group else {}
    return {**out, "version": version, "kind": kind, "name": name}


def _file(o: dict[str, Any]) -> str:
    return safe_name(f"{o['kind'].lower()}-{o['metadata']['name']}") + ".yaml"


def secret_file(ref: secretrefs.SecretRef, key: str) -> str:
    """Where the user puts a Secret key's value, relative to the overlay."""
    return f"secrets/{ref.spec_name}" if ref.keys == ("value",) else f"secrets/{ref.spec_name}.{key}"


def _generator(ref: secretrefs.SecretRef) -> dict[str, Any]:
    meta = ref.obj["metadata"]
    options: dict[str, Any] = {"disableNameSuffixHash": True}
    if ref.obj.get("immutable"):
        options["immutable"] = True
    if meta.get("labels"):
        options["labels"] = meta["labels"]
    if meta.get("annotations"):
        options["annotations"] = meta["annotations"]
    return {
        "name": ref.name,
        "type": ref.obj.get("type", "Opaque"),
        "files": [f"{k}={secret_file(ref, k)}" for k in ref.keys],
        "options": options,
    }


def tree(units: list[Unit], *, app: str) -> dict[str, str]:
    refs: list[list[secretrefs.SecretRef]] = []
    by_ident: dict[tuple, dict[int, dict]] = {}
    for i, unit in enumerate(units):
        secret_refs, rest = secretrefs.split(unit.objects)
        refs.append(secret_refs)
        for o in rest:
            by_ident.setdefault(identity(o), {})[i] = _strip_namespace(o, unit.namespace)

    files: dict[str, str] = {}
    base: list[str] = []
    only: dict[int, list[str]] = {i: [] for i in range(len(units))}
    patches: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(units))}
    for ident, per_unit in by_ident.items():
        if len(per_unit) < len(units):
            for i, o in per_unit.items():
                name = _file(o)
                files[f"overlays/{units[i].name}/resources/{name}"] = HEADER + to_yaml(o)
                only[i].append(f"resources/{name}")
            continue
        values = [per_unit[i] for i in range(len(units))]
        name = _file(values[0])
        files[f"base/{name}"] = HEADER + to_yaml(values[0])
        base.append(name)
        changes = varying(merge(values))
        for i in range(1, len(units)):
            ops = []
            for path, v in changes:
                mine, theirs = v.values[i], v.values[0]
                if (mine is MISSING and theirs is MISSING) or (
                    mine is not MISSING and theirs is not MISSING and equal(mine, theirs)
                ):
                    continue
                if mine is MISSING:
                    ops.append({"op": "remove", "path": _pointer(path)})
                else:
                    ops.append({"op": "add" if theirs is MISSING else "replace", "path": _pointer(path), "value": mine})
            if ops:
                rel = f"patches/{name}"
                files[f"overlays/{units[i].name}/{rel}"] = HEADER + to_yaml(ops)
                patches[i].append({"path": rel, "target": _target(ident)})

    files["base/kustomization.yaml"] = HEADER + to_yaml({**KUSTOMIZATION, "resources": base})
    for i, unit in enumerate(units):
        k: dict[str, Any] = {**KUSTOMIZATION, "namespace": unit.namespace, "resources": ["../../base", *only[i]]}
        if patches[i]:
            k["patches"] = patches[i]
        if refs[i]:
            k["secretGenerator"] = [_generator(r) for r in refs[i]]
            files[f"overlays/{unit.name}/secrets/.gitignore"] = (
                f"{OWN}: the secret values you put here never belong in Git.\n*\n!.gitignore\n"
            )
        files[f"overlays/{unit.name}/kustomization.yaml"] = HEADER + to_yaml(k)
    files["README.md"] = _readme(app, units, refs)
    return files


def _readme(app: str, units: list[Unit], refs: list[list[secretrefs.SecretRef]]) -> str:
    lines = [
        f"# Generated by shiplane: the Kustomize tree of {app}",
        "",
        "`base/` holds the objects every stage shares; `overlays/<stage>/` sets the namespace, patches what",
        "differs and adds what only that stage has. Build or apply one with:",
        "",
        "```sh",
        *[f"kubectl kustomize overlays/{u.name}    # or: kubectl apply -k overlays/{u.name}" for u in units],
        "```",
        "",
        "## Secrets",
        "",
        "No secret value is exported. Each overlay's `secretGenerator` reads the files below, which you",
        "create (one value per file, no trailing newline unless the value has one); `secrets/` is",
        "git-ignored. The build fails until they exist.",
        "",
    ]
    for i, u in enumerate(units):
        for ref in refs[i]:
            source = u.secret_sources.get(ref.spec_name, "the deploying machine")
            for key in ref.keys:
                lines.append(f"- `overlays/{u.name}/{secret_file(ref, key)}`: secret {ref.spec_name!r} ({source})")
    return "\n".join(lines) + "\n"
