"""systemd service units → spec services.

ExecStart → command; WorkingDirectory, User, Environment(File) → the container;
Restart and Type=oneshot → service or job; After/Requires/Wants between the imported
units → dependsOn; MemoryMax/MemoryLow/CPUQuota → limits/requests; StateDirectory →
persistent storage (stateful); Cache/RuntimeDirectory → scratch. Units are parsed
from text (pure); `load` reads the files and their EnvironmentFiles at the edge.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shiplane.errors import InputError
from shiplane.fileio import reading
from shiplane.importing import containers, naming, recipes, secretrefs, vm
from shiplane.importing.compose import PORT_NAMES, Imported, spec_name
from shiplane.importing.interpolating import parse_dotenv
from shiplane.importing.report import Report, ServiceReport
from shiplane.importing.sensitive import SecretBook


@dataclass(frozen=True)
class Unit:
    name: str  # file name, e.g. web.service
    sections: dict[str, dict[str, list[str]]]  # section → key → values (keys repeat)
    env_files: dict[str, dict[str, str] | None]  # EnvironmentFile path → values (None: not readable here)
    lines: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (section, key) → line numbers
    path: str = ""  # as shown in messages

    def where(self, section: str, key: str) -> str:
        numbers = self.lines.get((section, key))
        return f"{self.path or self.name}:{numbers[-1]}" if numbers else (self.path or self.name)

    def get(self, section: str, key: str) -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def last(self, section: str, key: str, default: str = "") -> str:
        values = self.get(section, key)
        return values[-1] if values else default


def parse(
    text: str, name: str, lines: dict[tuple[str, str], list[int]] | None = None
) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit; `lines` (when given) receives the line number of every assignment."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    section = ""
    logical = re.sub(r"\\\n", " \0", text)  # keep a marker per joined line, for line numbers
    end = 0
    for raw in logical.splitlines():
        lineno = end + 1
        end += 1 + raw.count("\0")
        raw = raw.replace("\0", "")
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            current = sections.setdefault(section, {})
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise InputError(f"{name}:{lineno}: expected [Section] or Key=Value (found a line without '=')")
        key, value = key.strip(), value.strip()
        if lines is not None:
            lines.setdefault((section, key), []).append(lineno)
        if value == "":  # an empty assignment resets the list, as systemd does
            current[key] = []
        else:
            current.setdefault(key, []).append(value)
    if "Service" not in sections:
        raise InputError(f"{name}: no [Service] section (only service units can be imported)")
    return sections


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$", re.I)


def _memory(value: str) -> str | None:
    m = _SIZE.match(value.strip())
    if not m or value in ("infinity",):
        return None
    number, unit = m.groups()
    return f"{number}{unit.upper()}i" if unit else number


def _environment(unit: Unit, r: ServiceReport) -> dict[str, str]:
    env: dict[str, str] = {}
    for path, values in unit.env_files.items():
        if values is None:
            r.blockers.append(
                f"EnvironmentFile {path}: not found beside the unit or under --root (the VM's files, not this "
                "machine's); copy it next to the unit, or pass --root with a copy of the VM's filesystem"
            )
        else:
            env.update(values)
            r.mapped.append(f"EnvironmentFile {path} → env")
    for line in unit.get("Service", "Environment"):
        for item in _split(line, unit, "Environment"):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def _split(line: str, unit: Unit, key: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as err:  # the message names the problem, never the line (it may hold a secret)
        raise InputError(f"{unit.where('Service', key)}: {key}: cannot split the command line: {err}") from None


def _recipe(
    unit: Unit, name: str, argv: list[str], kind_type: str, out: dict, r: ServiceReport, packages: tuple | None
) -> str | None:
    """With a package listing from the VM: a Dockerfile, built from images/<name>/ (see `recipes`)."""
    if packages is None:
        return None
    dirs = [
        f"{base}/{value.split(':')[0]}"
        for key, base in (
            ("StateDirectory", "/var/lib"),
            ("CacheDirectory", "/var/cache"),
            ("RuntimeDirectory", "/run"),
        )
        for value in " ".join(unit.get("Service", key)).split()
    ]
    env_files = [p.lstrip("-") for line in unit.get("Service", "EnvironmentFile") for p in line.split()]
    facts = recipes.UnitFacts(argv, kind_type, unit.last("Service", "User") or None, dirs, env_files)
    made = recipes.dockerfile(name, facts, *packages, r)
    if made is None:
        return None
    text, foreground = made
    if foreground is not None:
        out["command"] = containers.escape(foreground)
        r.blockers[:] = [b for b in r.blockers if not b.startswith("Type=forking: the process daemonizes")]
    out["build"] = {"context": f"images/{name}"}
    out["security"] = {
        k: v for k, v in out.get("security", {}).items() if k not in ("runAsNonRoot", "dropAllCapabilities")
    } | {"runAsUser": recipes.UID, "runAsGroup": recipes.UID}
    r.guessed[:] = [g for g in r.guessed if not g.startswith("User=")]
    r.mapped.append(f"image recipe → images/{name}/Dockerfile (build: context images/{name})")
    r.blockers[:] = [b for b in r.blockers if not b.startswith("image: a VM has none")]
    return text


def _service(unit: Unit, names: dict[str, str], book: SecretBook) -> tuple[dict[str, Any], ServiceReport]:
    name = names[unit.name]
    r = ServiceReport(name=name, source=f"unit {unit.name}")
    out: dict[str, Any] = {}
    starts = unit.get("Service", "ExecStart")
    if not starts:
        raise InputError(f"{unit.name}: [Service] has no ExecStart")
    kind_type = unit.last("Service", "Type", "simple")
    command = starts[-1].lstrip("-@:+!")
    argv = _split(command, unit, "ExecStart")
    if not argv:
        raise InputError(f"{unit.where('Service', 'ExecStart')}: ExecStart: expected a command after the prefix")
    out["image"] = vm.placeholder(name, r, argv[0])
    out["command"] = containers.escape(argv)
    r.mapped.append(f"ExecStart → command {argv[0]} …")
    if len(starts) > 1 and kind_type != "oneshot":
        r.blockers.append(f"{len(starts)} ExecStart lines: several processes; give each its own service")
    if re.search(r"%[a-zA-Z]", command):
        r.blockers.append("ExecStart uses unit specifiers (%i, %h, …): replace them with real values")
    hints = {
        "ExecStartPre": "runs before the service starts: make it an init container (initContainers)",
        "ExecStartPost": "runs after the service starts: no such hook in the spec (a postStart hook in Kubernetes)",
        "ExecReload": "reloads configuration in place: in Kubernetes a changed config rolls out new pods instead",
        "ExecStop": "stops the service: Kubernetes sends SIGTERM (a preStop hook if the process needs a command)",
    }
    for key, hint in hints.items():
        if unit.get("Service", key):
            r.dropped.append(f"{key}: {hint}")
    if kind_type == "forking":
        r.blockers.append("Type=forking: the process daemonizes; run it in the foreground in a container")
    wd = unit.last("Service", "WorkingDirectory").lstrip("-")
    if wd.startswith("/"):
        out["workingDir"] = wd
        r.mapped.append(f"WorkingDirectory → workingDir {wd}")
    env = _environment(unit, r)
    hint = vm.port_from(command, env)
    if hint:
        out["ports"] = {PORT_NAMES.get(hint[0], "http"): hint[0]}
        r.guessed.append(f"port {hint[0]} from {hint[1]}")
    if env:
        out["env"] = containers.environment(env, name, book, r)
    res: dict[str, Any] = {}
    mem_max = _memory(unit.last("Service", "MemoryMax") or unit.last("Service", "MemoryLimit"))
    mem_low = _memory(unit.last("Service", "MemoryLow") or unit.last("Service", "MemoryMin"))
    quota = unit.last("Service", "CPUQuota")
    if mem_max:
        res.setdefault("limits", {})["memory"] = mem_max
    if quota.endswith("%"):
        if not re.fullmatch(r"\d+(\.\d+)?%", quota):
            raise InputError(f"{unit.where('Service', 'CPUQuota')}: CPUQuota: expected a percentage such as 150%")
        res.setdefault("limits", {})["cpu"] = f"{max(1, int(float(quota[:-1]) * 10))}m"
    if mem_low or res.get("limits"):
        res["requests"] = {**res.get("limits", {}), **({"memory": mem_low} if mem_low else {})}
    if res:
        out["resources"] = res
        r.mapped.append("MemoryMax/MemoryLow/CPUQuota → resources")
    else:
        r.guessed.append("resources: none in the unit, so the app defaults apply")
    stop = unit.last("Service", "TimeoutStopSec")
    m = re.fullmatch(r"(?:(\d+)\s*min)?\s*(?:(\d+)\s*s?)?", stop.strip()) if stop else None
    seconds = int(m.group(1) or 0) * 60 + int(m.group(2) or 0) if m and (m.group(1) or m.group(2)) else 0
    if seconds > 0:
        out["terminationGracePeriodSeconds"] = seconds
        r.mapped.append(f"TimeoutStopSec={stop} → terminationGracePeriodSeconds {seconds}")
    elif stop:
        r.dropped.append(f"TimeoutStopSec={stop}: no limit in systemd; Kubernetes' default grace period (30s) applies")
    user = unit.last("Service", "User")
    sec: dict[str, Any] = {"readOnlyRootFilesystem": False}
    if user.isdigit() and int(user) > 0:
        sec.update(runAsUser=int(user), runAsGroup=int(user))
    else:
        sec.update(runAsNonRoot=False, dropAllCapabilities=False)
        r.guessed.append(f"User={user or 'root'}: Kubernetes needs a numeric uid; set security.runAsUser in the image")
    out["security"] = sec
    volumes, mounts = {}, {}
    for key, base, kind in (
        ("StateDirectory", "/var/lib", "persistent"),
        ("CacheDirectory", "/var/cache", "scratch"),
        ("RuntimeDirectory", "/run", "scratch"),
    ):
        for value in " ".join(unit.get("Service", key)).split():
            vol = spec_name(value.split(":")[0])
            volumes[vol] = {"persistent": {"size": "1Gi"}} if kind == "persistent" else {"scratch": {}}
            mounts[vol] = f"{base}/{value.split(':')[0]}"
            r.mapped.append(f"{key}={value} → {kind} volume at {mounts[vol]}")
    if volumes:
        out["volumes"], out["mounts"] = volumes, mounts
    restart = unit.last("Service", "Restart", "no")
    stateful = any("persistent" in v for v in volumes.values())
    if kind_type == "oneshot":
        out = {"kind": "job", **out, "job": {"backoffLimit": 0 if restart == "no" else 6}}
        r.kind, r.why = "job", "Type=oneshot: it runs once"
        if stateful:
            r.blockers.append("a oneshot unit with a StateDirectory: jobs get no persistent claims")
            out["volumes"] = {k: {"scratch": {}} for k in volumes}
    elif stateful:
        out = {"kind": "stateful", **out}
        r.kind, r.why = "stateful", "StateDirectory keeps its data"
    else:
        r.why = "no StateDirectory: nothing it keeps is declared (check for files it writes elsewhere)"
    if restart in ("no", "on-failure", "on-abnormal") and kind_type != "oneshot":
        r.dropped.append(f"Restart={restart}: Kubernetes always restarts long-running containers")
    deps, others = [], []
    for key in ("Requires", "Wants", "After", "BindsTo"):
        for dep in " ".join(unit.get("Unit", key)).split():
            if dep in names and names[dep] not in deps and dep != unit.name:
                deps.append(names[dep])
            elif dep not in names and dep.endswith(".service") and dep not in others:
                others.append(dep)
    if deps:
        out["dependsOn"] = deps
        out["connectsTo"] = deps
        r.mapped.append(f"After/Requires → dependsOn {', '.join(deps)}")
    for dep in others:
        r.dropped.append(f"depends on {dep}, which was not imported (a database on the VM? import or replace it)")
    return out, r


def convert(units: list[Unit], app: str, sources: list[str], packages: str | None = None) -> Imported:
    """`packages`: the VM's `dpkg -S` / `dpkg-query -W` listing; with it each service gets a Dockerfile."""
    names = naming.unique(
        [(u.name, f"unit {u.name}") for u in units], "unit", lambda n: n.removesuffix(".service").split("@")[0]
    )
    report = Report(tool="systemd", app=app, sources=sources)
    book = SecretBook()
    services = {}
    listing = recipes.parse_packages(packages) if packages is not None else None
    dockerfiles: dict[str, str] = {}
    for unit in units:
        name = names[unit.name]
        services[name], r = _service(unit, names, book)
        report.services.append(r)
        command = unit.get("Service", "ExecStart")[-1].lstrip("-@:+!")
        text = _recipe(
            unit,
            name,
            _split(command, unit, "ExecStart"),
            unit.last("Service", "Type", "simple"),
            services[name],
            r,
            listing,
        )
        if text is not None:
            dockerfiles[name] = text
    for svc in services.values():  # a connection needs the other side's port
        svc["connectsTo"] = [d for d in svc.get("connectsTo", []) if services[d].get("ports")]
        if not svc["connectsTo"]:
            svc.pop("connectsTo")
    protector = secretrefs.Protector(book)
    protector.services(services, {r.name: r for r in report.services})
    report.notes += protector.notes
    spec = vm.skeleton(app, services, report, book.sources)
    secretrefs.scrub_report(report, protector.values())
    return Imported(spec=spec, report=report, secret_values=dict(book.values), recipes=dockerfiles)


