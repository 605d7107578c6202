"""StageSpec → Kubernetes objects (plain dicts), deterministic: same input, same bytes out.

    objects = render(stage, inputs, namespace=None)

Pure: secret values and config files arrive in `inputs` (see `shiplane.spec.inputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shiplane.releases.record import with_digest
from shiplane.rendering import config, limits, managed, networking, workloads
from shiplane.rendering.meta import labels, metadata, obj
from shiplane.rendering.pods import PodContext
from shiplane.spec import StageSpec
from shiplane.spec.inputs import Inputs, used_secrets, with_config

# Apply order (Helm's install order): what others refer to comes first.
KIND_ORDER = [
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "RuntimeClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodDisruptionBudget",
    "ServiceAccount",
    "ClusterRole",
    "Role",
    "ClusterRoleBinding",
    "RoleBinding",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
    "DaemonSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "Ingress",
]
_RANK = {k: i for i, k in enumerate(KIND_ORDER)}


def sort_key(o: dict[str, Any]) -> tuple[int, str, str]:
    return (_RANK.get(o["kind"], len(_RANK)), o["metadata"].get("namespace", ""), o["metadata"]["name"])


def shared_claims(stage: StageSpec, namespace: str) -> list[dict[str, Any]]:
    """One PersistentVolumeClaim per `shared` volume claim name (the first service naming it decides its size)."""
    claims: dict[str, dict[str, Any]] = {}
    for svc in stage.doc.services.values():
        for v in svc.volumes.values():
            if v.shared is None or v.shared.claim in claims:
                continue
            spec: dict[str, Any] = {
                "accessModes": list(v.shared.access_modes),
                "resources": {"requests": {"storage": v.shared.size}},
            }
            if v.shared.storage_class:
                spec["storageClassName"] = v.shared.storage_class
            meta = metadata(stage, namespace, v.shared.claim, labels(stage, v.shared.claim, component="storage"))
            claims[v.shared.claim] = obj("v1", "PersistentVolumeClaim", meta, spec=spec)
    return list(claims.values())


def render(
    stage: StageSpec, inputs: Inputs, *, namespace: str | None = None, images: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every object of the stage, in apply order; `namespace` overrides the stage's.

    `images` maps an image as the spec writes it to the reference to deploy instead (digest
    pinning, relocation): resolved by the caller, so rendering stays pure.

    Raises InputError(s) for what the API server would refuse (see `rendering.limits`).
    """
    if namespace is not None:
        limits.namespace(namespace)
    limits.placeholder_images(stage)
    ns = namespace or stage.namespace
    stage = with_config(stage, inputs.config)  # env `{config: REF}` → literals (placeholders offline)
    app = stage.doc.app.name
    out: list[dict[str, Any]] = []
    account = obj(
        "v1",
        "ServiceAccount",
        metadata(stage, ns, app, labels(stage, app)),
        automountServiceAccountToken=False,
    )
    out.append(account)
    secret_objs, secret_names = config.secrets(stage, ns, inputs, used_secrets(stage))
    out += secret_objs
    out += networking.app_policies(stage, ns)
    clients = networking.clients_of(stage)
    for name, svc in stage.doc.services.items():
        env_cm = config.env_config(stage, ns, name, svc)
        files_cm = config.files_config(stage, ns, name, svc, inputs)
        out += [cm for cm in (env_cm, files_cm) if cm]
        ctx = PodContext(
            account=app,
            secret_names=secret_names,
            env_config=env_cm["metadata"]["name"] if env_cm else None,
            files_config=files_cm["metadata"]["name"] if files_cm else None,
            images=images or {},
        )
        out += networking.services(stage, ns, name, svc)
        out.append(workloads.workload(stage, ns, name, svc, ctx))
        for extra in (
            workloads.autoscaler(stage, ns, name, svc),
            workloads.disruption_budget(stage, ns, name, svc),
            networking.ingress(stage, ns, name, svc),
            networking.service_policy(stage, ns, name, svc, clients.get(name, [])),
        ):
            if extra is not None:
                out.append(extra)
        if svc.migration:
            out.append(workloads.migration_job(stage, ns, name, svc.migration, ctx, svc))
            policy = networking.migration_policy(stage, ns, name, svc)
            if policy:
                out.append(policy)
    for name, mig in stage.doc.migrations.items():
        ctx = PodContext(account=app, secret_names=secret_names, images=images or {})
        out.append(workloads.migration_job(stage, ns, name, mig, ctx))
    out += shared_claims(stage, ns)
    out += managed.render(stage, ns, list(inputs.objects))
    if inputs.digest_key is not None:
        out = [with_digest(o, inputs.digest_key) for o in out]
    out.sort(key=sort_key)
    limits.guard(stage, out)
    return out
