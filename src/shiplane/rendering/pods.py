"""Containers and pod templates: security defaults, probes, resources, env, files and mounts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from shiplane.spec import Service
from shiplane.spec.containers import Container, EnvValue, Probe, Resources, Security
from shiplane.spec.limits import file_key  # the spec check refuses two files with one key

FILES_VOLUME = "shiplane-files"


@dataclass(frozen=True)
class PodContext:
    """Names the pod refers to: hashed ConfigMaps/Secrets, the service account."""

    account: str
    secret_names: dict[str, str]  # spec secret → rendered Secret name
    env_config: str | None = None  # ConfigMap with the main container's literal env
    files_config: str | None = None
    images: Mapping[str, str] = dataclass_field(default_factory=dict)  # image as written → pinned/relocated reference


def secret_volume(secret: str) -> str:
    return f"secret-{secret}"[:63]


def _amounts(a: Any) -> dict[str, str]:
    out = {}
    for field, key in (("cpu", "cpu"), ("memory", "memory"), ("ephemeral_storage", "ephemeral-storage")):
        value = getattr(a, field)
        if value is not None:
            out[key] = value
    return out


def resources(r: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    requests, limits = _amounts(r.requests), _amounts(r.limits)
    if r.gpu:
        requests[r.gpu_resource] = limits[r.gpu_resource] = str(r.gpu)
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def security_context(s: Security) -> dict[str, Any]:
    out: dict[str, Any] = {
        "allowPrivilegeEscalation": s.allow_privilege_escalation,
        "readOnlyRootFilesystem": s.read_only_root_filesystem,
        "runAsNonRoot": s.run_as_non_root,
    }
    if s.run_as_user is not None:
        out["runAsUser"] = s.run_as_user
    if s.run_as_group is not None:
        out["runAsGroup"] = s.run_as_group
    caps: dict[str, list[str]] = {}
    if s.drop_all_capabilities:
        caps["drop"] = ["ALL"]
    elif s.drop_capabilities:
        caps["drop"] = list(s.drop_capabilities)
    if s.add_capabilities:
        caps["add"] = list(s.add_capabilities)
    if caps:
        out["capabilities"] = caps
    if s.privileged:
        out["privileged"] = True
    out["seccompProfile"] = {"type": s.seccomp_profile}
    return out


def probe(p: Probe, ports: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.http:
        out["httpGet"] = {"path": p.http.path, "port": p.http.port, "scheme": p.http.scheme}
        if p.http.headers:
            out["httpGet"]["httpHeaders"] = [{"name": k, "value": v} for k, v in p.http.headers.items()]
    elif p.tcp:
        out["tcpSocket"] = {"port": p.tcp.port}
    elif p.exec:
        out["exec"] = {"command": list(p.exec)}
    elif p.grpc:
        # gRPC probes only take a number; resolve the port name here.
        port = p.grpc.port if isinstance(p.grpc.port, int) else ports[p.grpc.port]
        out["grpc"] = {"port": port, **({"service": p.grpc.service} if p.grpc.service is not None else {})}
    for field, key in (
        ("initial_delay_seconds", "initialDelaySeconds"),
        ("period_seconds", "periodSeconds"),
        ("timeout_seconds", "timeoutSeconds"),
        ("failure_threshold", "failureThreshold"),
        ("success_threshold", "successThreshold"),
    ):
        if getattr(p, field) is not None:
            out[key] = getattr(p, field)
    return out


def env_entry(name: str, v: EnvValue, ctx: PodContext) -> dict[str, Any]:
    if v.secret:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": ctx.secret_names[v.secret], "key": "value"}}}
    if v.field:
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": v.field}}}
    return {"name": name, "value": v.value}


def container(
    name: str, c: Container, ctx: PodContext, *, main: Service | None = None, image: str | None = None
) -> dict[str, Any]:
    """A container; `main` marks the service's own container, whose literal env lives in a ConfigMap."""
    written = image or c.image
    out: dict[str, Any] = {"name": name, "image": ctx.images.get(written, written)}
    if c.command is not None:
        out["command"] = list(c.command)
    if c.args is not None:
        out["args"] = list(c.args)
    if c.working_dir:
        out["workingDir"] = c.working_dir
    if c.ports:
        out["ports"] = [{"name": n, "containerPort": p.port, "protocol": p.protocol} for n, p in c.ports.items()]
    if main is not None and ctx.env_config:
        out["envFrom"] = [{"configMapRef": {"name": ctx.env_config}}]
    env = [env_entry(n, v, ctx) for n, v in c.env.items() if not (main is not None and v.value is not None)]
    if env:
        out["env"] = env
    out["resources"] = resources(c.resources)
    ports = {n: p.port for n, p in c.ports.items()}
    for kind in ("readiness", "liveness", "startup"):
        p = getattr(c.probes, kind)
        if p is not None:
            out[f"{kind}Probe"] = probe(p, ports)
    out["securityContext"] = security_context(c.security)
    if main is not None and getattr(main, "pre_stop", None):
        out["lifecycle"] = {"preStop": {"exec": {"command": list(main.pre_stop)}}}
    mounts = [
        {
            "name": vol,
            "mountPath": m.path,
            **({"readOnly": True} if m.read_only else {}),
            **({"subPath": m.sub_path} if m.sub_path else {}),
        }
        for vol, m in c.mounts.items()
    ]
    if main is not None:
        for path, f in main.files.items():
            if f.secret:
                mounts.append(
                    {"name": secret_volume(f.secret), "mountPath": path, "subPath": "value", "readOnly": True}
                )
            else:
                mounts.append({"name": FILES_VOLUME, "mountPath": path, "subPath": file_key(path), "readOnly": True})
    if mounts:
        out["volumeMounts"] = mounts
    out["terminationMessagePolicy"] = "FallbackToLogsOnError"
    return out


