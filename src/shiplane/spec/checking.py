"""Rules that span fields: references resolve, kinds get the fields they need, limits exist.

Each rule returns Problems with the exact path, so the user sees the line to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from graphlib import CycleError, TopologicalSorter

from shiplane.spec.app import Document, Service
from shiplane.spec.containers import Container, Probe
from shiplane.spec.limits import CONFIG_KEY, file_key
from shiplane.spec.merging import Path_
from shiplane.spec.reporting import Problem, suggest

_LONG_RUNNING = ("stateless", "stateful", "daemon")


def _containers(svc: Service, path: Path_) -> Iterator[tuple[Path_, Container]]:
    yield path, svc
    for name, c in svc.sidecars.items():
        yield (*path, "sidecars", name), c
    for name, c in svc.init_containers.items():
        yield (*path, "initContainers", name), c
    if svc.migration:
        yield (*path, "migration"), svc.migration


_SUFFIX = {"m": Decimal("0.001"), "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
           "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18), "Ki": Decimal(2**10),
           "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50),
           "Ei": Decimal(2**60)}  # fmt: skip


def quantity(text: str) -> Decimal:
    """A Kubernetes quantity as a number (the model already checked the syntax)."""
    number = text.rstrip("mkMGTPEi")
    suffix = text[len(number) :]
    return Decimal(number.lstrip("+")) * _SUFFIX.get(suffix, Decimal(1))


def _limits(path: Path_, c: Container) -> Iterator[Problem]:
    missing = [k for k in ("cpu", "memory") if getattr(c.resources.limits, k) is None]
    if missing:
        yield Problem(
            (*path, "resources", "limits"),
            f"resource limits are mandatory: no {' or '.join(missing)} limit from this container, "
            "defaults.resources or the stage's overrides",
        )
    for field, key in (("cpu", "cpu"), ("memory", "memory"), ("ephemeral_storage", "ephemeralStorage")):
        request, limit = getattr(c.resources.requests, field), getattr(c.resources.limits, field)
        if request is not None and limit is not None and quantity(request) > quantity(limit):
            yield Problem(
                (*path, "resources", "requests", key),
                f"request {request} is above the limit {limit} (Kubernetes would reject the pod)",
            )


def _probe_ports(path: Path_, c: Container, ports: set[str]) -> Iterator[Problem]:
    for kind in ("readiness", "liveness", "startup"):
        probe: Probe | None = getattr(c.probes, kind)
        check = probe and (probe.http or probe.tcp or probe.grpc)
        if check and isinstance(check.port, str) and check.port not in ports:
            which = "http" if probe.http else "tcp" if probe.tcp else "grpc"
            yield Problem(
                (*path, "probes", kind, which, "port"),
                f"no port named {check.port!r} in this container{suggest(check.port, ports)}",
            )


def _service(doc: Document, name: str, svc: Service) -> Iterator[Problem]:
    path: Path_ = ("services", name)
    volumes = set(svc.volumes)
    mounted: set[str] = set()
    pod_ports: dict[str, Path_] = {}
    for group in ("sidecars", "initContainers"):
        for other in getattr(svc, "sidecars" if group == "sidecars" else "init_containers"):
            if other == name:
                yield Problem((*path, group, other), f"a container of this pod is already named {name!r}")
    for other in set(svc.sidecars) & set(svc.init_containers):
        yield Problem((*path, "initContainers", other), f"a sidecar is already named {other!r}")
    for cpath, c in _containers(svc, path):
        yield from _limits(cpath, c)
        yield from _probe_ports(cpath, c, set(c.ports))
        for vol in c.mounts:
            mounted.add(vol)
            if vol not in volumes:
                yield Problem((*cpath, "mounts", vol), f"no volume {vol!r} in this service{suggest(vol, volumes)}")
        for port in c.ports:
            if port in pod_ports and cpath[-1] != "migration":
                yield Problem((*cpath, "ports", port), f"port name {port!r} is already used in this pod")
            pod_ports.setdefault(port, cpath)
        for env, value in c.env.items():
            if value.secret and value.secret not in doc.secrets:
                yield Problem(
                    (*cpath, "env", env, "secret"),
                    f"no secret {value.secret!r} under secrets:{suggest(value.secret, doc.secrets)}",
                )
            if value.config:
                yield from _config_ref(doc, (*cpath, "env", env, "config"), value.config)
    for vol, spec in svc.volumes.items():
        if spec.persistent and svc.kind != "stateful":
            yield Problem(
                (*path, "volumes", vol, "persistent"),
                f"persistent volumes need kind: stateful (this service is {svc.kind}); "
                "use scratch for shared temporary space",
            )
        if vol not in mounted:
            yield Problem((*path, "volumes", vol), f"volume {vol!r} is not mounted by any container")
    yield from _file_keys(path, svc)
    for fpath, f in svc.files.items():
        if f.secret and f.secret not in doc.secrets:
            yield Problem(
                (*path, "files", fpath, "secret"),
                f"no secret {f.secret!r} under secrets:{suggest(f.secret, doc.secrets)}",
            )
    if svc.kind == "cronjob" and not svc.schedule:
        yield Problem((*path, "schedule"), "a cronjob needs a schedule (cron syntax, e.g. '0 3 * * *')")
    if svc.schedule and svc.kind != "cronjob":
        yield Problem((*path, "schedule"), f"schedule is only for kind: cronjob (this service is {svc.kind})")
    if svc.kind not in ("stateless", "stateful"):
        for field, set_ in (
            ("replicas", "replicas" in svc.model_fields_set),
            ("autoscaling", svc.autoscaling),
        ):
            if set_ and not (field == "replicas" and svc.kind in ("job", "cronjob") and svc.replicas == 1):
                yield Problem((*path, field), f"{field} is only for stateless and stateful services")
    if svc.kind not in _LONG_RUNNING and svc.public:
        yield Problem((*path, "public"), f"a {svc.kind} cannot be public")
    if svc.public:
        if not svc.ports:
            yield Problem((*path, "public"), "a public service needs at least one port")
        elif svc.public.port and svc.public.port not in svc.ports:
            yield Problem(
                (*path, "public", "port"),
                f"no port named {svc.public.port!r}{suggest(svc.public.port, svc.ports)}",
            )
    for i, dep in enumerate(svc.depends_on):
        if dep == name:
            yield Problem((*path, "dependsOn", i), "a service cannot depend on itself")
        elif dep not in doc.services:
            yield Problem((*path, "dependsOn", i), f"no service {dep!r}{suggest(dep, doc.services)}")
    for i, conn in enumerate(svc.connects_to):
        if conn.service is not None:
            target = doc.services.get(conn.service)
            if target is None:
                yield Problem(
                    (*path, "connectsTo", i),
                    f"no service {conn.service!r}{suggest(conn.service, doc.services)}",
                )
            elif not target.ports:
                yield Problem((*path, "connectsTo", i), f"service {conn.service!r} has no ports to connect to")
        elif conn.network is not None and not any(conn.network in s.networks for s in doc.services.values()):
            known = sorted({n for s in doc.services.values() for n in s.networks})
            yield Problem(
                (*path, "connectsTo", i),
                f"no service is on network {conn.network!r} (networks: {', '.join(known) or 'none'})",
            )


def _file_keys(path: Path_, svc: Service) -> Iterator[Problem]:
    """Files not from a secret share one ConfigMap, keyed by their path: keys must be valid and distinct."""
    keys: dict[str, str] = {}
    for fpath, f in svc.files.items():
        if f.secret is not None:
            continue
        key = file_key(fpath)
        if not CONFIG_KEY.match(key) or len(key) > 253:
            yield Problem(
                (*path, "files", fpath),
                f"this path becomes the ConfigMap key {key!r}, which Kubernetes refuses "
                "(at most 253 of a-z, A-Z, 0-9, '-', '_' and '.'); rename the file",
            )
        elif key in keys:
            yield Problem(
                (*path, "files", fpath),
                f"this file and {keys[key]!r} both become ConfigMap key {key!r} ('/' turns into '_'); "
                "rename one of them",
            )
        keys.setdefault(key, fpath)


def _generated_names(doc: Document) -> Iterator[Problem]:
    """Names shiplane derives (`<app>-default-deny`, `<svc>-headless`, `<svc>-migrate`) must not
    be the name of another object of the same kind, or one would silently replace the other."""
    app = doc.app.name
    for suffix, what in (("default-deny", "default-deny"), ("allow-dns", "DNS")):
        taken = f"{app}-{suffix}"
        if taken in doc.services:
            yield Problem(
                ("services", taken),
                f"service name {taken!r} is the name of the app's {what} NetworkPolicy (app.name {app!r} + "
                f"'-{suffix}'); rename the service",
            )
    for name in doc.migrations:
        own = doc.services.get(name)
        if f"{name}-migrate" in doc.services and not (own and own.migration):  # else reported below
            yield Problem(
                ("services", f"{name}-migrate"),
                f"service name '{name}-migrate' is taken by migration {name!r} (migrations.{name}: its pods "
                "carry that name); rename the service",
            )
    for name, svc in doc.services.items():
        headless = f"{name}-headless"
        other = doc.services.get(headless)
        if svc.kind == "stateful" and svc.ports and other and other.ports and other.kind in _LONG_RUNNING:
            yield Problem(
                ("services", headless),
                f"this service's Service has the name of the headless Service of stateful service {name!r} "
                f"(services.{name}); rename one of them",
            )
        migrate = f"{name}-migrate"
        if name in doc.migrations and svc.migration:
            yield Problem(
                ("migrations", name),
                f"this migration and services.{name}.migration would both be named {migrate!r} "
                "(their Jobs and pods); rename the app-level migration",
            )
        if svc.migration and migrate in doc.services:
            yield Problem(
                ("services", migrate),
                f"service name {migrate!r} is taken by the migration of service {name!r} "
                f"(services.{name}.migration: its pods and NetworkPolicy carry that name); rename the service",
            )


def _cycles(doc: Document) -> Iterator[Problem]:
    """dependsOn must form a DAG, or the deploy could never start anything.

    `graphlib` finds a cycle without recursion (a chain of thousands of services is fine)."""
    graph = {
        name: [d for d in svc.depends_on if d in doc.services and d != name]  # others are reported on their own
        for name, svc in doc.services.items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        # graphlib lists each node before the one that depends on it; show "a -> b" as "a dependsOn b",
        # starting from the first service of the cycle in the spec's order.
        ring = list(reversed(err.args[1]))[:-1]
        first = min(range(len(ring)), key=lambda i: list(doc.services).index(ring[i]))
        cycle = ring[first:] + ring[:first] + [ring[first]]
        yield Problem(("services", cycle[0], "dependsOn"), f"dependsOn cycle: {' -> '.join(cycle)}")


def check(doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    for name, svc in doc.services.items():
        problems.extend(_service(doc, name, svc))
    for name, mig in doc.migrations.items():
        if mig.image is None:
            problems.append(
                Problem(
                    ("migrations", name),
                    "missing required field 'image' (app-level migrations have no service image to reuse)",
                )
            )
        problems.extend(_limits(("migrations", name), mig))
    problems.extend(_cycles(doc))
    problems.extend(_generated_names(doc))
    problems.extend(_certificate_authorities(doc))
    problems.extend(_rotation_jobs(doc))
    return problems


def _config_ref(doc: Document, path: Path_, ref: str) -> Iterator[Problem]:
    """`NAME` names a `key` source of `config:`, `NAME/SUBKEY` a key under a `prefix` source."""
    name, _, sub = ref.partition("/")
    source = doc.config.get(name)
    if source is None:
        yield Problem(path, f"no config {name!r} under config:{suggest(name, doc.config)}")
    elif source.from_etcd.prefix and not sub:
        yield Problem(path, f"config {name!r} is a prefix: name one key under it ({name}/SUBKEY)")
    elif source.from_etcd.key and sub:
        yield Problem(path, f"config {name!r} is one key: refer to it as {name!r}, without /{sub}")


def _rotation_jobs(doc: Document) -> Iterator[Problem]:
    """A rotation Job's `connectsTo` names services of the app."""
    for name, source in doc.secrets.items():
        rotation = source.rotation
        if rotation is None:
            continue
        jobs = {"preflight": rotation.preflight}
        if rotation.dual:
            jobs.update(prepare=rotation.dual.prepare, retire=rotation.dual.retire)
        for key, job in jobs.items():
            for i, conn in enumerate(job.connects_to if job else []):
                if conn.service and conn.service not in doc.services:
                    under = ("rotation",) if key == "preflight" else ("rotation", "dual")
                    path = ("secrets", name, *under, key, "connectsTo", i)
                    yield Problem(path, f"no service {conn.service!r}{suggest(conn.service, doc.services)}")


def _certificate_authorities(doc: Document) -> Iterator[Problem]:
    """A `generate.ca` names a generated CA certificate of the same document."""
    for name, source in doc.secrets.items():
        ca = source.generate.ca if source.generate else None
        if ca is None:
            continue
        found = doc.secrets.get(ca)
        if found is None:
            where = ("secrets", name, "generate", "ca")
            yield Problem(where, f"no secret {ca!r} under secrets:{suggest(ca, doc.secrets)}")
        elif not (found.generate and found.generate.kind == "tls" and found.generate.is_ca):
            yield Problem(
                ("secrets", name, "generate", "ca"),
                f"secret {ca!r} is not a generated CA (expected `generate: {{kind: tls, isCa: true}}`)",
            )
