"""Shared by the VM sources (systemd units, Procfiles): the image placeholder, ports read off a
command line, and the spec skeleton. A VM has no image: the import leaves a clearly invalid
one (`.invalid` is reserved, RFC 2606) that loads, renders, and can never be pulled."""

from __future__ import annotations

import re
from typing import Any

from shiplane.importing import stages
from shiplane.importing.containers import DEFAULT_RESOURCES
from shiplane.importing.report import Report, ServiceReport

PLACEHOLDER_REGISTRY = stages.PLACEHOLDER_REGISTRY

_PORT_ARGS = [
    re.compile(r"(?:--port|-p|--http-port|--listen-port)[= ](\d{2,5})\b"),
    re.compile(r"(?:--bind|-b|--listen|--address|--addr)[= ]\S*:(\d{2,5})\b"),
    re.compile(r"\b(?:0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\]):(\d{2,5})\b"),
]


def placeholder(name: str, r: ServiceReport, what: str) -> str:
    image = stages.placeholder(name)
    r.blockers.append(f"image: a VM has none; build one that runs {what} and set image (placeholder {image})")
    return image


def port_from(command: str, env: dict[str, str]) -> tuple[int, str] | None:
    for pattern in _PORT_ARGS:
        m = pattern.search(command)
        if m:
            return int(m.group(1)), f"the command line ({m.group(0)})"
    if str(env.get("PORT", "")).isdigit():
        return int(env["PORT"]), "env PORT"
    return None


def skeleton(app: str, services: dict[str, Any], report: Report, secrets: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "apiVersion": "shiplane.io/v1alpha1",
        "app": {"name": app},
        "defaults": {"resources": DEFAULT_RESOURCES},
    }
    if secrets:
        spec["secrets"] = secrets
    spec["services"] = services
    spec["stages"] = stages.standard(app, services, report)
    return spec
