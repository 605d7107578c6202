"""Limits the API server enforces that only show once objects are rendered.

The spec models check each field as it is written (see `shiplane.spec.limits`); what
depends on files read at render time (ConfigMap and Secret sizes), on the `-n` flag, or
on several fields together (two objects with one name) is checked here, naming the spec
field it came from. `guard` runs over every rendered object last, so nothing the API
server would refuse for these reasons leaves `render`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from shiplane.errors import InputError, InputErrors
from shiplane.spec import StageSpec
from shiplane.spec import limits as spec_limits
from shiplane.spec.fields import PLACEHOLDER_REGISTRY
from shiplane.spec.limits import MAX_ANNOTATION_BYTES, MAX_CONFIG_BYTES, human, size
from shiplane.spec.reporting import format_path, locate


def where(stage: StageSpec, path: tuple[str | int, ...]) -> str:
    """`file:line:col: field.path` of a spec field (or of its nearest ancestor in the files)."""
    mark = locate(stage.marks, path)
    return f"{mark}: {format_path(path)}" if mark else format_path(path)


def namespace(value: str) -> None:
    """A namespace given on the command line must be a name the API server accepts."""
    problem = spec_limits.dns_label(value)
    if problem:
        raise InputError(f"-n/--namespace {value!r}: expected {problem}")


def placeholder_images(stage: StageSpec) -> None:
    """A stage that pins images (test, prod) cannot deploy an image that is still to be built."""
    if not stage.stage.images.pin:
        return
    found = []
    for name, svc in stage.doc.services.items():
        parts = [(("services", name, "image"), svc.image)]
        parts += [(("services", name, "sidecars", s, "image"), c.image) for s, c in svc.sidecars.items()]
        parts += [(("services", name, "initContainers", s, "image"), c.image) for s, c in svc.init_containers.items()]
        if svc.migration and svc.migration.image:
            parts.append((("services", name, "migration", "image"), svc.migration.image))
        found += [(path, image) for path, image in parts if str(image or "").startswith(PLACEHOLDER_REGISTRY + "/")]
    found += [
        (("migrations", name, "image"), m.image)
        for name, m in stage.doc.migrations.items()
        if str(m.image or "").startswith(PLACEHOLDER_REGISTRY + "/")
    ]
    if found:
        raise InputErrors(
            [
                f"{where(stage, path)}: {image} is a placeholder (an image still to build or choose); stage "
                f"{stage.name!r} pins images (images.pin), so it cannot render it"
                for path, image in found
            ],
            hint="build and push the image, set that field to its reference with a version, "
            "then render again (the dev stage renders placeholders for the local plane)",
        )


def config_data(
    stage: StageSpec, path: tuple[str | int, ...], what: str, data: Mapping[str, str | bytes], parts: Mapping[str, str]
) -> None:
    """Refuse a ConfigMap or Secret whose data would exceed 1 MiB; `parts` names where each key came from."""
    total = size(dict(data))
    if total <= MAX_CONFIG_BYTES:
        return
    largest = sorted(data, key=lambda k: -len(data[k]))[:3]
    detail = ", ".join(f"{parts.get(k, k)} {human(size({k: data[k]}))}" for k in largest)
    raise InputError(
        f"{where(stage, path)}: {what} would hold {human(total)} ({total} bytes); Kubernetes refuses "
        f"more than {human(MAX_CONFIG_BYTES)} ({MAX_CONFIG_BYTES} bytes) per ConfigMap or Secret (largest: {detail})",
        hint="keep large files in the image or on a volume, not in the spec",
    )


def _source(stage: StageSpec, obj: dict[str, Any]) -> str:
    name = obj["metadata"].get("labels", {}).get("app.kubernetes.io/name", "")
    if name in stage.doc.services:
        return where(stage, ("services", name))
    base = name.removesuffix("-migrate")
    if base in stage.doc.services and stage.doc.services[base].migration:
        return where(stage, ("services", base, "migration"))
    if base in stage.doc.migrations:
        return where(stage, ("migrations", base))
    return where(stage, ("app", "name"))


def _name_problem(kind: str, name: str) -> str | None:
    if kind in ("Service", "Namespace"):
        return spec_limits.dns_label(name)  # Services: RFC 1035 in fact; spec names start with a letter
    if kind == "CronJob" and len(name) > 52:
        return f"at most 52 characters for a CronJob (found {len(name)})"
    return spec_limits.dns_subdomain(name)


def guard(stage: StageSpec, objects: Iterable[dict[str, Any]]) -> None:
    """Every rendered object unique by kind/namespace/name, well named, within the size limits."""
    problems: list[str] = []
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for o in objects:
        meta = o["metadata"]
        key = (o["kind"], meta.get("namespace", ""), meta["name"])
        ref = f"{o['kind']} {meta['name']!r}"
        if key in seen:
            problems.append(
                f"{ref} is rendered twice, from {_source(stage, seen[key])} and from {_source(stage, o)}; "
                "rename one of them"
            )
        seen.setdefault(key, o)
        if problem := _name_problem(o["kind"], meta["name"]):
            problems.append(f"{_source(stage, o)}: {ref}: name: expected {problem}")
        for key, value in (meta.get("labels") or {}).items():
            problem = spec_limits.qualified_name(key) or spec_limits.label_value(value)
            if problem:
                problems.append(f"{_source(stage, o)}: {ref}: labels: {problem}")
        annotations = meta.get("annotations") or {}
        total = size(annotations, keys=True)
        if total > MAX_ANNOTATION_BYTES:
            problems.append(
                f"{_source(stage, o)}: {ref}: annotations total {human(total)}; "
                f"Kubernetes allows {human(MAX_ANNOTATION_BYTES)} per object"
            )
        if o["kind"] in ("ConfigMap", "Secret"):
            data: dict[str, str | bytes] = dict(o.get("data") or {})
            if o["kind"] == "Secret":  # the API server counts decoded bytes
                data = {k: base64.b64decode(v) for k, v in data.items()}
            total = size(data)
            if total > MAX_CONFIG_BYTES:
                problems.append(
                    f"{_source(stage, o)}: {ref}: data total {human(total)}; "
                    f"Kubernetes allows {human(MAX_CONFIG_BYTES)} per {o['kind']}"
                )
    if problems:
        raise InputErrors(problems)
