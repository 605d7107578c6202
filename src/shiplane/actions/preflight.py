"""Preflight's I/O: read the cluster facts once (only those the objects need), then ask the
pure `planning.preflight.check`. Nothing is written; an unreadable fact skips its check."""

from __future__ import annotations

from collections.abc import Callable, Generator
from decimal import Decimal

from shiplane.actions.target import Target
from shiplane.errors import KubeError, PreflightFailed
from shiplane.events import Event, Note, Step
from shiplane.planning import preflight
from shiplane.planning.preflight import Facts, Gap
from shiplane.status import capacity


def _names(items: list[dict]) -> frozenset[str]:
    return frozenset(i["metadata"]["name"] for i in items)


def app_usage(pods: list[dict]) -> capacity.Resources:
    """What an app's live pods count against a ResourceQuota (pods, requests.*, limits.*, cpu, memory)."""
    out: capacity.Resources = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        spec = pod.get("spec") or {}
        rows = [("pods", Decimal(1))]
        rows += [(f"requests.{k}", v) for k, v in capacity.pod_resources(spec).items()]
        rows += [(k, v) for k, v in capacity.pod_resources(spec).items() if k in ("cpu", "memory")]
        rows += [(f"limits.{k}", v) for k, v in capacity.pod_resources(spec, "limits").items()]
        for key, value in rows:
            out[key] = out.get(key, Decimal(0)) + value
    return out


def facts(target: Target, objects: list[dict]) -> tuple[Facts, list[str]]:
    """One read per fact, and only for facts these objects depend on; notes say what was unreadable."""
    kube, ns = target.kube, target.namespace
    notes: list[str] = []

    def read(what: str, fn: Callable[[], object]):
        try:
            return fn()
        except KubeError as err:
            notes.append(f"preflight: cannot read {what} ({err.message}); not checked")
            return None

    def names_of(api_version: str, kind: str) -> Callable[[], frozenset[str]]:
        return lambda: _names(kube.list(api_version, kind))

    specs = [s for s in map(preflight.pod_spec, objects) if s is not None]
    claims = [c for o in objects for c in preflight.claims(o)]
    kinds = sorted({(o["apiVersion"], o["kind"]) for o in objects})
    unserved = frozenset(k for k in kinds if read(f"discovery for {k[1]}", lambda k=k: kube.served(*k)) is False)
    custom = {(preflight.group_of(av), kind) for av, kind in unserved if preflight.is_custom(preflight.group_of(av))}
    crds = None
    if custom:
        listed = read(
            "CustomResourceDefinitions", lambda: kube.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        )
        if listed is not None:
            crds = {
                (c["spec"]["group"], c["spec"]["names"]["kind"]): tuple(
                    v["name"] for v in c["spec"].get("versions") or [] if v.get("served")
                )
                for c in listed
            }
    served_versions = {
        kind: tuple(read(f"discovery for {kind}", lambda kind=kind: kube.served_versions(kind)) or ())
        for av, kind in unserved
        if not preflight.is_custom(preflight.group_of(av))
    }
    quotas = read("ResourceQuotas", lambda: kube.list("v1", "ResourceQuota", namespace=ns))
    pods = []
    if quotas:
        selector = f"app.kubernetes.io/part-of={target.app}"
        pods = read("the app's pods", lambda: kube.list("v1", "Pod", namespace=ns, label_selector=selector)) or []
    return (
        Facts(
            runtime_classes=read("RuntimeClasses", names_of("node.k8s.io/v1", "RuntimeClass"))
            if any(s.get("runtimeClassName") for s in specs)
            else None,
            priority_classes=read("PriorityClasses", names_of("scheduling.k8s.io/v1", "PriorityClass"))
            if any(s.get("priorityClassName") for s in specs)
            else None,
            storage_classes=read("StorageClasses", names_of("storage.k8s.io/v1", "StorageClass"))
            if any(c.get("storageClassName") for c in claims)
            else None,
            ingress_classes=read("IngressClasses", names_of("networking.k8s.io/v1", "IngressClass"))
            if any((o.get("spec") or {}).get("ingressClassName") for o in objects if o["kind"] == "Ingress")
            else None,
            quotas=tuple(quotas) if quotas is not None else None,
            limit_ranges=tuple(read("LimitRanges", lambda: kube.list("v1", "LimitRange", namespace=ns)) or ()),
            app_usage=app_usage(pods),
            nodes=tuple(n) if (n := read("Nodes", lambda: kube.list("v1", "Node"))) is not None else None,
            unserved=unserved,
            served_versions=served_versions,
            crds=crds,
        ),
        notes,
    )


def gaps(target: Target, objects: list[dict]) -> tuple[list[Gap], list[str]]:
    """The gaps, and notes about facts that could not be read."""
    found, notes = facts(target, objects)
    return preflight.check(objects, found), notes


def run(target: Target, objects: list[dict]) -> Generator[Event]:
    """Deploy's preflight: raise PreflightFailed naming every gap, before anything is written."""
    yield Step("preflight")
    found, notes = gaps(target, objects)
    for note in notes:
        yield Note(note)
    if found:
        raise PreflightFailed(found)
    yield Step("preflight", done=True)
