"""Where pods hide in each workload kind, and label-selector matching."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Path_ = tuple[str | int, ...]

# Pod spec path per kind (CronJob nests a Job template).
POD_SPEC_PATHS: dict[str, Path_] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOADS = frozenset(POD_SPEC_PATHS)
LONG_RUNNING = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"})
SCALABLE = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")


def dig(obj: Any, path: Path_) -> Any:
    for key in path:
        if isinstance(obj, dict) and isinstance(key, str):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


def pod_spec(obj: dict[str, Any]) -> tuple[Path_, dict[str, Any]] | None:
    path = POD_SPEC_PATHS.get(obj.get("kind", ""))
    if path is None:
        return None
    spec = dig(obj, path)
    return (path, spec) if isinstance(spec, dict) else None


def pod_meta(obj: dict[str, Any]) -> tuple[Path_, dict[str, Any]]:
    """The pod (template) metadata: labels and annotations the pods get."""
    path = (*POD_SPEC_PATHS.get(obj.get("kind", ""), ("spec",))[:-1], "metadata")
    if obj.get("kind") == "Pod":
        path = ("metadata",)
    meta = dig(obj, path)
    return path, meta if isinstance(meta, dict) else {}


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    labels = pod_meta(obj)[1].get("labels")
    return labels if isinstance(labels, dict) else {}


def containers(obj: dict[str, Any], groups: tuple[str, ...] = CONTAINER_GROUPS) -> Iterator[tuple[Path_, dict, str]]:
    """(path, container, group) of every container of the object's pod spec."""
    found = pod_spec(obj)
    if found is None:
        return
    base, spec = found
    for group in groups:
        items = spec.get(group)
        if isinstance(items, list):
            for i, c in enumerate(items):
                if isinstance(c, dict):
                    yield (*base, group, i), c, group


def cname(c: dict[str, Any]) -> str:
    return f"container {c.get('name', '?')!r}"


def effective(c: dict[str, Any], spec: dict[str, Any], key: str) -> Any:
    """A securityContext field as Kubernetes resolves it: the container's, else the pod's."""
    ctx = c.get("securityContext") or {}
    if key in ctx:
        return ctx[key]
    return (spec.get("securityContext") or {}).get(key)


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels; an empty selector matches all."""
    if not isinstance(selector, dict):
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != str(v):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def plain_selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A Service's map selector; an empty or missing one selects nothing we can see."""
    return bool(selector) and all(labels.get(k) == str(v) for k, v in selector.items())
