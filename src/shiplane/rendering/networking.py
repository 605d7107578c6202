"""Services, Ingress and NetworkPolicies: the app's firewall is written down, not implied.

Policy model: every pod of the namespace is denied all ingress and egress, DNS
egress is allowed, then each service gets exactly what the spec says: traffic from
the services that `connectsTo` it, from anywhere to its public and metrics ports,
and egress to what it `connectsTo` itself.

`connectsTo: [{network: N}]` is one label rule, not a list of pairs: pods of services on N carry
`network.shiplane.io/N`, pods that reach N carry `reaches.shiplane.io/N`; each object's size stays
constant however many services share N (a 1,000-service compose network was a million pairs).
"""

from __future__ import annotations

from typing import Any

from shiplane.rendering.meta import labels, metadata, obj, selector
from shiplane.spec import Service, StageSpec
from shiplane.spec.app import Connection

_SERVED = ("stateless", "stateful", "daemon")


def services(stage: StageSpec, namespace: str, name: str, svc: Service) -> list[dict[str, Any]]:
    if not svc.ports or svc.kind not in _SERVED:
        return []
    ports = [
        {"name": n, "port": p.service_port or p.port, "targetPort": n, "protocol": p.protocol}
        for n, p in svc.ports.items()
    ]
    meta = metadata(stage, namespace, name, labels(stage, name, svc))
    spec_: dict[str, Any] = {"type": svc.service_type, "selector": selector(stage, name), "ports": ports}
    if svc.external_traffic_policy and svc.service_type != "ClusterIP":
        spec_["externalTrafficPolicy"] = svc.external_traffic_policy
    out = [obj("v1", "Service", meta, spec=spec_)]
    if svc.kind == "stateful":
        # The governing Service of the StatefulSet: stable per-pod DNS names, even before ready.
        headless = metadata(stage, namespace, f"{name}-headless", labels(stage, name, svc))
        spec = {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector(stage, name),
            "ports": ports,
        }
        out.append(obj("v1", "Service", headless, spec=spec))
    return out


def ingress(stage: StageSpec, namespace: str, name: str, svc: Service) -> dict[str, Any] | None:
    pub = svc.public
    if pub is None or not svc.ports:
        return None
    port = pub.port or next(iter(svc.ports))
    path = {
        "path": pub.path,
        "pathType": "Prefix",
        "backend": {"service": {"name": name, "port": {"name": port}}},
    }
    spec: dict[str, Any] = {}
    if pub.class_name:
        spec["ingressClassName"] = pub.class_name
    if pub.tls is not None:
        spec["tls"] = [{"hosts": [pub.host], "secretName": pub.tls.secret_name or f"{name}-tls"}]
    spec["rules"] = [{"host": pub.host, "http": {"paths": [path]}}]
    meta = metadata(stage, namespace, name, labels(stage, name, svc), pub.annotations or None)
    return obj("networking.k8s.io/v1", "Ingress", meta, spec=spec)


ON_NETWORK = "network.shiplane.io/"
REACHES = "reaches.shiplane.io/"


def network_labels(svc: Service) -> dict[str, str]:
    """Pod-template labels only (selectors never change, so a workload's selector stays immutable)."""
    out = {ON_NETWORK + n: "true" for n in svc.networks}
    out.update({REACHES + c.network: "true" for c in svc.connects_to if c.network is not None})
    return out


def _port_list(svc: Service, names: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"port": n, "protocol": p.protocol} for n, p in svc.ports.items() if names is None or n in names]


def app_policies(stage: StageSpec, namespace: str) -> list[dict[str, Any]]:
    app = stage.doc.app.name
    app_labels = labels(stage, app)
    deny = obj(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        metadata(stage, namespace, f"{app}-default-deny", app_labels),
        spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    )
    dns_peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    dns = obj(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        metadata(stage, namespace, f"{app}-allow-dns", dict(app_labels)),
        spec={
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [dns_peer], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}],
        },
    )
    return [deny, dns]


def _egress(stage: StageSpec, svc: Service) -> list[dict[str, Any]]:
    rules = []
    for conn in svc.connects_to:
        if conn.network is not None:  # every port of every service on the network
            rules.append({"to": [{"podSelector": {"matchLabels": {ON_NETWORK + conn.network: "true"}}}]})
        elif conn.service is not None:
            target = stage.doc.services[conn.service]
            rules.append(
                {
                    "to": [{"podSelector": {"matchLabels": selector(stage, conn.service)}}],
                    "ports": _port_list(target),
                }
            )
        else:
            rule: dict[str, Any] = {"to": [{"ipBlock": {"cidr": conn.cidr}}]}
            if conn.ports:
                rule["ports"] = [{"port": p, "protocol": "TCP"} for p in conn.ports]
            rules.append(rule)
    return rules


