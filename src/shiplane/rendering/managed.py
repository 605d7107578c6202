"""The spec's `objects:`: Kubernetes objects the model does not express, applied as they are.

Each gets shiplane's labels (so it is recorded, diffed and pruned like every other object) and
the stage's namespace unless its kind is cluster-scoped (a custom resource is cluster-scoped when
a CustomResourceDefinition of the same spec says so). Server-written fields are dropped.
"""

from __future__ import annotations

import copy
from typing import Any

from shiplane.rendering.meta import labels
from shiplane.spec import StageSpec

CLUSTER_SCOPED = frozenset(
    """Namespace Node PersistentVolume StorageClass CSIDriver CSINode VolumeAttachment PriorityClass RuntimeClass
    IngressClass ClusterRole ClusterRoleBinding CustomResourceDefinition APIService MutatingWebhookConfiguration
    ValidatingWebhookConfiguration ValidatingAdmissionPolicy ValidatingAdmissionPolicyBinding
    CertificateSigningRequest FlowSchema PriorityLevelConfiguration""".split()  # noqa: SIM905
)
_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")


def defined_kinds(objects: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(group, kind) → scope of each CustomResourceDefinition among the objects."""
    out = {}
    for o in objects:
        if o.get("kind") == "CustomResourceDefinition":
            spec = o.get("spec") or {}
            out[(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))] = spec.get("scope", "Namespaced")
    return out


def render(stage: StageSpec, namespace: str, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    crds = defined_kinds(objects)
    out = []
    for source in objects:
        obj = copy.deepcopy(source)
        obj.pop("status", None)
        meta = obj.setdefault("metadata", {})
        for key in _SERVER_FIELDS:
            meta.pop(key, None)
        group = obj["apiVersion"].rpartition("/")[0]
        cluster = obj["kind"] in CLUSTER_SCOPED or crds.get((group, obj["kind"])) == "Cluster"
        if cluster:
            meta.pop("namespace", None)
        else:
            meta["namespace"] = namespace
        ours = labels(stage, meta["name"], component="managed")
        own = meta.get("labels") or {}
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/version"):
            if key in own:
                ours.pop(key, None)
        meta["labels"] = {**own, **ours}
        out.append(obj)
    return out
