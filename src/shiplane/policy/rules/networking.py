"""NetworkPolicies (explicit firewalls), Services and Ingresses, checked against each other."""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.context import name, ns
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, containers


@rule(
    "network-policy-missing",
    Group.NETWORKING,
    Severity.MEDIUM,
    "pod not covered by a NetworkPolicy",
    why="Pods no NetworkPolicy selects accept traffic from anywhere in the cluster: no firewall at all.",
    fix="Add a default-deny NetworkPolicy for the namespace and allow the flows the app needs.",
    kinds=WORKLOADS,
)
def policy_missing(obj, ctx):
    if not ctx.selecting(obj, "NetworkPolicy"):
        yield Hit(("metadata", "name"))


@rule(
    "network-policy-selects-nothing",
    Group.NETWORKING,
    Severity.LOW,
    "NetworkPolicy selects no pods",
    why="A policy whose podSelector matches nothing enforces nothing: usually a label typo.",
    fix="Make spec.podSelector match the pod template labels (an empty selector selects all pods).",
    kinds={"NetworkPolicy"},
)
def policy_dangling(obj, ctx):
    selector = (obj.get("spec") or {}).get("podSelector")
    if ctx.has_workloads(ns(obj)) and not ctx.selected_workloads(selector, ns(obj)):
        yield Hit(("spec", "podSelector"))


@rule(
    "service-selects-nothing",
    Group.NETWORKING,
    Severity.HIGH,
    "Service selector matches no pods",
    why="A Service that selects no pods has no endpoints: every request to it fails.",
    fix="Make spec.selector match the workload's pod template labels.",
    kinds={"Service"},
)
def service_dangling(obj, ctx):
    selector = (obj.get("spec") or {}).get("selector")
    if selector and ctx.has_workloads(ns(obj)) and not ctx.service_targets(obj):
        yield Hit(("spec", "selector"))


@rule(
    "service-target-port-unknown",
    Group.NETWORKING,
    Severity.HIGH,
    "Service targetPort names a port no selected container declares",
    why="A named targetPort that no container exposes leaves the Service without endpoints on that port.",
    fix="Use a port name from the containers' ports, or the number.",
    kinds={"Service"},
)
def target_port(obj, ctx):
    targets = ctx.service_targets(obj)
    if not targets:
        return
    names = {p.get("name") for w in targets for _, c, _ in containers(w, ("containers",)) for p in c.get("ports") or []}
    for i, port in enumerate((obj.get("spec") or {}).get("ports") or []):
        target = port.get("targetPort")
        if isinstance(target, str) and not target.isdigit() and target not in names:
            yield Hit(("spec", "ports", i, "targetPort"), f"targetPort {target!r}")


@rule(
    "service-type-nodeport",
    Group.NETWORKING,
    Severity.LOW,
    "NodePort Service",
    why="NodePort opens the port on every node, bypassing the Ingress and its TLS.",
    fix="Use ClusterIP behind an Ingress (or a LoadBalancer if it must be reachable directly).",
    kinds={"Service"},
)
def node_port(obj, ctx):
    if (obj.get("spec") or {}).get("type") == "NodePort":
        yield Hit(("spec", "type"))


def _backends(obj):
    spec = obj.get("spec") or {}
    default = (spec.get("defaultBackend") or {}).get("service")
    if default:
        yield ("spec", "defaultBackend", "service"), default
    for i, r in enumerate(spec.get("rules") or []):
        for j, p in enumerate((r.get("http") or {}).get("paths") or []):
            svc = (p.get("backend") or {}).get("service")
            if svc:
                yield ("spec", "rules", i, "http", "paths", j, "backend", "service"), svc


@rule(
    "ingress-backend-missing",
    Group.NETWORKING,
    Severity.HIGH,
    "Ingress routes to a Service or port that does not exist",
    why="Requests routed to a missing Service or port get 503 from the ingress controller.",
    fix="Name an existing Service and one of its ports.",
    kinds={"Ingress"},
)
def ingress_backend(obj, ctx):
    if not ctx.has("Service", ns(obj)):
        return
    for path, backend in _backends(obj):
        svc = ctx.find("Service", ns(obj), backend.get("name", ""))
        if svc is None:
            yield Hit((*path, "name"), f"Service {backend.get('name')!r}")
            continue
        want = backend.get("port") or {}
        ports = (svc.get("spec") or {}).get("ports") or []
        if ("number" in want and all(p.get("port") != want["number"] for p in ports)) or (
            "name" in want and all(p.get("name") != want["name"] for p in ports)
        ):
            yield Hit((*path, "port"), f"Service {name(svc)!r} has no port {want.get('number', want.get('name'))}")


@rule(
    "ingress-tls-missing",
    Group.NETWORKING,
    Severity.LOW,
    "Ingress without TLS",
    why="Without spec.tls the app is served over plain HTTP.",
    fix="Add spec.tls with the hosts and a certificate Secret (cert-manager can issue it).",
    kinds={"Ingress"},
)
def ingress_tls(obj, ctx):
    if not (obj.get("spec") or {}).get("tls"):
        yield Hit(("spec",))


RULES = [policy_missing, policy_dangling, service_dangling, target_port, node_port, ingress_backend, ingress_tls]