def clients_of(stage: StageSpec) -> dict[str, list[str]]:
    """service → the services that connect to it, in spec order (computed once per render);
    a network that some service reaches counts as the client `network:N` of each service on it."""
    out: dict[str, list[str]] = {}
    reached = {c.network for s in stage.doc.services.values() for c in s.connects_to if c.network is not None}
    for client, s in stage.doc.services.items():
        for c in s.connects_to:
            if c.service is not None and client not in out.setdefault(c.service, []):
                out[c.service].append(client)
    for name, s in stage.doc.services.items():
        out.setdefault(name, []).extend(f"network:{n}" for n in s.networks if n in reached)
    return out


def _client_labels(stage: StageSpec, client: str) -> dict[str, str]:
    """A client service's selector, or the label of every pod that reaches a network (`network:N`)."""
    if client.startswith("network:"):
        return {REACHES + client.removeprefix("network:"): "true"}
    return selector(stage, client)


def service_policy(
    stage: StageSpec, namespace: str, name: str, svc: Service, clients: list[str]
) -> dict[str, Any] | None:
    ingress_rules = []
    clients = list(clients)
    if svc.kind == "stateful" and svc.ports:
        clients.append(name)  # replicas of a stateful service talk to each other (replication, quorum)
    if clients and svc.ports:
        peers = [
            {
                "podSelector": {
                    "matchLabels": {REACHES + c[8:]: "true"} if c.startswith("network:") else selector(stage, c)
                }
            }
            for c in dict.fromkeys(clients)
        ]
        ingress_rules.append({"from": peers, "ports": _port_list(svc)})
    open_ports = ([svc.public.port or next(iter(svc.ports))] if svc.public and svc.ports else []) + (
        ["metrics"] if "metrics" in svc.ports else []
    )
    if open_ports:
        # Ingress controllers and Prometheus run in other namespaces we cannot name in advance.
        ingress_rules.append({"from": [{"namespaceSelector": {}}], "ports": _port_list(svc, open_ports)})
    egress = _egress(stage, svc)
    if not ingress_rules and not egress:
        return None
    spec: dict[str, Any] = {"podSelector": {"matchLabels": selector(stage, name)}, "policyTypes": []}
    if ingress_rules:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress_rules
    if egress:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return obj(
        "networking.k8s.io/v1", "NetworkPolicy", metadata(stage, namespace, name, labels(stage, name, svc)), spec=spec
    )


def migration_policy(stage: StageSpec, namespace: str, name: str, svc: Service) -> dict[str, Any] | None:
    """A migration reaches what its service reaches (its database, typically)."""
    egress = _egress(stage, svc)
    if not egress:
        return None
    spec = {
        "podSelector": {"matchLabels": {"shiplane.io/migration-for": name}},
        "policyTypes": ["Egress"],
        "egress": egress,
    }
    meta = metadata(stage, namespace, f"{name}-migrate", labels(stage, f"{name}-migrate", svc, component="migration"))
    return obj("networking.k8s.io/v1", "NetworkPolicy", meta, spec=spec)


def job_policies(
    stage: StageSpec, namespace: str, name: str, pod: dict[str, str], connections: list[Connection]
) -> list[dict[str, Any]]:
    """NetworkPolicies letting a one-off pod (a secret rotation's Job, labels `pod`) through the app's
    default deny: egress to its `connectsTo`, and ingress on each service it connects to."""
    if not connections:
        return []
    egress = []
    out = []
    for i, conn in enumerate(connections):
        if conn.service is not None:
            target = stage.doc.services[conn.service]
            egress.append(
                {"to": [{"podSelector": {"matchLabels": selector(stage, conn.service)}}], "ports": _port_list(target)}
            )
            out.append(
                obj(
                    "networking.k8s.io/v1",
                    "NetworkPolicy",
                    {"name": f"{name}-in-{i}", "namespace": namespace, "labels": dict(pod)},
                    spec={
                        "podSelector": {"matchLabels": selector(stage, conn.service)},
                        "policyTypes": ["Ingress"],
                        "ingress": [
                            {"from": [{"podSelector": {"matchLabels": dict(pod)}}], "ports": _port_list(target)}
                        ],
                    },
                )
            )
        else:
            rule: dict[str, Any] = {"to": [{"ipBlock": {"cidr": conn.cidr}}]}
            if conn.ports:
                rule["ports"] = [{"port": p, "protocol": "TCP"} for p in conn.ports]
            egress.append(rule)
    out.insert(
        0,
        obj(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            {"name": f"{name}-out", "namespace": namespace, "labels": dict(pod)},
            spec={"podSelector": {"matchLabels": dict(pod)}, "policyTypes": ["Egress"], "egress": egress},
        ),
    )
    return out