def volumes(svc: Service, ctx: PodContext, only: set[str] | None = None) -> list[dict[str, Any]]:
    """Pod volumes: scratch space, the files ConfigMap, one per mounted secret (persistent ones are claims)."""
    out: list[dict[str, Any]] = []
    for name, v in svc.volumes.items():
        if v.shared is not None and only is None:
            out.append({"name": name, "persistentVolumeClaim": {"claimName": v.shared.claim}})
        if v.scratch is None or (only is not None and name not in only):
            continue
        empty: dict[str, Any] = {}
        if v.scratch.memory:
            empty["medium"] = "Memory"
        if v.scratch.size_limit:
            empty["sizeLimit"] = v.scratch.size_limit
        out.append({"name": name, "emptyDir": empty})
    if only is not None:
        return out
    if ctx.files_config:
        items = []
        for path, f in svc.files.items():
            if f.secret is None:
                item: dict[str, Any] = {"key": file_key(path), "path": file_key(path)}
                if f.mode is not None:
                    item["mode"] = f.mode
                items.append(item)
        out.append({"name": FILES_VOLUME, "configMap": {"name": ctx.files_config, "items": items}})
    for secret in dict.fromkeys(f.secret for f in svc.files.values() if f.secret):
        out.append({"name": secret_volume(secret), "secret": {"secretName": ctx.secret_names[secret]}})
    return out


def pod_spec(name: str, svc: Service, ctx: PodContext, *, restart: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": getattr(svc, "service_account_name", None) or ctx.account,
        "automountServiceAccountToken": svc.automount_service_account_token,
        "enableServiceLinks": False,
    }
    if svc.runtime_class_name:
        spec["runtimeClassName"] = svc.runtime_class_name
    if getattr(svc, "termination_grace_period_seconds", None) is not None:  # services, not migrations
        spec["terminationGracePeriodSeconds"] = svc.termination_grace_period_seconds
    pod_security: dict[str, Any] = {}
    if svc.security.fs_group is not None:
        pod_security["fsGroup"] = svc.security.fs_group
    if getattr(svc, "sysctls", None):
        pod_security["sysctls"] = [{"name": k, "value": v} for k, v in svc.sysctls.items()]
    if pod_security:
        spec["securityContext"] = pod_security
    if restart:
        spec["restartPolicy"] = restart
    if svc.init_containers:
        spec["initContainers"] = [container(n, c, ctx) for n, c in svc.init_containers.items()]
    spec["containers"] = [container(name, svc, ctx, main=svc)] + [container(n, c, ctx) for n, c in svc.sidecars.items()]
    vols = volumes(svc, ctx)
    if vols:
        spec["volumes"] = vols
    return spec
