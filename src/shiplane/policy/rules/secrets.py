"""Secret-looking values in env and ConfigMaps. A finding names the key, never the value."""

from __future__ import annotations

import re

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, cname, containers

SECRET_NAME = re.compile(
    r"(PASSW(OR)?D|PASSPHRASE|PWD$|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH_?KEY|DSN$)", re.I
)
# Names that point at a secret rather than hold one.
REFERENCE_NAME = re.compile(r"(_FILE|_PATH|_DIR|_URL_ENV|_NAME|_ID|_HEADER|_TYPE|_LENGTH|_TTL|_EXPIRY)$", re.I)
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{36}\b"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."
    r"|://[^/\s:@]+:[^/\s@]+@"
)
ASSIGNMENT = re.compile(r"(?im)^\s*[\w.-]*(password|passwd|secret|token|api_?key)[\w.-]*\s*[:=]\s*['\"]?([^\s'\"#]+)")


_PLAIN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^@\s]*$", re.I)


def placeholder(value: str) -> bool:
    """Not secrets: templating (${X}, {{ x }}, <x>), paths, numbers, flags, URLs without credentials."""
    v = value.strip()
    if not v or v[0] in "$<{%/" or v.isdigit() or _PLAIN_URL.match(v):
        return True
    return v.lower() in ("changeme", "none", "null", "true", "false", "yes", "no")


def looks_secret(name: str, value: str) -> bool:
    if SECRET_VALUE.search(value):
        return True
    return bool(SECRET_NAME.search(name)) and not REFERENCE_NAME.search(name) and not placeholder(value)


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