def env_file_candidates(file: str, unit_path: Path, root: Path | None) -> list[Path]:
    """Where an EnvironmentFile of the VM is looked for: under the VM's root copy (`--root`), then
    beside the unit. Never this machine's own path: /etc/os-release here is not the VM's."""
    out = []
    if root is not None and file.startswith("/"):
        base = root.resolve()
        candidate = (base / file.lstrip("/")).resolve()
        if candidate == base or base in candidate.parents:  # a symlink in the copy must not leave it
            out.append(candidate)
    out.append(unit_path.parent / Path(file).name)
    return out


def load(paths: list[Path], root: Path | None = None) -> list[Unit]:
    """Read units; EnvironmentFiles from `root` (a copy of the VM's filesystem) or beside the unit."""
    units = []
    for path in paths:
        text = reading.read_text(path, what="unit file")
        lines: dict[tuple[str, str], list[int]] = {}
        sections = parse(text, str(path), lines)
        env_files: dict[str, dict[str, str] | None] = {}
        for entry in sections["Service"].get("EnvironmentFile", []):
            optional, file = entry.startswith("-"), entry.lstrip("-")
            found = next((c for c in env_file_candidates(file, path, root) if c.is_file()), None)
            if found:
                env_files[file] = parse_dotenv(reading.read_text(found, what="EnvironmentFile"), str(found))
            elif not optional:
                env_files[file] = None
        units.append(Unit(path.name, sections, env_files, lines, str(path)))
    return units
