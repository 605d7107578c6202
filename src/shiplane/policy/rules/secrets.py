"""Secret-looking values in env and ConfigMaps. A finding names the key, never the value."""

from __future__ import annotations

import re

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, cname, containers
from shiplane.redaction import CREDENTIAL_VALUE, looks_secret, placeholder

# Which names and values are secrets is the project's one redaction rule (shiplane.redaction).
SECRET_VALUE = CREDENTIAL_VALUE
ASSIGNMENT = re.compile(r"(?im)^\s*[\w.-]*(password|passwd|secret|token|api_?key)[\w.-]*\s*[:=]\s*['\"]?([^\s'\"#]+)")


@rule(
    "secret-in-env",
    Group.SECRETS,
    Severity.HIGH,
    "secret-looking literal value in env",
    why="Literal secrets in a manifest end up in Git, in `kubectl get -o yaml` and in every log of the spec.",
    fix="Move the value to a Secret and use env[].valueFrom.secretKeyRef (or mount it as a file).",
    kinds=WORKLOADS,
)
def env_secret(obj, ctx):
    for path, c, _ in containers(obj):
        for i, e in enumerate(c.get("env") or []):
            if isinstance(e, dict) and isinstance(e.get("value"), str) and looks_secret(str(e.get("name")), e["value"]):
                yield Hit((*path, "env", i, "value"), f"{cname(c)} env {e.get('name')}")


@rule(
    "secret-in-configmap",
    Group.SECRETS,
    Severity.HIGH,
    "secret-looking value in a ConfigMap",
    why="ConfigMaps are readable by anyone who can read the namespace's config, and are not encrypted at rest.",
    fix="Move the value into a Secret and reference it from the app's config.",
    kinds={"ConfigMap"},
)
def configmap_secret(obj, ctx):
    for key, value in ((obj.get("data") or {}) | {}).items():
        text = "" if value is None else str(value)
        if looks_secret(str(key), text) or any(not placeholder(m.group(2)) for m in ASSIGNMENT.finditer(text)):
            yield Hit(("data", key), f"key {key}")


@rule(
    "env-duplicate",
    Group.SECRETS,
    Severity.MEDIUM,
    "environment variable set twice",
    why="Only the last of duplicate env entries wins; the other silently does nothing and confuses reviews.",
    fix="Remove one of the entries.",
    kinds=WORKLOADS,
)
def env_duplicate(obj, ctx):
    for path, c, _ in containers(obj):
        seen: set[str] = set()
        for i, e in enumerate(c.get("env") or []):
            n = e.get("name") if isinstance(e, dict) else None
            if n in seen:
                yield Hit((*path, "env", i, "name"), f"{cname(c)} env {n}")
            seen.add(n)


RULES = [env_secret, configmap_secret, env_duplicate]
