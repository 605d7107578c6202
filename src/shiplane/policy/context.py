"""Everything a check may look at besides its own object: the other objects of the run.

Cross-object rules (Service → pods, Ingress → Service, NetworkPolicy → pods, PDB/HPA →
workloads) only judge a reference when the run includes the kind it points at in that
namespace: checking one file of a larger app must not report every reference as dangling.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from shiplane.errors import InputError
from shiplane.policy.pods import WORKLOADS, plain_selector_matches, pod_labels, selector_matches


def ns(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    value = meta.get("namespace") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else ""  # wrong types are reported by policy.shape


def name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    value = meta.get("name") or meta.get("generateName")
    return value if isinstance(value, str) else ""


def parse_version(text: str) -> tuple[int, int]:
    """`1.30`, `v1.30` or `1.30.2` → (1, 30); anything else is the user's mistake."""
    major, _, minor = text.strip().lstrip("v").partition(".")
    minor = minor.split(".")[0]
    if not (major.isdigit() and minor.isdigit()):
        raise InputError(f"Kubernetes version {text!r} should look like 1.30")
    return int(major), int(minor)


@dataclass
class Context:
    objects: list[dict[str, Any]]
    kubernetes_version: tuple[int, int] = (1, 36)
    pss_version: tuple[int, int] = (1, 36)
    _index: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    _targets: dict[int, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for o in self.objects:
            index[(o.get("kind", ""), ns(o))].append(o)
        self._index = dict(index)

    def of_kind(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        return self._index.get((kind, namespace), [])

    def has(self, kind: str, namespace: str) -> bool:
        return bool(self.of_kind(kind, namespace))

    def find(self, kind: str, namespace: str, name_: str) -> dict[str, Any] | None:
        return next((o for o in self.of_kind(kind, namespace) if name(o) == name_), None)

    @cached_property
    def _workloads(self) -> dict[str, list[tuple[dict[str, Any], dict[str, str]]]]:
        """Per namespace: (workload, pod labels)."""
        out: dict[str, list[tuple[dict[str, Any], dict[str, str]]]] = defaultdict(list)
        for o in self.objects:
            if o.get("kind") in WORKLOADS:
                out[ns(o)].append((o, pod_labels(o)))
        return out

    @cached_property
    def _by_label(self) -> dict[tuple[str, str, str], list[tuple[dict[str, Any], dict[str, str]]]]:
        """(namespace, label, value) → workloads whose pods carry it: selectors only scan candidates."""
        out: dict[tuple[str, str, str], list[tuple[dict[str, Any], dict[str, str]]]] = defaultdict(list)
        for namespace, items in self._workloads.items():
            for w, labels in items:
                for k, v in labels.items():
                    out[(namespace, k, str(v))].append((w, labels))
        return out

    def _candidates(self, pairs: dict[str, Any], namespace: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
        if not pairs:
            return self.workloads(namespace)
        k, v = next(iter(pairs.items()))
        return self._by_label.get((namespace, k, str(v)), [])

    def workloads(self, namespace: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
        return self._workloads.get(namespace, [])

    def has_workloads(self, namespace: str) -> bool:
        return bool(self._workloads.get(namespace))

    def service_targets(self, svc: dict[str, Any]) -> list[dict[str, Any]]:
        key = id(svc)
        if key not in self._targets:
            selector = (svc.get("spec") or {}).get("selector")
            candidates = self._candidates(selector, ns(svc)) if isinstance(selector, dict) and selector else []
            self._targets[key] = [w for w, labels in candidates if plain_selector_matches(selector, labels)]
        return self._targets[key]

    def selected_workloads(self, selector: dict[str, Any] | None, namespace: str) -> list[dict[str, Any]]:
        pairs = (selector.get("matchLabels") or {}) if isinstance(selector, dict) else {}
        return [w for w, labels in self._candidates(pairs, namespace) if selector_matches(selector, labels)]

    @cached_property
    def _selected_by(self) -> dict[int, dict[str, list[dict[str, Any]]]]:
        """id(workload) → kind → selecting objects (Services, PDBs, NetworkPolicies)."""
        out: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for o in self.objects:
            kind, spec = o.get("kind"), o.get("spec") or {}
            if kind == "Service":
                targets = self.service_targets(o)
            elif kind == "PodDisruptionBudget":
                targets = self.selected_workloads(spec.get("selector"), ns(o))
            elif kind == "NetworkPolicy":
                targets = self.selected_workloads(spec.get("podSelector"), ns(o))
            else:
                continue
            for w in targets:
                out[id(w)][kind].append(o)
        return out

    def selecting(self, workload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        return self._selected_by.get(id(workload), {}).get(kind, [])

    @cached_property
    def _hpa_targets(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        out = {}
        for hpa in self._index_all("HorizontalPodAutoscaler"):
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            out[(ref.get("kind", ""), ns(hpa), ref.get("name", ""))] = hpa
        return out

    def hpa_for(self, workload: dict[str, Any]) -> dict[str, Any] | None:
        return self._hpa_targets.get((workload.get("kind", ""), ns(workload), name(workload)))

    def _index_all(self, kind: str) -> list[dict[str, Any]]:
        return [o for (k, _), objs in self._index.items() if k == kind for o in objs]
