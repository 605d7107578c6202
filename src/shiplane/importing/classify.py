"""Across services: secrets and configs, kinds (stateless/stateful/job/daemon), dependencies,
who may talk to whom, blockers, and the keys that have no Kubernetes equivalent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shiplane.importing import connections as conn
from shiplane.importing import health, storage
from shiplane.importing.composefile import Project
from shiplane.importing.images import ImageFacts
from shiplane.importing.report import Report, ServiceReport
from shiplane.importing.sensitive import SecretBook
from shiplane.importing.storage import PathInfo, Storage

_NO_EQUIVALENT = {
    "container_name": "Kubernetes names pods; other services reach it by its service name",
    "hostname": "pods get their own host names",
    "domainname": "pods get their own host names",
    "stop_signal": "Kubernetes stops containers with SIGTERM (set STOPSIGNAL in the image)",
    "ulimits": "no per-container ulimits in Kubernetes: the container runtime's defaults apply",
    "logging": "the cluster collects container logs",
    "extra_hosts": "the spec has no host aliases",
    "dns": "pods use the cluster DNS",
    "dns_search": "pods use the cluster DNS",
    "dns_opt": "pods use the cluster DNS",
    "platform": "the cluster's nodes decide the platform",
    "init": "no init process option: add tini to the image if it needs one",
    "tty": "no terminal in Kubernetes pods by default",
    "stdin_open": "no terminal in Kubernetes pods by default",
    "pull_policy": "the cluster's pull policy applies",
    "links": "Service names resolve without links",
    "external_links": "no equivalent",
    "develop": "compose watch is for development",
    "post_start": "the spec has no lifecycle hooks",
    "group_add": "the spec has no supplemental groups",
    "mac_address": "no equivalent",
    "oom_score_adj": "the kubelet sets it from the QoS class",
    "pids_limit": "no per-container pid limit in Kubernetes",
    "cpu_shares": "use resources.requests.cpu",
    "userns_mode": "no equivalent in the spec",
}
_GAPS = {
    "extra_hosts": "extra_hosts: no field (hostAliases)",
    "post_start": "post_start/pre_stop: no lifecycle hooks",
    "stop_signal": "stop_signal: no field (container lifecycle.stopSignal)",
}
_HANDLED = frozenset(
    """image build command entrypoint working_dir user environment env_file ports expose healthcheck
    depends_on volumes shm_size networks deploy restart cap_add cap_drop privileged read_only
    secrets configs labels annotations runtime profiles extends scale mem_limit mem_reservation cpus
    network_mode security_opt pid ipc devices volumes_from stop_grace_period sysctls pre_stop""".split()  # noqa: SIM905
)


def compose_secrets(
    project: Project, paths: dict[str, PathInfo], out_dir: Path, book: SecretBook, report: Report
) -> dict[str, str]:
    """Top-level compose secrets → spec secrets; returns compose name → spec name."""
    used = {ref["source"] for svc in project.services.values() for ref in svc.get("secrets") or []}
    names = {}
    for raw in (s for s in project.secrets if s in used):
        opts = project.secrets[raw]
        var = re.sub(r"[^A-Z0-9]+", "_", raw.upper()).strip("_")
        if opts.get("file"):
            file = str((project.directory / opts["file"]).resolve())
            shown = storage.rel(file, project.directory)
            if paths.get(file, PathInfo("missing")).kind == "file":
                source = {"fromFile": storage.rel(file, out_dir)}
                report.secrets.append(f"{raw}: read from {shown} at render time (keep that file out of git)")
            else:
                source = {"fromEnv": var}
                report.secrets.append(
                    f"{raw}: its file {shown} does not exist, so the spec reads it from the "
                    f"environment variable {var} instead (or create the file and use fromFile)"
                )
        elif opts.get("environment"):
            source = {"fromEnv": opts["environment"]}
            report.secrets.append(f"{raw}: read from the environment variable {opts['environment']}")
        else:
            source = {"fromEnv": var}
            report.secrets.append(f"{raw}: external in compose; the spec reads it from the environment variable {var}")
        names[raw] = book.add_source(raw, source)
    if book.values or names:
        pass
    return names


def secret_files(svc: dict, project: Project, secrets: dict[str, str], st: Storage, r: ServiceReport) -> None:
    for ref in svc.get("secrets") or []:
        target = str(ref.get("target") or ref["source"])
        target = target if target.startswith("/") else f"/run/secrets/{target}"
        entry: dict[str, Any] = {"secret": secrets[ref["source"]]}
        if ref.get("mode") is not None:
            mode = int(str(ref["mode"]).replace("o", ""), 8) if isinstance(ref["mode"], str) else ref["mode"]
            entry["mode"] = f"0o{mode:o}"  # YAML 1.1 would read 0400 as an octal int; 0o400 stays readable
        st.files[target] = entry
        r.mapped.append(f"secret {ref['source']} → file {target}")
    for ref in svc.get("configs") or []:
        opts = project.configs.get(ref["source"]) or {}
        target = str(ref.get("target") or f"/{ref['source']}")
        if opts.get("content") is not None:
            st.files[target] = {"content": str(opts["content"])}
        elif opts.get("file"):
            src = str((project.directory / opts["file"]).resolve())
            if Path(src).exists():
                st.files[target] = {"fromFile": storage.rel(src, project.directory)}
            else:
                r.blockers.append(f"config {ref['source']}: its file {opts['file']} does not exist; not mounted")
                continue
        else:
            r.blockers.append(f"config {ref['source']}: external or from the environment; not mounted")
            continue
        r.mapped.append(f"config {ref['source']} → file {target}")


def misc(svc: dict, r: ServiceReport, gaps: set[str], report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {}
    deploy = svc.get("deploy") or {}
    replicas = deploy.get("replicas", svc.get("scale"))
    if replicas is not None:
        out["replicas"] = int(replicas)
        r.mapped.append(f"replicas {replicas}")
    for key in ("restart_policy", "placement", "update_config", "rollback_config", "endpoint_mode", "labels"):
        if key in deploy:
            r.dropped.append(f"deploy.{key}: Kubernetes controllers decide this (no field in the spec)")
    if svc.get("stop_grace_period") is not None:
        try:
            out["terminationGracePeriodSeconds"] = health.seconds(svc["stop_grace_period"])
            r.mapped.append(f"stop_grace_period {svc['stop_grace_period']} → terminationGracePeriodSeconds")
        except ValueError as err:
            r.dropped.append(f"stop_grace_period: {err}")
    if svc.get("sysctls"):
        raw = svc["sysctls"]
        pairs = raw.items() if isinstance(raw, dict) else (str(x).partition("=")[::2] for x in raw)
        out["sysctls"] = {str(k): str(v) for k, v in pairs}
        r.mapped.append(
            f"sysctls {', '.join(out['sysctls'])} → sysctls (outside the safe set they need a kubelet "
            "allow-list; the policy gate flags them)"
        )
    hooks = [h for h in svc.get("pre_stop") or [] if isinstance(h, dict) and h.get("command")]
    if hooks:
        cmd = hooks[0]["command"]
        out["preStop"] = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        r.mapped.append("pre_stop → preStop (exec before SIGTERM)")
        if len(hooks) > 1:
            r.dropped.append(f"pre_stop: {len(hooks) - 1} more hook(s); the spec runs one (chain them in a script)")
    if svc.get("runtime") and svc["runtime"] not in ("runc", "io.containerd.runc.v2"):
        rt = svc["runtime"]
        handler = re.sub(r"^io\.containerd\.|\.v\d+$", "", rt)
        out["runtimeClassName"] = re.sub(r"[^a-z0-9-]+", "-", handler.lower()).strip("-")
        r.mapped.append(f"runtime {rt} → runtimeClassName {out['runtimeClassName']}")
        report.prerequisites.append(
            f"a RuntimeClass named {out['runtimeClassName']} (containerd handler for {rt}) "
            f"on nodes that have it; without it the API server rejects the pods"
        )
    for key in svc:
        if key in _HANDLED or key.startswith("x-") or svc[key] in (None, [], {}):
            continue
        why = _NO_EQUIVALENT.get(key, "no equivalent in the spec")
        r.dropped.append(f"{key}: {why}")
        if key in _GAPS:
            gaps.add(_GAPS[key])
    return out


_MULTI = re.compile(r"supervisord|s6-svscan|runsvdir|\bpm2\b|(?<![&|])&(?![&>])\s*\S")


def blockers(svc: dict, f: ImageFacts, st: Storage, r: ServiceReport) -> None:
    mode = str(svc.get("network_mode") or "")
    if mode == "host":
        r.blockers.append("network_mode host: uses the node's network directly; pods get their own network")
    elif mode.startswith(("service:", "container:")):
        r.blockers.append(f"network_mode {mode}: shares another container's network; make it a sidecar of that service")
    for key in ("pid", "ipc"):
        if svc.get(key) == "host":
            r.blockers.append(f"{key}: host: shares the node's {key} namespace; no equivalent in the spec")
    if svc.get("devices"):
        r.blockers.append(f"devices {', '.join(map(str, svc['devices']))}: host devices are not available to pods")
    if svc.get("volumes_from"):
        r.blockers.append("volumes_from: shares another container's volumes; use a volume of one service instead")
    command = " ".join([*(svc.get("entrypoint") or []), *(svc.get("command") or [])])
    if f.several_processes:
        r.blockers.append(
            f"several processes in one container: {f.several_processes}; one process per container "
            "lets Kubernetes restart and scale each"
        )
    elif _MULTI.search(command):
        r.blockers.append(
            f"several processes in one container: the command starts background processes "
            f"({command[:60]!r}); split them into sidecars or services"
        )
    mounted = [(m if isinstance(m, str) else m["path"]).rstrip("/") for m in st.mounts.values()]
    if f.data and not any(f.data == m or f.data.startswith(m + "/") for m in mounted):
        r.blockers.append(
            f"local state outside volumes: the {f.source} keeps its data in {f.data}, which is on "
            "no volume, so every restart loses it (as in compose); add a named volume there"
        )


def kinds(project: Project, services: dict, reports: dict[str, ServiceReport], ports_of: dict) -> None:
    completed = {
        d
        for svc in project.services.values()
        for d, o in (svc.get("depends_on") or {}).items()
        if o.get("condition") == "service_completed_successfully"
    }
    for s, svc in project.services.items():
        out, r = services[s], reports[s]
        restart = svc.get("restart")
        state = "persistent" in str(out.get("volumes", {}))
        if (svc.get("deploy") or {}).get("mode") == "global":
            kind, why = "daemon", "deploy.mode global: one per node"
        elif s in completed or (restart in ("no", False) and not ports_of[s]):
            kind = "job"
            why = (
                "others wait for it to complete (service_completed_successfully)"
                if s in completed
                else "restart: no and no ports: it runs once"
            )
            out["job"] = {"backoffLimit": 0 if restart in ("no", False) else 6}
            for key in ("public", "replicas"):
                out.pop(key, None)
        elif state:
            kind, why = "stateful", r.why
        else:
            kind = "stateless"
            why = "no named volumes: its containers keep nothing worth keeping"
            if "'shared'" in str(out.get("volumes", {})):
                why = "its data is on a claim shared with other services (ReadWriteMany)"
            if any("local state outside volumes" in b for b in r.blockers):
                why = "no volumes, but it writes data that a restart loses (see blockers)"
        if kind == "stateful" and "persistent" not in str(out.get("volumes", {})):
            kind = "stateless"
        r.kind, r.why = kind, why
        if kind == "job" and state:
            r.blockers.append(
                "a one-shot service with persistent volumes: jobs get no claims; use scratch or make it long-running"
            )
            out["volumes"] = {k: ({"scratch": {}} if "persistent" in v else v) for k, v in out["volumes"].items()}
        if kind != "stateless":
            out_items = list(out.items())
            out.clear()
            out.update({"kind": kind, **dict(out_items)})
        if restart == "on-failure" or str(restart).startswith("on-failure"):
            r.dropped.append("restart on-failure: Kubernetes restarts long-running containers always")
        elif restart in ("no", False) and kind != "job":
            r.dropped.append("restart: no: a long-running service is always restarted in Kubernetes")


def dependencies(project: Project, services: dict, reports: dict, names: dict[str, str]) -> None:
    for s, svc in project.services.items():
        deps = []
        for dep, opts in (svc.get("depends_on") or {}).items():
            if dep not in project.services:
                reports[s].dropped.append(f"depends_on {dep}: that service's profile is not enabled")
                continue
            deps.append(names[dep])
            cond = opts.get("condition", "service_started")
            gate = {
                "service_healthy": "waits until it is ready",
                "service_completed_successfully": "waits until the job completes",
                "service_started": "starts after it",
            }[cond]
            reports[s].mapped.append(f"depends_on {dep} ({cond}) → dependsOn: the deploy {gate}")
            if opts.get("restart"):
                reports[s].dropped.append(f"depends_on {dep}.restart: no restart on a dependency's restart")
        if deps:
            services[s]["dependsOn"] = deps


def connections(
    project: Project, services: dict, reports: dict, ports_of: dict, names: dict, mode: str, report: Report
) -> None:
    """Least privilege from configuration (see `importing.connections`); networks bound it."""
    nets = {}
    for s, svc in project.services.items():
        nm = str(svc.get("network_mode") or "")
        nets[s] = set() if nm in ("host", "none") else set(svc.get("networks") or {"default": {}})
    hosts = {s.lower(): s for s in project.services}
    hosts.update({names[s]: s for s in project.services})
    texts = {s: conn.compose_texts(svc) for s, svc in project.services.items()}
    depends = {
        s: [d for d in (svc.get("depends_on") or {}) if d in project.services] for s, svc in project.services.items()
    }
    reachable = {s for s in project.services if ports_of[s] and services[s].get("kind") != "job"}
    for s in project.services:  # named or waited for, but nothing to connect to
        for o in {**conn.references(texts[s], hosts), **dict.fromkeys(depends[s])}:
            if o != s and not ports_of[o] and nets[s] & nets[o] and services[o].get("kind") != "job":
                reports[o].blockers.append(
                    f"{s} uses it, but no port is known (none in compose or the Dockerfile), so it gets no "
                    "Service and cannot be reached by name; add its port under ports"
                )
    conn.infer(
        services,
        reports,
        report,
        texts=texts,
        hosts=hosts,
        networks=nets,
        depends=depends,
        reachable=reachable,
        mode=mode,
    )
    for svc in services.values():
        svc["connectsTo"] = [names.get(c, c) if isinstance(c, str) else c for c in svc.get("connectsTo", [])] or None
        if svc["connectsTo"] is None:
            del svc["connectsTo"]
    for r in reports.values():
        for c in r.connections:
            if c.get("to"):
                c["to"] = names.get(c["to"], c["to"])


_HOST_PORT = re.compile(r"(?<![\w.-])([\w.-]+?):(\d{2,5})\b")
_LISTEN = re.compile(r"(?:^|[/@])(?:0\.0\.0\.0|\+|\*|\[::\]|localhost)?:(\d{2,5})\b")


def hinted_ports(project: Project) -> dict[str, tuple[int, str]]:
    """Ports compose never declares but configuration reveals: the service's own PORT or listen
    address (ASPNETCORE_URLS=http://+:8000), or another service's `name:port` (db:3306)."""
    out: dict[str, tuple[int, str]] = {}
    for s, svc in project.services.items():
        for key, value in (svc.get("environment") or {}).items():
            value = str(value)
            if key == "PORT" and value.isdigit():
                out.setdefault(s, (int(value), f"its env {key}"))
            elif re.search(r"(URLS?|ADDR(ESS)?|LISTEN|BIND)$", key) and (m := _LISTEN.search(value)):
                host = value.split("//")[-1].split("@")[-1]
                if "localhost" in value or not re.search(r"[a-z]{2,}[\w.-]*:\d", host):  # not another host's
                    out.setdefault(s, (int(m.group(1)), f"its env {key}"))
            for m in _HOST_PORT.finditer(value):  # first `name:port` of each other service
                if m.group(1) != s and m.group(1) in project.services:
                    out.setdefault(m.group(1), (int(m.group(2)), f"{s}'s env {key}"))
    return out
