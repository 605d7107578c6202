"""Policy audit: best-practice and security rules over Kubernetes objects and Dockerfiles.

    report = evaluate(objects, profile="restricted", kubernetes_version="1.36",
                      overrides=[Override("host-port", "legacy LB until Q3")])
    if report.failing("high"): ...            # the deploy gate refuses

Rules are data (`RULES`), profiles are data (`PROFILES`); everything here is pure
except `manifests.read` and `dockerfile.read`, the two edges that open files.
"""

from shiplane.policy.evaluating import RULES, RULES_BY_ID, evaluate
from shiplane.policy.findings import Finding, ObjectRef, Override, Report, Severity, Suppressed
from shiplane.policy.manifests import Manifest
from shiplane.policy.profiles import PROFILES, Profile

__all__ = [
    "PROFILES",
    "RULES",
    "RULES_BY_ID",
    "Finding",
    "Manifest",
    "ObjectRef",
    "Override",
    "Profile",
    "Report",
    "Severity",
    "Suppressed",
    "evaluate",
]
