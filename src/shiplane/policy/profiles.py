"""Profiles: which rules run, and how severe they are, as data.

A profile maps selectors to a severity (or OFF). The most specific selector wins:
rule id, then `group:<name>`, then `pss:<level>`, then `*`, then the rule's own default
(optional rules are off by default). `name@1.30` pins the Pod Security Standards version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shiplane.errors import InputError
from shiplane.policy.catalog import Group, Rule
from shiplane.policy.context import parse_version
from shiplane.policy.findings import Severity

OFF = None
Setting = Severity | None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    settings: dict[str, Setting] = field(default_factory=dict)
    pss_version: tuple[int, int] | None = None  # None: the target Kubernetes version

    def severity(self, rule: Rule) -> Setting:
        if rule.group is Group.SUPPRESSIONS:
            return rule.severity  # a broken suppression is always reported
        for key in (rule.id, f"group:{rule.group}", f"pss:{rule.pss}" if rule.pss else None, "*"):
            if key is not None and key in self.settings:
                return self.settings[key]
        return OFF if rule.optional else rule.severity

    @property
    def label(self) -> str:
        return f"{self.name}@{self.pss_version[0]}.{self.pss_version[1]}" if self.pss_version else self.name


_DEV_OFF = (
    "group:availability",
    "network-policy-missing",
    "ingress-tls-missing",
    "pss:restricted",
    "security-read-only-root-fs",
    "probes-liveness-missing",
    "resources-cpu-limit",
    "resources-ephemeral-storage",
    "labels-recommended-missing",
    "job-ttl-missing",
    "cronjob-deadline-missing",
    "cronjob-concurrency-allowed",
    "sa-token-automount",
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "baseline",
            "default: every best-practice rule; Pod Security baseline enforced, restricted hardening as advice",
        ),
        Profile(
            "restricted",
            "production: Pod Security restricted enforced, images pinned by digest, read-only root filesystem",
            {
                "pss:restricted": Severity.HIGH,
                "image-digest-missing": Severity.HIGH,
                "security-read-only-root-fs": Severity.MEDIUM,
                "availability-replicas": Severity.MEDIUM,
                "labels-recommended-missing": Severity.INFO,
            },
        ),
        Profile(
            "lenient",
            "development stages: security and correctness only; no availability or hardening advice",
            dict.fromkeys(_DEV_OFF, OFF),
        ),
        Profile(
            "pss-baseline",
            "exactly the Pod Security Standards baseline controls (what admission 'baseline' rejects)",
            {"*": OFF, "pss:baseline": Severity.HIGH},
        ),
        Profile(
            "pss-restricted",
            "exactly the Pod Security Standards restricted controls (what admission 'restricted' rejects)",
            {"*": OFF, "pss:baseline": Severity.HIGH, "pss:restricted": Severity.HIGH},
        ),
    )
}


def get(spec: str | Profile) -> Profile:
    """`baseline`, `restricted@1.30`, `pss-restricted@v1.29`, …"""
    if isinstance(spec, Profile):
        return spec
    name, _, version = spec.partition("@")
    if name not in PROFILES:
        raise InputError(f"unknown profile {name!r} (profiles: {', '.join(PROFILES)})")
    profile = PROFILES[name]
    if not version or version == "latest":
        return profile
    try:
        pinned = parse_version(version)
    except InputError:
        raise InputError(f"profile {spec!r}: the version must look like 1.30 or v1.30") from None
    return Profile(profile.name, profile.description, profile.settings, pinned)
