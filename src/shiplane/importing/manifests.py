"""Existing Kubernetes YAML → a spec, so a team can deploy with shiplane before rewriting anything.

The spec has no field for raw objects (see docs/import.md), so this is the nearest
approximation: workloads and the Services, Ingresses and ConfigMaps around them
become spec services (a reverse render); every other object is kept verbatim in
`raw/` next to the spec and listed in the report, to apply with kubectl meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from shiplane.errors import InputError, InputErrors
from shiplane.fileio import reading
from shiplane.fileio.writing import safe_name
from shiplane.importing import connections, manifestshapes, naming, secretrefs, shapes, stages, yamlfile
from shiplane.importing.compose import Imported, spec_name
from shiplane.importing.containers import DEFAULT_RESOURCES
from shiplane.importing.report import Report, ServiceReport
from shiplane.importing.sensitive import SecretBook, looks_secret
from shiplane.redaction import describe
from shiplane.spec.reporting import format_path

_KINDS = {
    "Deployment": "stateless",
    "StatefulSet": "stateful",
    "DaemonSet": "daemon",
    "Job": "job",
    "CronJob": "cronjob",
}
_PROBE_KEYS = {"initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold"}


def _env_text(value: Any) -> str:
    """An env value as the API server reads it: `value:` left empty (a Helm value that rendered to
    nothing) is the empty string, not "None"; YAML booleans are lower-case text, not Python's."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _probe(p: dict, ports: dict[int, str], r: ServiceReport) -> dict | None:
    out: dict[str, Any] = {k: v for k, v in p.items() if k in _PROBE_KEYS}
    if "httpGet" in p:
        port = p["httpGet"].get("port")
        out["http"] = {"port": ports.get(port, port), "path": p["httpGet"].get("path", "/")}
        if p["httpGet"].get("scheme") == "HTTPS":
            out["http"]["scheme"] = "HTTPS"
        headers = {str(h.get("name")): str(h.get("value", "")) for h in p["httpGet"].get("httpHeaders") or []}
        if headers:
            out["http"]["headers"] = headers
    elif "tcpSocket" in p:
        port = p["tcpSocket"].get("port")
        out["tcp"] = {"port": ports.get(port, port)}
    elif "exec" in p:
        out["exec"] = p["exec"]["command"]
    elif "grpc" in p:
        out["grpc"] = {"port": p["grpc"]["port"]}
    else:
        r.dropped.append("a probe of an unknown type")
        return None
    return out


