"""Compose files → one resolved project, the way `docker compose config` resolves them.

Order (compose-spec): read each file, interpolate it with the environment (the shell's
variables over the project's `.env`), normalize short syntax, resolve `extends`, merge
the files in order, then keep the services of the active profiles and read env_files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shiplane import redaction
from shiplane.errors import InputError, InputErrors
from shiplane.fileio import reading
from shiplane.importing import normalizing, shapes
from shiplane.importing.interpolating import Interpolator, interpolate_tree, parse_dotenv
from shiplane.importing.sensitive import looks_secret
from shiplane.importing.yamlfile import Mark, Override, Path_, Reset, read
from shiplane.spec.reporting import format_path, suggest

_REPLACED = ("command", "entrypoint")
_KEYED = {"volumes": "target", "secrets": "source", "configs": "source"}


@dataclass
class Project:
    name: str
    directory: Path
    files: list[Path]
    services: dict[str, dict[str, Any]]
    volumes: dict[str, Any] = field(default_factory=dict)
    networks: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    configs: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # inactive service → its profiles
    unset: list[str] = field(default_factory=list)  # variables that became ""
    interpolated: dict[str, str] = field(default_factory=dict)  # variables substituted → values (redaction)
    marks: dict[Path_, Mark] = field(default_factory=dict)

    def where(self, path: Path_) -> str:
        """`file:line:col: field.path` of the nearest marked ancestor."""
        for i in range(len(path), -1, -1):
            if path[:i] in self.marks:
                return f"{self.marks[path[:i]]}: {format_path(path)}"
        return f"{self.files[0]}: {format_path(path)}"


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def project_name(raw: str) -> str:
    """Compose's rule: lowercase letters, digits, '-' and '_', starting with a letter or digit."""
    return re.sub(r"[^a-z0-9_-]", "", raw.lower()).lstrip("_-") or "app"


def merge(base: Any, over: Any, key: str = "") -> Any:
    """Compose merge rules: mappings merge, `command`/`entrypoint` replace, volumes/secrets/configs
    merge by target/source, other sequences append without duplicates; !reset/!override win."""
    if isinstance(over, Override):
        return over.value
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if isinstance(v, Reset):
                out.pop(k, None)
            elif k in out:
                out[k] = v if k in _REPLACED or (key == "healthcheck" and k == "test") else merge(out[k], v, k)
            else:
                out[k] = v.value if isinstance(v, Override) else v
        return out
    if isinstance(base, list) and isinstance(over, list):
        if key in _KEYED:
            by = _KEYED[key]
            kept = {item.get(by): item for item in base if isinstance(item, dict)}
            kept.update({item.get(by): item for item in over if isinstance(item, dict)})
            return list(kept.values())
        return [*base, *(x for x in over if x not in base)]
    return over


def _strip(value: Any) -> Any:
    if isinstance(value, Override):
        return _strip(value.value)
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [_strip(v) for v in value if not isinstance(v, Reset)]
    return value


class _Reader:
    """Reads, interpolates and normalizes files; resolves extends; collects marks and problems."""

    def __init__(self, env: Mapping[str, str], project_dir: Path) -> None:
        self.interpolate = Interpolator(env)
        self.project_dir = project_dir
        self.marks: dict[Path_, Mark] = {}
        self.cache: dict[Path, tuple[dict, dict]] = {}

    def file(self, path: Path, base: Path) -> tuple[dict[str, Any], dict[Path_, Mark]]:
        key = path.resolve()
        if key in self.cache:
            return self.cache[key]
        data, marks = read(path, display(path))
        name = display(path)

        def where(p: Path_) -> str:
            for i in range(len(p), -1, -1):
                if p[:i] in marks:
                    return f"{marks[p[:i]]}: {format_path(p)}"
            return f"{name}: {format_path(p)}"

        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(f"{name}:1:1: a compose file must be a mapping (services:, volumes:, …)")
        unknown = [k for k in data if k not in normalizing.TOP_KEYS and not str(k).startswith("x-")]
        if unknown:
            raise InputErrors(
                [f"{where((k,))}: unknown top-level key{suggest(k, normalizing.TOP_KEYS)}" for k in unknown]
            )
        data = interpolate_tree(data, self.interpolate, where)
        services = data.get("services") or {}
        if not isinstance(services, dict):
            raise InputError(f"{where(('services',))}: services must be a mapping of service names")
        problems = []
        normalized = {}
        for sname, svc in services.items():
            if svc is None:
                svc = {}
            if not isinstance(svc, dict):
                problems.append(f"{where(('services', sname))}: a service must be a mapping")
                continue
            for k in svc:
                if k not in normalizing.SERVICE_KEYS and not str(k).startswith("x-"):
                    problems.append(
                        f"{where(('services', sname, k))}: unknown service key{suggest(k, normalizing.SERVICE_KEYS)}"
                    )
            try:
                normalized[sname] = normalizing.service(svc, base)
            except normalizing.KeyedInvalid as err:
                problems.append(f"{where(('services', sname, err.key))}: {err.message}")
        if problems:
            raise InputErrors(problems)
        data = {**data, "services": normalized}
        self.cache[key] = (data, marks)
        return data, marks

    def extends(self, path: Path, sname: str, trail: tuple[tuple[Path, str], ...] = ()) -> dict[str, Any]:
        """The service with its `extends` chain merged in (base first)."""
        data, marks = self.file(path, path.parent if trail else self.project_dir)
        node = (path.resolve(), sname)
        if node in trail:
            chain = " -> ".join(f"{p.name}:{s}" for p, s in (*trail, node))
            raise InputError(f"{display(path)}: extends cycle: {chain}")
        if sname not in data["services"]:
            known = data["services"]
            raise InputError(f"{display(path)}: extends: no service {sname!r}{suggest(sname, known)}")
        svc = data["services"][sname]
        ext = svc.get("extends")
        if ext is None:
            return svc
        spec = {"service": ext} if isinstance(ext, str) else ext
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("service"), str)
            or not isinstance(spec.get("file", ""), str | None)
        ):
            where = marks.get(("services", sname, "extends"), Mark(display(path), 1, 1))
            raise InputError(f"{where}: services.{sname}.extends: expected a service name or {{service, file}}")
        target = path.parent / spec["file"] if spec.get("file") else path
        if not target.is_file():
            where = marks.get(("services", sname, "extends"), Mark(display(path), 1, 1))
            raise InputError(f"{where}: services.{sname}.extends.file: no such file {spec['file']!r}")
        base = self.extends(target, spec["service"], (*trail, node))
        mine = {k: v for k, v in svc.items() if k != "extends"}
        return merge({k: v for k, v in base.items() if k != "extends"}, mine)


