"""The edge where a stage meets the deploying machine: secret values and config files.

Secret values are read only here, from environment variables or files named in the
spec, and travel on as bytes inside `Inputs`; no message ever contains one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from shiplane.errors import InputError, InputErrors
from shiplane.fileio import reading
from shiplane.spec.app import Service
from shiplane.spec.containers import Container
from shiplane.spec.staging import StageSpec


@dataclass(frozen=True)
class Inputs:
    secrets: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    files: Mapping[str, str] = field(default_factory=dict)
    # env `{config: REF}` → its value, read from etcd by the caller; a REF missing here renders as a
    # placeholder (an offline render)
    config: Mapping[str, str] = field(default_factory=dict)
    # generated secrets' previous versions: rendered as Secrets no pod uses, so they stay in the
    # cluster (a rollback across a rotation finds them) until the next rotation replaces them
    retained: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    objects: tuple[dict, ...] = ()  # the spec's `objects:`, includes read, in order
    # the stage's digest key (shiplane.digests), read from the cluster by the caller: Secret names and
    # data digests are keyed with it; None (an offline render) names Secrets by a plain content hash
    digest_key: bytes | None = field(default=None, repr=False)


def _containers(svc: Service) -> Iterator[Container]:
    yield svc
    yield from svc.sidecars.values()
    yield from svc.init_containers.values()
    if svc.migration:
        yield svc.migration


def used_secrets(stage: StageSpec) -> list[str]:
    """Secrets some container of this stage refers to, in first-use order."""
    used: dict[str, None] = {}
    for svc in stage.doc.services.values():
        for c in _containers(svc):
            used.update((v.secret, None) for v in c.env.values() if v.secret)
        used.update((f.secret, None) for f in svc.files.values() if f.secret)
    for mig in stage.doc.migrations.values():
        used.update((v.secret, None) for v in mig.env.values() if v.secret)
    return list(used)


def used_config(stage: StageSpec) -> list[str]:
    """Every env `{config: REF}` of the stage, in first-use order."""
    used: dict[str, None] = {}
    for svc in stage.doc.services.values():
        for c in _containers(svc):
            used.update((v.config, None) for v in c.env.values() if v.config)
    for mig in stage.doc.migrations.values():
        used.update((v.config, None) for v in mig.env.values() if v.config)
    return list(used)


def config_placeholder(ref: str) -> str:
    return f"<from etcd: {ref}>"


def _resolved(c: Container, values: Mapping[str, str]) -> Container:
    if not any(v.config for v in c.env.values()):
        return c
    env = {
        k: v.model_copy(update={"config": None, "value": values.get(v.config, config_placeholder(v.config))})
        if v.config
        else v
        for k, v in c.env.items()
    }
    return c.model_copy(update={"env": env})


def with_config(stage: StageSpec, values: Mapping[str, str]) -> StageSpec:
    """The stage with every env `{config: REF}` turned into its literal value (so rendering treats it
    as any literal: in the service's hashed ConfigMap)."""
    if not used_config(stage):
        return stage
    services = {}
    for name, svc in stage.doc.services.items():
        update: dict = {
            "sidecars": {k: _resolved(c, values) for k, c in svc.sidecars.items()},
            "init_containers": {k: _resolved(c, values) for k, c in svc.init_containers.items()},
        }
        if svc.migration:
            update["migration"] = _resolved(svc.migration, values)
        services[name] = _resolved(svc, values).model_copy(update=update)
    migrations = {k: _resolved(m, values) for k, m in stage.doc.migrations.items()}
    doc = stage.doc.model_copy(update={"services": services, "migrations": migrations})
    return replace(stage, doc=doc)


def read_config_file(path: Path, name: str) -> str:
    """A `files.fromFile` source: a regular UTF-8 file (a FIFO or device here would block or never end)."""
    return reading.read_text(path, name=name, what="config file")


# What an offline render shows for a generated secret: its value lives only in the cluster.
GENERATED_PLACEHOLDER = b"<generated in the cluster>"
EXTERNAL_PLACEHOLDER = b"<read from etcd>"


def generated_secrets(stage: StageSpec) -> list[str]:
    """Secrets of this stage whose values shiplane generates and keeps in the cluster (every one
    the spec declares, used or not: a CA secret may only sign others)."""
    return [name for name, source in stage.doc.secrets.items() if source.generate is not None]


def gather(
    stage: StageSpec,
    environ: Mapping[str, str] | None = None,
    *,
    read_secrets: bool = True,
    generated: Mapping[str, bytes] | None = None,
    external: Mapping[str, bytes] | None = None,
    config: Mapping[str, str] | None = None,
    retained: Mapping[str, bytes] | None = None,
    digest_key: bytes | None = None,
) -> Inputs:
    """Read every secret and config file the stage needs; report all that are missing at once.

    `read_secrets=False` reads no secret value (each is empty): for commands that only need the
    objects' structure. Generated secrets come from `generated` (read from the cluster by the
    caller, `shiplane.secrets`); without it they are a placeholder (an offline render)."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    secrets: dict[str, bytes] = {}
    for name in used_secrets(stage):
        if not read_secrets:
            secrets[name] = b""
            continue
        source = stage.doc.secrets[name]
        if source.generate is not None:
            secrets[name] = GENERATED_PLACEHOLDER if generated is None else generated[name]
            continue
        if source.from_etcd is not None:  # read by the caller (shiplane.secrets.etcd)
            secrets[name] = EXTERNAL_PLACEHOLDER if external is None else external[name]
            continue
        if source.from_env is not None:
            if source.from_env not in environ:
                problems.append(
                    f"secret {name!r}: environment variable {source.from_env} is not set "
                    f"(secrets.{name}.fromEnv, needed by stage {stage.name})"
                )
                continue
            secrets[name] = environ[source.from_env].encode()
        else:
            path = stage.base_dir / source.from_file
            try:
                secrets[name] = reading.read_bytes(path, name=source.from_file, what="secret file")
            except InputError as err:
                problems.append(
                    f"secret {name!r}: {err.message} (secrets.{name}.fromFile, relative to the spec's directory)"
                )
    files: dict[str, str] = {}
    for svc_name, svc in stage.doc.services.items():
        for target, f in svc.files.items():
            if f.from_file is None or f.from_file in files:
                continue
            path = Path(stage.base_dir, f.from_file)
            try:
                files[f.from_file] = read_config_file(path, f.from_file)
            except InputError as err:
                problems.append(
                    f"services.{svc_name}.files[{target!r}].fromFile: {err.message} (relative to the spec's directory)"
                )
    objects = managed_objects(stage, problems)
    if problems:
        raise InputErrors(problems)
    kept = {n: v for n, v in (retained or {}).items() if n in secrets and v != secrets[n]}
    return Inputs(
        secrets=secrets,
        files=files,
        config=dict(config or {}),
        retained=kept,
        objects=tuple(objects),
        digest_key=digest_key,
    )


def managed_objects(stage: StageSpec, problems: list[str]) -> list[dict]:
    """`objects:` with each `{include: GLOB}` replaced by the objects of its YAML files (sorted)."""
    out: list[dict] = []
    base = Path(stage.base_dir)
    for i, entry in enumerate(stage.doc.objects):
        if "include" not in entry:
            out.append(entry)
            continue
        inside = base.resolve()
        paths = sorted(p for p in base.glob(entry["include"]) if p.is_file() and p.resolve().is_relative_to(inside))
        if not paths:
            problems.append(f"objects[{i}].include {entry['include']!r}: no file matches (relative to the spec)")
        for path in paths:
            rel = path.relative_to(base)
            try:
                docs = list(yaml.safe_load_all(reading.read_text(path, name=str(rel), what="object file")))
            except yaml.YAMLError as err:
                problems.append(f"{rel}: not YAML ({str(err).splitlines()[0]})")
                continue
            except InputError as err:
                problems.append(f"objects[{i}].include: {err.message}")
                continue
            for n, doc in enumerate(d for d in docs if d is not None):
                meta = doc.get("metadata") if isinstance(doc, dict) else None
                if (
                    not isinstance(doc, dict)
                    or not doc.get("apiVersion")
                    or not doc.get("kind")
                    or not (isinstance(meta, dict) and isinstance(meta.get("name"), str))
                ):
                    problems.append(
                        f"{rel}: document {n + 1}: expected a Kubernetes object (apiVersion, kind, metadata.name)"
                    )
                    continue
                out.append(doc)
    return out
