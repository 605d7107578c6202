"""API versions deprecated or removed in the target Kubernetes version.

Table from the Kubernetes deprecated-API migration guide; kinds not listed are fine.
"""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity

# (apiVersion, kind) → (deprecated in, removed in, replacement apiVersion)
API_TABLE: dict[tuple[str, str], tuple[tuple[int, int], tuple[int, int], str]] = {}


def _add(api: str, kinds: str, deprecated: tuple[int, int], removed: tuple[int, int], use: str) -> None:
    for kind in kinds.split():
        API_TABLE[(api, kind)] = (deprecated, removed, use)


_add("extensions/v1beta1", "Deployment DaemonSet ReplicaSet", (1, 8), (1, 16), "apps/v1")
_add("extensions/v1beta1", "NetworkPolicy", (1, 9), (1, 16), "networking.k8s.io/v1")
_add("extensions/v1beta1", "PodSecurityPolicy", (1, 10), (1, 16), "(none: use Pod Security Admission)")
_add("extensions/v1beta1", "Ingress", (1, 14), (1, 22), "networking.k8s.io/v1")
_add("apps/v1beta1", "Deployment StatefulSet ReplicaSet", (1, 9), (1, 16), "apps/v1")
_add("apps/v1beta2", "Deployment StatefulSet DaemonSet ReplicaSet", (1, 9), (1, 16), "apps/v1")
_add("networking.k8s.io/v1beta1", "Ingress IngressClass", (1, 19), (1, 22), "networking.k8s.io/v1")
_add(
    "rbac.authorization.k8s.io/v1beta1",
    "Role ClusterRole RoleBinding ClusterRoleBinding",
    (1, 17),
    (1, 22),
    "rbac.authorization.k8s.io/v1",
)
_add("scheduling.k8s.io/v1beta1", "PriorityClass", (1, 14), (1, 22), "scheduling.k8s.io/v1")
_add("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", (1, 16), (1, 22), "apiextensions.k8s.io/v1")
_add(
    "admissionregistration.k8s.io/v1beta1",
    "MutatingWebhookConfiguration ValidatingWebhookConfiguration",
    (1, 16),
    (1, 22),
    "admissionregistration.k8s.io/v1",
)
_add("storage.k8s.io/v1beta1", "CSIDriver CSINode StorageClass VolumeAttachment", (1, 19), (1, 22), "storage.k8s.io/v1")
_add("coordination.k8s.io/v1beta1", "Lease", (1, 19), (1, 22), "coordination.k8s.io/v1")
_add("certificates.k8s.io/v1beta1", "CertificateSigningRequest", (1, 19), (1, 22), "certificates.k8s.io/v1")
_add("batch/v1beta1", "CronJob", (1, 21), (1, 25), "batch/v1")
_add("policy/v1beta1", "PodDisruptionBudget", (1, 21), (1, 25), "policy/v1")
_add("policy/v1beta1", "PodSecurityPolicy", (1, 21), (1, 25), "(none: use Pod Security Admission)")
_add("discovery.k8s.io/v1beta1", "EndpointSlice", (1, 21), (1, 25), "discovery.k8s.io/v1")
_add("events.k8s.io/v1beta1", "Event", (1, 19), (1, 25), "events.k8s.io/v1")
_add("node.k8s.io/v1beta1", "RuntimeClass", (1, 20), (1, 25), "node.k8s.io/v1")
_add("autoscaling/v2beta1", "HorizontalPodAutoscaler", (1, 22), (1, 25), "autoscaling/v2")
_add("autoscaling/v2beta2", "HorizontalPodAutoscaler", (1, 23), (1, 26), "autoscaling/v2")
_add("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema PriorityLevelConfiguration", (1, 23), (1, 26), "…/v1")
_add("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema PriorityLevelConfiguration", (1, 26), (1, 29), "…/v1")
_add("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema PriorityLevelConfiguration", (1, 29), (1, 32), "…/v1")
_add("storage.k8s.io/v1beta1", "CSIStorageCapacity", (1, 24), (1, 27), "storage.k8s.io/v1")


def _v(t: tuple[int, int]) -> str:
    return f"{t[0]}.{t[1]}"


def _lookup(obj):
    return API_TABLE.get((obj.get("apiVersion", ""), obj.get("kind", "")))


@rule(
    "api-removed",
    Group.APIS,
    Severity.CRITICAL,
    "API version removed in the target Kubernetes version",
    why="The API server no longer serves this apiVersion: applying the object fails.",
    fix="Migrate the object to the replacement apiVersion (kubectl convert helps).",
)
def removed(obj, ctx):
    entry = _lookup(obj)
    if entry and ctx.kubernetes_version >= entry[1]:
        v = _v(ctx.kubernetes_version)
        yield Hit(
            ("apiVersion",), f"{obj['apiVersion']} {obj['kind']} removed in {_v(entry[1])} (target {v}); use {entry[2]}"
        )


@rule(
    "api-deprecated",
    Group.APIS,
    Severity.MEDIUM,
    "API version deprecated in the target Kubernetes version",
    why="Deprecated apiVersions are removed a few releases later; the next cluster upgrade breaks the deploy.",
    fix="Migrate the object to the replacement apiVersion now.",
)
def deprecated(obj, ctx):
    entry = _lookup(obj)
    if entry and entry[0] <= ctx.kubernetes_version < entry[1]:
        yield Hit(("apiVersion",), f"{obj['apiVersion']} {obj['kind']} removed in {_v(entry[1])}; use {entry[2]}")


RULES = [removed, deprecated]