def _text(path: Path) -> str:
    return reading.read_text(path, name=display(path), what="env file")


def _env(environ: Mapping[str, str], project_dir: Path, env_file: Path | None) -> dict[str, str]:
    path = env_file or project_dir / ".env"
    if env_file is not None and not path.is_file():
        raise InputError(f"{env_file}: no such env file (--env-file)")
    dotenv = parse_dotenv(_text(path), display(path), environ) if path.is_file() else {}
    return {**dotenv, **environ}


def load(
    paths: list[Path],
    *,
    environ: Mapping[str, str] | None = None,
    profiles: list[str] | None = None,
    env_file: Path | None = None,
    name: str | None = None,
    _including: tuple[Path, ...] = (),
) -> Project:
    """Merge the files in order into one project with only the active profiles' services."""
    if not paths:
        raise InputError("no compose file given", hint="pass compose.yaml (repeat to merge several in order)")
    environ = dict(os.environ if environ is None else environ)
    project_dir = paths[0].resolve().parent
    env = _env(environ, project_dir, env_file)
    try:
        return _load(paths, env, environ, profiles, name, project_dir, _including)
    except InputError as err:  # a value interpolated from a secret variable never reaches a message
        secret = redaction.pattern(v for k, v in env.items() if looks_secret(k, v))
        if secret is None:
            raise
        problems = getattr(err, "problems", None) or [err.message]
        raise InputErrors([redaction.scrub(p, secret) for p in problems], hint=err.hint) from None


def _load(
    paths: list[Path],
    env: Mapping[str, str],
    environ: Mapping[str, str],
    profiles: list[str] | None,
    name: str | None,
    project_dir: Path,
    _including: tuple[Path, ...],
) -> Project:
    reader = _Reader(env, project_dir)
    merged: dict[str, Any] = {}
    marks: dict[Path_, Mark] = {}
    interpolated: dict[str, str] = {}
    for path in paths:
        if not path.is_file():
            raise InputError(f"{display(path)}: no such file")
        data, file_marks = reader.file(path, project_dir)
        for inc_path in _includes(data, file_marks, path, (*_including, path.resolve())):
            sub = load([inc_path], environ=environ, profiles=profiles, _including=(*_including, path.resolve()))
            merged = merge(
                merged,
                {
                    "services": sub.services,
                    "volumes": sub.volumes,
                    "networks": sub.networks,
                    "secrets": sub.secrets,
                    "configs": sub.configs,
                },
            )
            marks.update(sub.marks)
            interpolated.update(sub.interpolated)
        resolved = {s: reader.extends(path, s) for s in data["services"]}
        merged = merge(merged, {**{k: v for k, v in data.items() if k != "include"}, "services": resolved})
        marks.update(file_marks)
    merged = _strip(merged)
    enabled = set(profiles if profiles is not None else _split(env.get("COMPOSE_PROFILES", "")))
    services, skipped = {}, {}
    for sname, svc in (merged.get("services") or {}).items():
        wanted = svc.get("profiles") or []
        if wanted and not enabled.intersection(wanted) and "*" not in enabled:
            skipped[sname] = list(wanted)
        else:
            services[sname] = svc
    top = shapes.where_in(marks, display(paths[0]))
    sections = [k for k in ("volumes", "networks", "secrets", "configs") if not isinstance(merged.get(k) or {}, dict)]
    if sections:  # each is a mapping of names; anything else cannot be mapped
        raise InputErrors(
            [f"{top((k,))}: expected a mapping of names (found {type(merged[k]).__name__})" for k in sections]
        )
    project = Project(
        name=project_name(name or str(merged.get("name") or env.get("COMPOSE_PROJECT_NAME") or project_dir.name)),
        directory=project_dir,
        files=list(paths),
        services=services,
        volumes={k: v or {} for k, v in (merged.get("volumes") or {}).items()},
        networks={k: v or {} for k, v in (merged.get("networks") or {}).items()},
        secrets={k: v or {} for k, v in (merged.get("secrets") or {}).items()},
        configs={k: v or {} for k, v in (merged.get("configs") or {}).items()},
        skipped=skipped,
        unset=list(reader.interpolate.unset),
        interpolated={**interpolated, **reader.interpolate.used},
        marks=marks,
    )
    shapes.check(
        shapes.ComposeProject,
        {"services": services, "volumes": project.volumes, "secrets": project.secrets, "configs": project.configs},
        project.where,
    )
    _check(project)
    _read_env_files(project, env)
    return project


