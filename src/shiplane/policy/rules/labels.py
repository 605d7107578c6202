"""Selectors that match their templates, and label values the API will accept."""

from __future__ import annotations

import re

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import POD_SPEC_PATHS, pod_labels, pod_meta, selector_matches

_SELECTED = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@rule(
    "selector-template-mismatch",
    Group.LABELS,
    Severity.HIGH,
    "selector does not match the pod template labels",
    why="The API server rejects a workload whose selector does not match its own template.",
    fix="Make spec.selector.matchLabels a subset of spec.template.metadata.labels.",
    kinds=_SELECTED,
)
def selector_mismatch(obj, ctx):
    selector = (obj.get("spec") or {}).get("selector")
    if isinstance(selector, dict) and not selector_matches(selector, pod_labels(obj)):
        yield Hit(("spec", "selector"))


@rule(
    "labels-invalid-value",
    Group.LABELS,
    Severity.HIGH,
    "label value the API rejects",
    why="Label values are at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric.",
    fix="Shorten or sanitise the value (e.g. replace '/' and '+' with '-').",
)
def invalid_value(obj, ctx):
    places = [(("metadata",), obj.get("metadata") or {})]
    if obj.get("kind") in POD_SPEC_PATHS and obj.get("kind") != "Pod":
        places.append(pod_meta(obj))
    for path, meta in places:
        for key, value in (meta.get("labels") or {}).items():
            text = "" if value is None else str(value)
            if len(text) > 63 or not _VALUE.match(text) or isinstance(value, bool):
                yield Hit((*path, "labels", key), f"label {key}")


RECOMMENDED = ("app.kubernetes.io/name",)


@rule(
    "labels-recommended-missing",
    Group.LABELS,
    Severity.INFO,
    "recommended label app.kubernetes.io/name missing",
    why="Tools (dashboards, shiplane status, kubectl -l) find an app's objects by the recommended labels.",
    fix="Add app.kubernetes.io/name (and app.kubernetes.io/instance, part-of) to metadata.labels.",
    kinds=frozenset(POD_SPEC_PATHS) | {"Service", "Ingress", "ConfigMap", "Secret"},
    optional=True,
)
def recommended(obj, ctx):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if not all(k in labels for k in RECOMMENDED):
        yield Hit(("metadata", "labels") if labels else ("metadata",))


RULES = [selector_mismatch, invalid_value, recommended]
