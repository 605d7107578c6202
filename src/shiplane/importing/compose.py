"""A resolved compose project → a shiplane spec (a plain dict), its report and secret values.

Pure: everything read from disk (Dockerfiles, bind-mount sources, secret files) arrives
in `facts` and `paths`, gathered by `host.survey`. Per service: what it runs, its ports
and health, its storage (which decides stateless vs stateful), then who may talk to whom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shiplane.importing import classify, containers, health, naming, normalizing, secretrefs, stages, storage
from shiplane.importing.composefile import Project
from shiplane.importing.images import ImageFacts
from shiplane.importing.naming import spec_name
from shiplane.importing.report import Report, ServiceReport
from shiplane.importing.sensitive import SecretBook, looks_secret
from shiplane.importing.storage import PathInfo, label

PORT_NAMES = {
    80: "http",
    443: "https",
    8080: "http",
    8000: "http",
    3000: "http",
    5000: "http",
    4200: "http",
    8081: "http",
    8090: "http",
    8888: "http",
    9000: "http",
    5432: "postgres",
    3306: "mysql",
    33060: "mysqlx",
    6379: "redis",
    27017: "mongo",
    9229: "debug",
    9230: "debug",
    5672: "amqp",
    11211: "memcached",
    9200: "http",
}


@dataclass
class Imported:
    spec: dict[str, Any]
    report: Report
    secret_values: dict[str, str] = field(default_factory=dict, repr=False)
    recipes: dict[str, str] = field(default_factory=dict)  # service → Dockerfile text (VM imports)


def _ports(
    svc: dict, f: ImageFacts, r: ServiceReport, hint: tuple[int, str] | None
) -> tuple[dict[str, Any], list[tuple[str, dict]]]:
    """(spec ports, [(name, compose port with a published side)])."""
    entries: list[dict] = []
    seen: set[tuple[int, str]] = set()
    for p in [*(svc.get("ports") or []), *(svc.get("expose") or [])]:
        if p.get("range_end"):
            _big_range(p, r)
        elif (p["target"], p["protocol"]) not in seen:
            seen.add((p["target"], p["protocol"]))
            entries.append(p)
    first: dict[int, dict] = {}  # target → its first compose port; published: targets published somewhere
    published_targets = set()
    for q in svc.get("ports") or []:
        first.setdefault(q["target"], q)
        if q.get("published"):
            published_targets.add(q["target"])
    if not entries and f.ports:
        entries = [{"target": p, "protocol": "tcp"} for p in f.ports]
        r.guessed.append(f"port(s) {', '.join(map(str, f.ports))} from the {f.source} (compose declares none)")
    if not entries and hint:
        entries = [{"target": hint[0], "protocol": "tcp"}]
        r.guessed.append(f"port {hint[0]} from {hint[1]} (compose declares none)")
    out: dict[str, Any] = {}
    published = []
    for p in entries:
        base = p.get("name") or (PORT_NAMES.get(p["target"]) if p["protocol"] == "tcp" else None)
        name = base if base and base not in out else f"{p['protocol']}-{p['target']}"
        n = 2
        while name in out:
            name, n = f"{p['protocol']}-{p['target']}-{n}", n + 1
        out[name] = p["target"] if p["protocol"] == "tcp" else {"port": p["target"], "protocol": p["protocol"].upper()}
        if p["target"] in published_targets:
            published.append((name, first[p["target"]]))
    if out:
        r.mapped.append("ports → " + ", ".join(f"{n} {v if isinstance(v, int) else v['port']}" for n, v in out.items()))
    return out, published


def _big_range(p: dict, r: ServiceReport) -> None:
    span = f"{p['target']}-{p['range_end']}/{p['protocol']}"
    r.blockers.append(
        f"port range {span} ({p['range_end'] - p['target'] + 1} ports) not mapped: ranges above "
        f"{normalizing.MAX_PORT_RANGE} ports would become as many named ports and Service ports; media servers "
        "(RTP) usually need hostNetwork or a TURN/media relay in Kubernetes — add the few ports clients use under ports"
    )


def _public(
    sname: str, app: str, f: ImageFacts, published: list[tuple[str, dict]], r: ServiceReport, gaps: set[str]
) -> dict | None:
    public = None
    lb: list[str] = []
    for name, p in published:
        local = p.get("host_ip") in ("127.0.0.1", "localhost", "::1")
        if local:
            r.dropped.append(f"port {p['target']} published on {p['host_ip']} only: a local debugging port")
        elif public is None and (name.startswith("http") or f.http) and p["protocol"] == "tcp":
            public = {"host": f"{sname}.{app}.localhost", "port": name}
            r.mapped.append(
                f"published port {p.get('published') or '(any)'}:{p['target']} → public (Ingress) on port {name}, "
                f"host {public['host']} (a candidate: set the real host name)"
            )
        else:
            lb.append(f"{p.get('published') or '(any)'}:{p['target']}/{p['protocol']}")
    if lb:
        r.mapped.append(
            f"published port(s) {', '.join(lb)} → serviceType LoadBalancer (its ports reachable outside the "
            "cluster; externalTrafficPolicy Local keeps client addresses)"
        )
    return public


def _build(svc: dict, out_dir: Path, r: ServiceReport) -> dict | None:
    b = svc.get("build")
    if not b:
        return None
    ctx = b["context"]
    out: dict[str, Any] = {"context": storage.rel(ctx, out_dir) if ctx.startswith("/") else ctx}
    if b.get("dockerfile", "Dockerfile") != "Dockerfile":
        out["dockerfile"] = b["dockerfile"]
    if b.get("target"):
        out["target"] = b["target"]
        if re.search(r"dev|debug|builder", b["target"]):
            r.guessed.append(
                f"build target {b['target']!r} looks like a development stage; production images "
                "usually build the final stage"
            )
    if b.get("args"):
        out["args"] = {k: v or "" for k, v in b["args"].items()}
    return out


def convert(
    project: Project,
    *,
    facts: dict[str, ImageFacts],
    paths: dict[str, PathInfo],
    out_dir: Path,
    connections: str = "inferred",
) -> Imported:
    app = spec_name(project.name)
    files = [storage.rel(str(p.resolve()), project.directory) for p in project.files]
    report = Report(tool="compose", app=app, sources=files)
    book = SecretBook()
    gaps: set[str] = set()
    names = naming.unique([(s, project.where(("services", s))) for s in project.services], "compose service")
    users: dict[str, list[str]] = {}
    for s, svc in project.services.items():
        for v in svc.get("volumes") or []:
            if v.get("type") == "volume" and v.get("source"):
                users.setdefault(v["source"], []).append(s)
    secrets_dir = classify.compose_secrets(project, paths, out_dir, book, report)
    hints = classify.hinted_ports(project)
    services: dict[str, dict[str, Any]] = {}
    ports_of: dict[str, dict] = {}
    reports: dict[str, ServiceReport] = {}
    for s, svc in project.services.items():
        name = names[s]
        r = ServiceReport(name=name, source=f"compose service {s!r}")
        if name != s:
            r.mapped.append(
                f"renamed from {s!r} (Kubernetes names are lowercase DNS labels): clients that use the "
                "old host name must change"
            )
        f = facts.get(s) or ImageFacts()
        out: dict[str, Any] = {}
        image = svc.get("image")
        if image and not re.match(
            r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:"
            r"[a-f0-9]{64})?$",
            image,
        ):
            r.blockers.append(f"image {image!r} is not a valid reference; replaced by {app}-{name}")
            image = None
        build = _build(svc, out_dir, r)
        out["image"] = image or stages.placeholder(f"{app}-{name}")
        if build:
            out["build"] = build
        if svc.get("entrypoint") is not None:
            out["command"] = containers.escape(svc["entrypoint"])
        if svc.get("command") is not None:
            out["args"] = containers.escape(svc["command"])
        if svc.get("working_dir"):
            out["workingDir"] = svc["working_dir"]
        ports, published = _ports(svc, f, r, hints.get(s))
        if ports:
            out["ports"] = ports
        ports_of[s] = ports
        st = storage.volumes(svc, s, r, paths, project.volumes, users, project.directory, out_dir)
        env = containers.environment(svc.get("environment") or {}, name, book, r)
        if svc.get("x-env-files"):
            r.mapped.append(f"env_file {', '.join(svc['x-env-files'])} → env")
        data_on_volume = f.data and any(
            (m if isinstance(m, str) else m["path"]).rstrip("/") == f.data for m in st.mounts.values()
        )
        for k, v in f.env.items():
            if data_on_volume and k not in env:
                env[k] = v
                r.guessed.append(f"env {k}={v}: a fresh volume's root is not empty (lost+found)")
        if env:
            out["env"] = env
        if svc.get("healthcheck"):
            simple = {n: (p if isinstance(p, int) else p["port"]) for n, p in ports.items()}
            try:
                probes, notes = health.probes(svc["healthcheck"], simple)
            except ValueError as err:
                probes, notes = {}, [f"healthcheck dropped: {err}"]
            if probes:
                out["probes"] = probes
            r.mapped += notes
        res = containers.resources(svc, r)
        if res:
            out["resources"] = res
        sec, read_only = containers.security(svc, f, r, gaps)
        if read_only and not svc.get("read_only"):
            for path in f.writable:
                if not any((m if isinstance(m, str) else m["path"]) == path for m in st.mounts.values()):
                    vol = label(Path(path).name, st.volumes)
                    st.volumes[vol] = {"scratch": {}}
                    st.mounts[vol] = path
                    r.guessed.append(
                        f"scratch volume {vol} at {path}: the image writes there, and the root filesystem is read-only"
                    )
        classify.secret_files(svc, project, secrets_dir, st, r)
        if st.state and sec.get("runAsUser") and "persistent" in str(st.volumes):
            sec["fsGroup"] = sec.get("runAsGroup", sec["runAsUser"])
        if st.volumes:
            out["volumes"] = st.volumes
            out["mounts"] = st.mounts
        if st.files:
            out["files"] = st.files
        if sec:
            out["security"] = sec
        out.update(classify.misc(svc, r, gaps, report))
        if svc.get("labels") or svc.get("annotations"):
            ann = containers.annotations({**(svc.get("labels") or {}), **(svc.get("annotations") or {})}, r)
            if ann:
                out["annotations"] = ann
        public = _public(name, app, f, published, r, gaps)
        if public:
            out["public"] = public
        if any("serviceType LoadBalancer" in m for m in r.mapped):
            out["serviceType"] = "LoadBalancer"
        classify.blockers(svc, f, st, r)
        services[s] = out
        reports[s] = r
        r.why = "; ".join(st.state)
    sensitive = {v: k for k, v in project.interpolated.items() if looks_secret(k, v)}
    protector = secretrefs.Protector(book, sensitive)
    protector.services(services, reports)
    classify.kinds(project, services, reports, ports_of)
    classify.dependencies(project, services, reports, names)
    classify.connections(project, services, reports, ports_of, names, connections, report)
    spec: dict[str, Any] = {
        "apiVersion": "shiplane.io/v1alpha1",
        "app": {"name": app},
        "defaults": {"resources": containers.DEFAULT_RESOURCES},
    }
    if book.sources:
        spec["secrets"] = book.sources
    spec["services"] = {names[s]: services[s] for s in project.services}
    report.services = [reports[s] for s in project.services]
    spec["stages"] = stages.standard(app, spec["services"], report)
    for s, wanted in project.skipped.items():
        report.notes.append(
            f"service {s!r} skipped: its profile(s) {', '.join(wanted)} are not enabled (pass --profile {wanted[0]})"
        )
    for var in project.unset:
        report.notes.append(f"variable {var} is not set: it became an empty string (as compose does)")
    report.spec_gaps = sorted(gaps)
    report.notes += protector.notes
    secretrefs.scrub_report(report, protector.values())
    return Imported(spec=spec, report=report, secret_values=dict(book.values))