def _includes(data: dict, marks: dict[Path_, Mark], path: Path, trail: tuple[Path, ...]) -> list[Path]:
    """The files an `include:` names, relative to the including file; a cycle is an input error."""
    entries = data.get("include") or []
    at = marks.get(("include",), Mark(display(path), 1, 1))
    if not isinstance(entries, list):
        raise InputError(f"{at}: include: expected a list of files, found {type(entries).__name__}")
    out = []
    for i, inc in enumerate(entries):
        where = marks.get(("include", i), at)
        raw = inc.get("path") if isinstance(inc, dict) else inc
        for item in raw if isinstance(raw, list) else [raw]:
            if not isinstance(item, str) or not item:
                raise InputError(f"{where}: include[{i}]: expected a file path or {{path: …}}")
            target = path.parent / item
            if target.resolve() in trail:
                chain = " -> ".join(display(p) for p in (*trail, target.resolve()))
                raise InputError(f"{where}: include[{i}]: include cycle: {chain}")
            out.append(target)
    return out


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _check(p: Project) -> None:
    """References compose itself rejects: undefined services, volumes, networks, secrets, configs."""
    problems = []
    if not p.services and not p.skipped:
        problems.append(f"{display(p.files[0])}: no services defined")
    elif not p.services:
        wanted = sorted({w for ws in p.skipped.values() for w in ws})
        problems.append(
            f"{display(p.files[0])}: every service is in a profile that is not enabled "
            f"(pass --profile {wanted[0] if wanted else '…'}; profiles: {', '.join(map(str, wanted))})"
        )
    for sname, svc in p.services.items():
        at = ("services", sname)
        if not svc.get("image") and not svc.get("build"):
            problems.append(f"{p.where(at)}: has neither an image nor a build context")
        for dep in svc.get("depends_on") or {}:
            if dep not in p.services and dep not in p.skipped:
                problems.append(f"{p.where((*at, 'depends_on', dep))}: no service {dep!r}{suggest(dep, p.services)}")
        for i, vol in enumerate(svc.get("volumes") or []):
            src = vol.get("source")
            if vol.get("type") == "volume" and src and src not in p.volumes:
                problems.append(f"{p.where((*at, 'volumes', i))}: undefined volume {src!r}{suggest(src, p.volumes)}")
        for net in svc.get("networks") or {}:
            if net != "default" and net not in p.networks:
                problems.append(f"{p.where((*at, 'networks'))}: undefined network {net!r}{suggest(net, p.networks)}")
        for what, declared in (("secrets", p.secrets), ("configs", p.configs)):
            for i, ref in enumerate(svc.get(what) or []):
                if ref["source"] not in declared:
                    problems.append(
                        f"{p.where((*at, what, i))}: undefined {what[:-1]} {ref['source']!r}"
                        f"{suggest(ref['source'], declared)}"
                    )
    if problems:
        raise InputErrors(problems)


def _read_env_files(p: Project, env: Mapping[str, str]) -> None:
    """env_file values go under `environment`; `KEY` without a value takes the shell's or is dropped."""
    for sname, svc in p.services.items():
        values: dict[str, str | None] = {}
        sources = []
        for i, entry in enumerate(svc.get("env_file") or []):
            path = Path(entry["path"])
            at = p.where(("services", sname, "env_file", i))
            inside = path.resolve().is_relative_to(p.directory)
            if not inside:  # a compose file handed to us must not pull this machine's files into the spec
                raise InputError(
                    f"{at}: env_file: outside the project directory (not read); copy it into the project",
                    hint="env files are read into the imported spec; only files of the project are",
                )
            if not path.is_file():
                if entry.get("required", True):
                    raise InputError(f"{at}: env file {display(path)} not found")
                continue
            values.update(parse_dotenv(_text(path), display(path), env))
            sources.append(display(path))
        values.update(svc.get("environment") or {})
        resolved = {k: (env.get(k) if v is None else v) for k, v in values.items()}
        svc["environment"] = {k: v for k, v in resolved.items() if v is not None}
        svc["x-env-files"] = sources
