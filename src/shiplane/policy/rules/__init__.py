"""The catalog of manifest rules, in report order; ids are stable (documented in docs/policy.md)."""

from __future__ import annotations

from shiplane.policy.catalog import Rule
from shiplane.policy.rules import (
    apis,
    availability,
    host,
    images,
    jobs,
    labels,
    networking,
    probes,
    processes,
    rbac,
    resources,
    secrets,
    security,
)

_MODULES = (resources, probes, security, host, images, availability, networking, labels, secrets, rbac, apis, jobs)
RULES: list[Rule] = [r for m in (*_MODULES, processes) for r in m.RULES]