def _container(
    c: dict, r: ServiceReport, configmaps: dict[str, dict], book: SecretBook, service_ports: dict[int, int]
) -> dict[str, Any]:
    out: dict[str, Any] = {"image": c["image"]}
    for src, dst in (("command", "command"), ("args", "args"), ("workingDir", "workingDir")):
        if c.get(src):
            out[dst] = c[src]
    ports: dict[str, Any] = {}
    by_number: dict[int, str] = {}
    for i, p in enumerate(c.get("ports") or []):
        name = spec_name(p.get("name") or f"port-{p['containerPort']}") or f"port-{i}"
        entry: dict[str, Any] = {"port": p["containerPort"]}
        if p.get("protocol", "TCP") != "TCP":
            entry["protocol"] = p["protocol"]
        if service_ports.get(p["containerPort"], p["containerPort"]) != p["containerPort"]:
            entry["servicePort"] = service_ports[p["containerPort"]]
        ports[name] = entry if len(entry) > 1 else p["containerPort"]
        by_number[p["containerPort"]] = name
        by_number.setdefault(p.get("name"), name)
    if ports:
        out["ports"] = ports
    env: dict[str, Any] = {}
    for e in c.get("env") or []:
        ref = e.get("valueFrom") or {}
        if "value" in e:
            e = {**e, "value": _env_text(e["value"])}
        if "value" in e and looks_secret(e["name"], e["value"]):
            env[e["name"]] = {"secret": book.add_value(e["name"], e["value"], r.name)}
            r.mapped.append(
                f"env {e['name']}: a literal secret → secret {env[e['name']]['secret']} (value in "
                ".shiplane-secrets/, git-ignored)"
            )
        elif "value" in e:
            env[e["name"]] = e["value"]
        elif "secretKeyRef" in ref and (ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]) in book.objects:
            sk = ref["secretKeyRef"]
            env[e["name"]] = {"secret": book.objects[(sk["name"], sk["key"])]}
            r.mapped.append(f"env {e['name']} → secret {env[e['name']]['secret']} (from Secret {sk['name']})")
        elif "secretKeyRef" in ref:
            sk = ref["secretKeyRef"]
            var = spec_name(f"{sk['name']}-{sk['key']}").upper().replace("-", "_")
            name = book.add_source(f"{sk['name']}-{sk['key']}", {"fromEnv": var})
            env[e["name"]] = {"secret": name}
            r.mapped.append(f"env {e['name']} → secret {name} (read from ${var} at render time)")
        elif "configMapKeyRef" in ref:
            cm = ref["configMapKeyRef"]
            value = (configmaps.get(cm["name"]) or {}).get(cm["key"])
            if value is None:
                r.blockers.append(f"env {e['name']}: ConfigMap {cm['name']} is not among the inputs")
            else:
                env[e["name"]] = value
        elif "fieldRef" in ref:
            env[e["name"]] = {"field": ref["fieldRef"]["fieldPath"]}
        else:
            r.dropped.append(f"env {e['name']}: unsupported valueFrom")
    for src in c.get("envFrom") or []:
        cm = (src.get("configMapRef") or {}).get("name")
        sref = (src.get("secretRef") or {}).get("name")
        keys = {k: n for (s, k), n in book.objects.items() if s == sref}
        if sref and keys:
            prefix = str(src.get("prefix") or "")
            env.update({f"{prefix}{k}": {"secret": n} for k, n in keys.items()})
            r.mapped.append(f"envFrom Secret {sref} → env {', '.join(prefix + k for k in keys)} (secrets)")
        elif cm in configmaps:
            env.update({k: str(v) for k, v in configmaps[cm].items()})
        else:
            what = f"Secret {sref}" if sref else f"ConfigMap {cm}" if cm else "an unknown source"
            r.blockers.append(f"envFrom {what}: not among the inputs; add the values as env")
    if env:
        out["env"] = env
    probes = {
        k.removesuffix("Probe"): _probe(c[k], by_number, r)
        for k in ("readinessProbe", "livenessProbe", "startupProbe")
        if c.get(k)
    }
    if any(probes.values()):
        out["probes"] = {k: v for k, v in probes.items() if v}
    res = c.get("resources") or {}
    if res.get("limits") or res.get("requests"):
        out["resources"] = {
            k: {n: str(v) for n, v in res[k].items() if n in ("cpu", "memory", "ephemeral-storage")}
            for k in ("requests", "limits")
            if res.get(k)
        }
        for k in ("requests", "limits"):
            if k in out["resources"] and "ephemeral-storage" in out["resources"][k]:
                out["resources"][k]["ephemeralStorage"] = out["resources"][k].pop("ephemeral-storage")
    else:
        r.guessed.append("resources: none in the manifest, so the app defaults apply")
    sc = c.get("securityContext") or {}
    sec: dict[str, Any] = {}
    for src, dst in (
        ("runAsUser", "runAsUser"),
        ("runAsGroup", "runAsGroup"),
        ("runAsNonRoot", "runAsNonRoot"),
        ("readOnlyRootFilesystem", "readOnlyRootFilesystem"),
        ("allowPrivilegeEscalation", "allowPrivilegeEscalation"),
    ):
        if src in sc:
            sec[dst] = sc[src]
    caps = sc.get("capabilities") or {}
    drops = [str(x) for x in caps.get("drop") or []]
    if drops and "ALL" not in drops:
        sec.update(dropAllCapabilities=False, dropCapabilities=drops)
    elif sc and "ALL" not in drops:
        sec["dropAllCapabilities"] = False
    if caps.get("add"):
        sec["addCapabilities"] = [str(x) for x in caps["add"]]
    if sc.get("privileged") is True:
        sec.update(privileged=True, allowPrivilegeEscalation=True)
        r.blockers.append(
            "privileged: kept as security.privileged, which the policy gate flags critical (even dev stops "
            "on it) — find the capabilities it really needs"
        )
    if not sc:
        sec = {"runAsNonRoot": False, "readOnlyRootFilesystem": False, "dropAllCapabilities": False}
        r.guessed.append("no securityContext: relaxed to what the manifest ran with (root allowed, writable root)")
    out["security"] = sec
    if c.get("volumeMounts"):
        out["mounts"] = {
            spec_name(m["name"]): ({"path": m["mountPath"], "readOnly": True} if m.get("readOnly") else m["mountPath"])
            for m in c["volumeMounts"]
        }
    return out


