"""Procfile process types → spec services (one image, several commands, as on Heroku).

`web` listens on $PORT: it gets a port and a public candidate; `release` runs before
each deploy, which is what a shiplane migration is; the rest are workers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shiplane.errors import InputError
from shiplane.fileio import reading
from shiplane.importing import containers, naming, secretrefs, vm
from shiplane.importing.compose import Imported
from shiplane.importing.report import Report, ServiceReport
from shiplane.importing.sensitive import SecretBook

WEB_PORT = 8080
_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def parse(text: str, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise InputError(f"{name}:{lineno}: expected 'type: command' (a process type of letters, digits, '-', '_')")
        if m.group(1) in out:
            raise InputError(f"{name}:{lineno}: process type {m.group(1)!r} appears twice")
        out[m.group(1)] = m.group(2)
    if not out:
        raise InputError(f"{name}: no process types")
    return out


def convert(processes: dict[str, str], app: str, source: str, env: dict[str, str] | None = None) -> Imported:
    report = Report(tool="procfile", app=app, sources=[source])
    book = SecretBook()
    services: dict[str, Any] = {}
    release = processes.get("release")
    image_report = ServiceReport(name=app, source="")
    image = vm.placeholder(app, image_report, "the app (every process type shares it)")
    names = naming.unique([(p, source) for p in processes if p != "release"], "process type")
    for ptype, command in processes.items():
        if ptype == "release":
            continue
        name = names[ptype]
        r = ServiceReport(name=name, source=f"Procfile process {ptype!r}")
        r.blockers += image_report.blockers
        # Procfile commands run in a shell ($PORT, &&, pipes), so keep one.
        out: dict[str, Any] = {"image": image, "command": ["sh", "-c", command.replace("$(", "$$(")]}
        r.mapped.append("command (run by sh -c, as the Procfile's shell would)")
        svc_env = dict(env or {})
        if ptype == "web":
            svc_env["PORT"] = str(WEB_PORT)
            out["ports"] = {"http": WEB_PORT}
            out["public"] = {"host": f"{name}.{app}.localhost", "port": "http"}
            r.mapped.append(f"web → port {WEB_PORT} ($PORT) and a public candidate host {name}.{app}.localhost")
        if svc_env:
            out["env"] = containers.environment(svc_env, name, book, r)
        out["security"] = {"runAsNonRoot": False, "dropAllCapabilities": False, "readOnlyRootFilesystem": False}
        r.guessed.append("security relaxed: the image's user is unknown until it exists")
        r.guessed.append("resources: the app defaults apply")
        r.why = "process types are stateless by the twelve-factor contract (state lives in backing services)"
        if release and ptype == "web":
            out["migration"] = {"command": ["sh", "-c", release]}
            r.mapped.append("release → migration of web (runs as a Job before each rollout)")
        services[name] = out
        report.services.append(r)
    if not services:
        raise InputError(f"{source}: only a release process; nothing to run")
    if release and "web" not in processes:
        report.notes.append("release has no web process to attach to; add it as a migration by hand")
    protector = secretrefs.Protector(book)
    protector.services(services, {r.name: r for r in report.services})
    report.notes += protector.notes
    spec = vm.skeleton(app, services, report, book.sources)
    secretrefs.scrub_report(report, protector.values())
    return Imported(spec=spec, report=report, secret_values=dict(book.values))


def load(path: Path) -> dict[str, str]:
    return parse(reading.read_text(path, what="Procfile"), str(path))
