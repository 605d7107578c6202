"""Which configuration values are secrets, and a registry that names and deduplicates them.

A value is a secret when its variable's name says so (password, token, key, …) or it
is a URL with credentials in it. Paths (`*_FILE=/run/secrets/x`) are not: they point
at a secret mounted as a file, which is how it should be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shiplane.redaction import credential, sensitive_name


def looks_secret(key: str, value: str) -> bool:
    """Import moves a value to `.shiplane-secrets/` on the project's redaction rule, and also
    when it is a placeholder-like literal (`changeme`, `1234`): that is still the password the
    service runs with today."""
    if not value or value.startswith("/run/secrets/"):
        return False
    if credential(value) or value.lstrip().startswith("-----BEGIN"):
        return True
    return sensitive_name(key) and not value.startswith("/") and not re.fullmatch(r"\$\(\w+\)", value)


def secret_name(raw: str) -> str:
    """A DNS label from a variable or compose secret name (POSTGRES_PASSWORD → postgres-password)."""
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name) or "secret"
    return name[:40].rstrip("-")


@dataclass
class SecretBook:
    """Secret values found in configuration; one secret per distinct value."""

    values: dict[str, str] = field(default_factory=dict)  # name → value (written to the git-ignored dir)
    sources: dict[str, dict] = field(default_factory=dict)  # name → spec SecretSource
    objects: dict[tuple[str, str], str] = field(default_factory=dict)  # (Secret object, key) → name

    def add_value(self, key: str, value: str, owner: str) -> str:
        for name, known in self.values.items():
            if known == value:
                return name
        name = secret_name(key)
        if name in self.sources:
            name = secret_name(f"{owner}-{key}")
        n = 2
        base = name
        while name in self.sources:
            name, n = f"{base[:37]}-{n}", n + 1
        self.values[name] = value
        self.sources[name] = {"fromFile": f".shiplane-secrets/{name}"}
        return name

    def add_source(self, raw: str, source: dict) -> str:
        name = secret_name(raw)
        self.sources.setdefault(name, source)
        return name
