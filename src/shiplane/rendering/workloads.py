"""Workloads per service kind, migration Jobs, and the availability objects (HPA, PDB)."""

from __future__ import annotations

from typing import Any

from shiplane.rendering.meta import content_hash, labels, metadata, obj, selector
from shiplane.rendering.networking import network_labels
from shiplane.rendering.pods import PodContext, container, pod_spec, volumes
from shiplane.spec import Service, StageSpec
from shiplane.spec.app import Migration

_DEPENDS = "shiplane.io/depends-on"


def _template(stage: StageSpec, name: str, svc: Service, ctx: PodContext, restart: str | None = None) -> dict:
    annotations = dict(svc.annotations)
    metrics = svc.ports.get("metrics")
    if metrics:
        # The common Prometheus convention; a ServiceMonitor would need the operator's CRDs.
        annotations.update(
            {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(metrics.port),
                "prometheus.io/path": svc.metrics_path,
            }
        )
    meta: dict[str, Any] = {"labels": {**labels(stage, name, svc), **network_labels(svc)}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": pod_spec(name, svc, ctx, restart=restart)}


def _workload_meta(stage: StageSpec, namespace: str, name: str, svc: Service) -> dict:
    annotations = {_DEPENDS: ",".join(svc.depends_on)} if svc.depends_on else None
    return metadata(stage, namespace, name, labels(stage, name, svc), annotations)


def _job_spec(svc: Service, template: dict) -> dict:
    spec: dict[str, Any] = {"backoffLimit": svc.job.backoff_limit}
    for field, key in (
        ("active_deadline_seconds", "activeDeadlineSeconds"),
        ("ttl_seconds_after_finished", "ttlSecondsAfterFinished"),
        ("completions", "completions"),
        ("parallelism", "parallelism"),
    ):
        if getattr(svc.job, field) is not None:
            spec[key] = getattr(svc.job, field)
    spec["template"] = template
    return spec


def workload(stage: StageSpec, namespace: str, name: str, svc: Service, ctx: PodContext) -> dict[str, Any]:
    meta = _workload_meta(stage, namespace, name, svc)
    sel = {"matchLabels": selector(stage, name)}
    if svc.kind == "stateless":
        spec: dict[str, Any] = {} if svc.autoscaling else {"replicas": svc.replicas}
        spec.update(selector=sel, template=_template(stage, name, svc, ctx))
        return obj("apps/v1", "Deployment", meta, spec=spec)
    if svc.kind == "stateful":
        spec = {} if svc.autoscaling else {"replicas": svc.replicas}
        spec.update(serviceName=f"{name}-headless", selector=sel, template=_template(stage, name, svc, ctx))
        claims = [
            {
                "metadata": {"name": vol, "labels": selector(stage, name)},
                "spec": {
                    "accessModes": list(v.persistent.access_modes),
                    "resources": {"requests": {"storage": v.persistent.size}},
                    **({"storageClassName": v.persistent.storage_class} if v.persistent.storage_class else {}),
                },
            }
            for vol, v in svc.volumes.items()
            if v.persistent
        ]
        if claims:
            spec["volumeClaimTemplates"] = claims
        return obj("apps/v1", "StatefulSet", meta, spec=spec)
    if svc.kind == "daemon":
        return obj("apps/v1", "DaemonSet", meta, spec={"selector": sel, "template": _template(stage, name, svc, ctx)})
    template = _template(stage, name, svc, ctx, restart="Never")
    if svc.kind == "job":
        # A Job's template is immutable; a changed job is a new Job with a new name.
        meta["name"] = f"{name}-{content_hash(template)}"
        return obj("batch/v1", "Job", meta, spec=_job_spec(svc, template))
    cron = {"schedule": svc.schedule, "concurrencyPolicy": svc.job.concurrency_policy}
    return obj("batch/v1", "CronJob", meta, spec={**cron, "jobTemplate": {"spec": _job_spec(svc, template)}})


def migration_job(
    stage: StageSpec, namespace: str, name: str, mig: Migration, ctx: PodContext, svc: Service | None = None
) -> dict[str, Any]:
    """The migration as a Job, named by content so each release's migration is its own Job.

    A service's migration runs with the service's image, environment ConfigMap and
    scratch volumes unless it sets its own.
    """
    image = mig.image or (svc.image if svc else None)
    c = container(f"{name}-migrate"[:63], mig, ctx, image=image)
    if svc is not None:
        own = set(mig.env)
        inherited = [e for e in container(name, svc, ctx, main=svc).get("env", []) if e["name"] not in own]
        if ctx.env_config:
            c["envFrom"] = [{"configMapRef": {"name": ctx.env_config}}]
        if inherited or c.get("env"):
            c["env"] = inherited + c.get("env", [])
    pod: dict[str, Any] = {
        "serviceAccountName": ctx.account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Never",
        "containers": [c],
    }
    if svc is not None and mig.mounts:
        pod["volumes"] = volumes(svc, ctx, only=set(mig.mounts))
    pod_labels = labels(stage, f"{name}-migrate", svc, component="migration")
    pod_labels["shiplane.io/migration-for"] = name
    template = {"metadata": {"labels": pod_labels}, "spec": pod}
    annotations = {"shiplane.io/compatibility": mig.compatibility, "shiplane.io/migration-for": name}
    meta = metadata(stage, namespace, f"{name}-migrate-{content_hash(template)}", pod_labels, annotations)
    spec = {
        "backoffLimit": mig.backoff_limit,
        "activeDeadlineSeconds": mig.active_deadline_seconds,
        "template": template,
    }
    return obj("batch/v1", "Job", meta, spec=spec)


def autoscaler(stage: StageSpec, namespace: str, name: str, svc: Service) -> dict[str, Any] | None:
    a = svc.autoscaling
    if a is None:
        return None
    metrics = []
    for resource, target in (("cpu", a.cpu if a.cpu or a.memory else 80), ("memory", a.memory)):
        if target:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": target}},
                }
            )
    kind = "Deployment" if svc.kind == "stateless" else "StatefulSet"
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
        "minReplicas": a.min_replicas,
        "maxReplicas": a.max_replicas,
        "metrics": metrics,
    }
    return obj(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        metadata(stage, namespace, name, labels(stage, name, svc)),
        spec=spec,
    )


def disruption_budget(stage: StageSpec, namespace: str, name: str, svc: Service) -> dict[str, Any] | None:
    """Only for services that can survive losing a pod: more than one replica."""
    low = svc.autoscaling.min_replicas if svc.autoscaling else svc.replicas
    if svc.kind not in ("stateless", "stateful") or low < 2:
        return None
    spec = {"maxUnavailable": 1, "selector": {"matchLabels": selector(stage, name)}}
    return obj(
        "policy/v1", "PodDisruptionBudget", metadata(stage, namespace, name, labels(stage, name, svc)), spec=spec
    )