def _secret_files(v: dict, out: dict, book: SecretBook, r: ServiceReport) -> None:
    """A volume of an imported Secret → files of the main container, one per key (or item)."""
    secret = v["secret"]["secretName"]
    keys = {k: n for (s, k), n in book.objects.items() if s == secret}
    items = {i["key"]: i["path"] for i in v["secret"].get("items") or []} or {k: k for k in keys}
    mount = out.get("mounts", {}).pop(spec_name(v["name"]), None)
    if mount is None:
        r.blockers.append(f"volume {v['name']} (Secret {secret}): mounted only in sidecars; add the files by hand")
        return
    path = (mount if isinstance(mount, str) else mount["path"]).rstrip("/")
    for key, rel in items.items():
        if key in keys:
            out.setdefault("files", {})[f"{path}/{rel}"] = {"secret": keys[key]}
    r.mapped.append(f"volume {v['name']} (Secret {secret}) → files under {path} from secrets")
    if not out["mounts"]:
        out.pop("mounts")


def _secret_objects(objects: list[dict], book: SecretBook, report: Report) -> None:
    """Secret objects of the input: each key's value to .shiplane-secrets/, never to raw/ or the spec."""
    for o in (o for o in objects if o.get("kind") == "Secret"):
        name = o["metadata"]["name"]
        values: dict[str, str] = {}
        for key, raw in (o.get("data") or {}).items():
            try:
                values[key] = base64.b64decode(raw or "", validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                report.notes.append(
                    f"Secret {name}: key {key} is not base64 of UTF-8 text (binary?); not imported, provide it by hand"
                )
        values.update({k: "" if v is None else str(v) for k, v in (o.get("stringData") or {}).items()})
        for key, value in values.items():
            book.objects[(name, key)] = book.add_value(f"{name}-{key}", value, name)
        shown = ", ".join(f"{k} → {book.objects[(name, k)]}" for k in values)
        report.secrets.append(
            f"Secret {name}: {len(values)} key(s) moved to .shiplane-secrets/ ({shown}); not copied to raw/"
        )


def _raw_secrets(obj: dict, book: SecretBook, report: Report) -> dict:
    """The spec is committed: a secret-looking field of an object managed as-is (`objects:`) is moved
    to .shiplane-secrets/ and replaced by a placeholder naming where it went."""
    where = f"{obj['kind']} {obj['metadata']['name']}"

    def walk(node: Any, path: tuple) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        key = next((p for p in reversed(path) if isinstance(p, str)), "")
        if isinstance(node, str) and looks_secret(key, node):
            name = book.add_value(f"{obj['metadata']['name']}-{key}", node, obj["metadata"]["name"])
            report.secrets.append(
                f"{where}: {format_path(path)} moved to .shiplane-secrets/{name}; "
                "the object under objects: holds a placeholder (keep such values in a Secret instead)"
            )
            return f"<secret: .shiplane-secrets/{name}>"
        return node

    return walk(obj, ())


def _workload(obj: dict, services: list[dict], configmaps: dict, book: SecretBook) -> tuple[str, dict, ServiceReport]:
    meta = obj["metadata"]
    name = spec_name(meta["name"])
    r = ServiceReport(name=name, source=f"{obj['kind']} {meta['name']}")
    kind = _KINDS[obj["kind"]]
    spec = obj["spec"]
    pod = (spec["jobTemplate"]["spec"] if kind == "cronjob" else spec)["template"]
    labels = (pod.get("metadata") or {}).get("labels") or {}
    containers = pod["spec"]["containers"]
    matching = [
        s
        for s in services
        if s["spec"].get("selector") and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())
    ]
    service_ports = {}
    for s in matching:
        for p in s["spec"].get("ports") or []:
            target = p.get("targetPort", p["port"])
            if isinstance(target, int):
                service_ports[target] = p["port"]
        r.mapped.append(
            f"Service {s['metadata']['name']} → ports"
            + (f" (a renamed Service: clients used {s['metadata']['name']!r})" if s["metadata"]["name"] != name else "")
        )
    out = {"kind": kind, **_container(containers[0], r, configmaps, book, service_ports)}
    for s in matching:
        if s["spec"].get("type") in ("NodePort", "LoadBalancer"):
            out["serviceType"] = s["spec"]["type"]
            if s["spec"].get("externalTrafficPolicy") in ("Cluster", "Local"):
                out["externalTrafficPolicy"] = s["spec"]["externalTrafficPolicy"]
            r.mapped.append(f"Service type {s['spec']['type']} → serviceType")
    if kind == "stateless":
        out.pop("kind")
    if len(containers) > 1:
        out["sidecars"] = {spec_name(c["name"]): _container(c, r, configmaps, book, {}) for c in containers[1:]}
    if pod["spec"].get("initContainers"):
        out["initContainers"] = {
            spec_name(c["name"]): _container(c, r, configmaps, book, {}) for c in pod["spec"]["initContainers"]
        }
    pod_sc = pod["spec"].get("securityContext") or {}
    if pod_sc.get("sysctls"):
        out["sysctls"] = {str(x["name"]): str(x.get("value", "")) for x in pod_sc["sysctls"] if x.get("name")}
        r.mapped.append("pod sysctls → sysctls")
    if isinstance(pod["spec"].get("terminationGracePeriodSeconds"), int):
        out["terminationGracePeriodSeconds"] = pod["spec"]["terminationGracePeriodSeconds"]
    pre = ((containers[0].get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command")
    if pre:
        out["preStop"] = [str(x) for x in pre]
        r.mapped.append("lifecycle.preStop exec → preStop")
    if isinstance(pod_sc.get("fsGroup"), int):
        out.setdefault("security", {})["fsGroup"] = pod_sc["fsGroup"]
        r.mapped.append(f"pod securityContext.fsGroup {pod_sc['fsGroup']} → security.fsGroup")
    # The pod's user applies to every container that sets none of its own (Kubernetes' precedence);
    # dropping it would leave runAsNonRoot with an image whose USER is root: a pod that never starts.
    container_sc = containers[0].get("securityContext") or {}
    taken = {
        f: pod_sc[f]
        for f in ("runAsUser", "runAsGroup", "runAsNonRoot")
        if f in pod_sc and f not in container_sc and isinstance(pod_sc[f], int | bool)
    }
    if taken:
        out.setdefault("security", {}).update(taken)
        shown = ", ".join(f"{f} {str(v).lower() if isinstance(v, bool) else v}" for f, v in taken.items())
        r.mapped.append(f"pod securityContext {shown} → security")
    account = pod["spec"].get("serviceAccountName") or pod["spec"].get("serviceAccount")
    if account and account != "default":
        out["serviceAccountName"] = account
        r.mapped.append(f"serviceAccountName {account} → serviceAccountName (keep that ServiceAccount in objects:)")
    if kind in ("stateless", "stateful") and "replicas" in spec:
        out["replicas"] = spec["replicas"]
    if kind == "cronjob":
        out["schedule"] = spec["schedule"]
    volumes = {}
    for v in pod["spec"].get("volumes") or []:
        vname = spec_name(v["name"])
        if "emptyDir" in v:
            scratch = {"memory": True} if v["emptyDir"].get("medium") == "Memory" else {}
            if v["emptyDir"].get("sizeLimit"):
                scratch["sizeLimit"] = str(v["emptyDir"]["sizeLimit"])
            volumes[vname] = {"scratch": scratch}
        elif "secret" in v and any(k[0] == v["secret"]["secretName"] for k in book.objects):
            _secret_files(v, out, book, r)
        elif "persistentVolumeClaim" in v:
            volumes[vname] = {"persistent": {"size": "1Gi"}}
            r.guessed.append(
                f"volume {v['name']}: claim {v['persistentVolumeClaim']['claimName']} becomes a "
                "per-replica claim of 1Gi (the data in the old claim is not moved)"
            )
        else:
            r.blockers.append(
                f"volume {v['name']} ({', '.join(k for k in v if k != 'name')}): not expressible as "
                "a spec volume; dropped with its mounts"
            )
            for c in [out, *out.get("sidecars", {}).values(), *out.get("initContainers", {}).values()]:
                c.get("mounts", {}).pop(vname, None)
    mounted = {
        m
        for c in [out, *out.get("sidecars", {}).values(), *out.get("initContainers", {}).values()]
        for m in c.get("mounts", {})
    }
    for claim in spec.get("volumeClaimTemplates") or []:
        size = ((claim["spec"].get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        if spec_name(claim["metadata"]["name"]) not in mounted:
            r.dropped.append(f"volumeClaimTemplate {claim['metadata']['name']}: no container mounts it")
            continue
        volumes[spec_name(claim["metadata"]["name"])] = {"persistent": {"size": str(size)}}
    if volumes and kind != "stateful" and any("persistent" in v for v in volumes.values()):
        out = {"kind": "stateful", **{k: v for k, v in out.items() if k != "kind"}}
        kind = "stateful"
        r.mapped.append(f"{obj['kind']} with a PersistentVolumeClaim → stateful (a claim per replica)")
    if volumes:
        out["volumes"] = volumes
    r.kind = kind
    r.why = {
        "stateful": "it keeps data in persistent volumes",
        "stateless": "no persistent volumes",
        "daemon": "a DaemonSet: one per node",
        "job": "a Job",
        "cronjob": "a CronJob",
    }[kind]
    return name, out, r


def convert(documents: list[tuple[str, dict]], app: str, sources: list[str]) -> tuple[Imported, list[tuple[str, dict]]]:
    """(imported spec, raw objects kept as they are: (file name, object))."""
    report = Report(tool="manifests", app=app, sources=sources)
    book = SecretBook()
    objects = [o for _, o in documents]
    workloads = [(f, o) for f, o in documents if o.get("kind") in _KINDS]
    naming.unique(  # two workloads that become one service name: both are named, nothing is dropped
        [
            (f"{o['kind']} {o['metadata'].get('namespace') or 'default'}/{o['metadata']['name']}", f)
            for f, o in workloads
        ],
        "workload",
        lambda raw: raw.rsplit("/", 1)[-1],
    )
    services_k8s = [o for o in objects if o.get("kind") == "Service"]
    configmaps = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o.get("kind") == "ConfigMap"}
    services: dict[str, Any] = {}
    _secret_objects(objects, book, report)
    used: set[int] = {id(o) for o in objects if o.get("kind") == "Secret"}
    for obj in objects:
        if obj.get("kind") in _KINDS:
            name, out, r = _workload(obj, services_k8s, configmaps, book)
            services[name] = out
            report.services.append(r)
            used.add(id(obj))
            for s in services_k8s:
                sel = s["spec"].get("selector") or {}
                pod = (obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"])["template"]
                if sel and all(((pod.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in sel.items()):
                    used.add(id(s))
    if not services:
        raise InputError(f"{', '.join(sources)}: no Deployment, StatefulSet, DaemonSet, Job or CronJob found")
    for obj in objects:
        if obj.get("kind") == "ConfigMap" and id(obj) not in used:
            used.add(id(obj))  # its values were inlined where referenced
    # kind and name are the file's text: one safe file name each (`kind: ../../x` must not leave raw/)
    raw = [(safe_name(f"{o['kind'].lower()}-{o['metadata']['name']}.yaml"), o) for o in objects if id(o) not in used]
    raw = [(fname, _raw_secrets(o, book, report)) for fname, o in raw]
    managed = [_as_is(o) for _, o in raw]
    for o in managed:
        report.notes.append(f"{o['kind']} {o['metadata']['name']}: managed as it is (spec objects:)")
    # Without NetworkPolicies in the input everything could reach everything; the spec's firewall
    # denies by default: each service reaches what its env, args and config files name, else all.
    if not any(o.get("kind") == "NetworkPolicy" for o in objects):
        hosts = {n: n for n in services}
        for s in services_k8s:  # a Service named differently from its workload
            for name, r in ((r.name, r) for r in report.services):
                if any(f"Service {s['metadata']['name']} →" in m for m in r.mapped):
                    hosts.setdefault(s["metadata"]["name"].lower(), name)
        connections.infer(
            services,
            {r.name: r for r in report.services},
            report,
            texts={n: connections.spec_texts(svc) for n, svc in services.items()},
            hosts=hosts,
            networks={n: {"default"} for n in services},
            depends={},
            reachable={n for n, t in services.items() if t.get("ports") and t.get("kind") not in ("job", "cronjob")},
        )
    else:
        report.notes.append("NetworkPolicy objects in the input: connectsTo left empty; write it from them")
    protector = secretrefs.Protector(book)
    protector.services(services, {r.name: r for r in report.services})
    report.notes += protector.notes
    spec = {"apiVersion": "shiplane.io/v1alpha1", "app": {"name": app}, "defaults": {"resources": DEFAULT_RESOURCES}}
    if book.sources:
        spec["secrets"] = book.sources
    spec["services"] = services
    spec["stages"] = stages.standard(app, services, report)
    if managed:
        spec["objects"] = managed
    secretrefs.scrub_report(report, protector.values())
    return Imported(spec=spec, report=report, secret_values=dict(book.values)), []


def _as_is(obj: dict) -> dict:
    """An object for `objects:`: its namespace is the stage's, server-written fields go."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {
        k: v
        for k, v in (obj.get("metadata") or {}).items()
        if k not in ("namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")
    }
    out["metadata"] = meta
    return out


def parse(text: str, source: str) -> tuple[list[tuple[str, dict]], list[str]]:
    """The objects of one YAML stream ((source, object) each) and the shape problems found."""
    docs: list[tuple[str, dict]] = []
    problems: list[str] = []
    for i, (data, marks) in enumerate(yamlfile.parse_all(text, source)):
        if data is None:
            continue
        at = shapes.where_in(marks, source)
        if isinstance(data, dict) and data.get("kind") == "List":
            items = data.get("items")
            if not isinstance(items, list):
                problems.append(f"{at(('items',))}: expected a list of objects (found {describe(items)})")
                continue
            objects = [(item, ("items", j)) for j, item in enumerate(items)]
        else:
            objects = [(data, ())]
        for obj, root in objects:
            found = _shape(obj, marks, source, root, i + 1)
            problems += found
            if not found:
                docs.append((source, obj))
    return docs, problems


def load(paths: list[Path]) -> tuple[list[tuple[str, dict]], list[str]]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():  # regular files only: a FIFO named x.yaml would block the read forever
            files += reading.walk_files(p, suffixes=(".yaml", ".yml", ".json"), recursive=False)
        elif p.exists():
            files.append(p)  # the read says what it is if not a regular file
        else:
            raise InputError(f"{p}: no such file or directory")
    docs = []
    problems: list[str] = []
    for f in files:
        found, bad = parse(reading.read_text(f, what="manifest"), str(f))
        docs += found
        problems += bad
    if problems:
        raise InputErrors(problems)
    return docs, [f.name for f in files]


def _shape(obj: Any, marks: dict, file: str, root: tuple, number: int) -> list[str]:
    """Problems of one object: a mapping with kind and metadata.name, and the fields the mapping reads."""
    at = shapes.where_in(marks, file, root)
    if not isinstance(obj, dict):
        return [f"{at(())}: document {number} is not a Kubernetes object (found {describe(obj)}, expected a mapping)"]
    if "kind" not in obj or "metadata" not in obj:
        return [f"{at(())}: document {number} is not a Kubernetes object (no kind/metadata)"]
    problems = shapes.validate(manifestshapes.AnyObject, obj, at)
    if problems:
        return problems
    kind, name = obj["kind"], obj["metadata"]["name"]

    def where(path: tuple) -> str:
        mark = at(path).split(": ", 1)[0] if path else at(())
        return f"{mark}: {kind} {name}: {format_path(path)}" if path else f"{mark}: {kind} {name}"

    model = manifestshapes.MANIFEST_MODELS.get(kind)
    return shapes.validate(model, obj, where, secret=kind == "Secret") if model else []
