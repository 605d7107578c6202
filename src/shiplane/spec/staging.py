"""From the user's document to one validated, fully resolved StageSpec per stage.

Precedence (lowest first): app `defaults` < the service's own fields < the stage's
`overrides`. The stage's overrides are merged into the whole document first, so they
may change defaults, services, secrets or the app; then defaults are merged *under*
every container, so a service's own value always beats a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shiplane.errors import InputError, InputErrors
from shiplane.spec.app import Document, Stage
from shiplane.spec.checking import check
from shiplane.spec.loading import Mark, Source, load_source
from shiplane.spec.merging import Path_, merge_marks, merge_patch, relocate
from shiplane.spec.reporting import Problem, from_validation_error, lines, locate, suggest

_DEFAULTED = ("resources", "security")


@dataclass(frozen=True)
class StageSpec:
    """Everything rendering needs for one stage, already merged and validated."""

    name: str
    stage: Stage
    doc: Document
    base_dir: Path
    # Where each field of the merged document came from, for errors found while rendering.
    marks: Mapping[Path_, Mark] = field(default_factory=dict, compare=False, repr=False)

    @property
    def namespace(self) -> str:
        return self.stage.namespace

    @property
    def kubernetes_version(self) -> str:
        return self.stage.kubernetes_version


@dataclass(frozen=True)
class Spec:
    stages: dict[str, StageSpec]
    source: Source

    def stage(self, name: str) -> StageSpec:
        if name not in self.stages:
            known = ", ".join(self.stages)
            raise InputError(f"no stage {name!r} in the spec (stages: {known}){suggest(name, self.stages)}")
        return self.stages[name]


def _containers(svc: dict, path: Path_):
    """(path, container dict) of every container-like block in a service."""
    yield path, svc
    for group in ("sidecars", "initContainers"):
        block = svc.get(group)
        if isinstance(block, dict):
            for name, c in block.items():
                if isinstance(c, dict):
                    yield (*path, group, name), c
    if isinstance(svc.get("migration"), dict):
        yield (*path, "migration"), svc["migration"]


def _apply_defaults(data: dict, marks: dict[Path_, Mark]) -> tuple[dict, dict[Path_, Mark]]:
    defaults = data.get("defaults")
    if not isinstance(defaults, dict) or not defaults:
        return data, marks
    base = {k: defaults[k] for k in _DEFAULTED if k in defaults}
    labels = {"labels": defaults["labels"]} if "labels" in defaults else {}
    default_marks = {k: relocate(marks, ("defaults", k), (k,)) for k in (*_DEFAULTED, "labels")}
    marks = dict(marks)

    def under(container: dict, path: Path_, extra: dict) -> dict:
        # Missing keys get their mark from `defaults`, so errors point where the value came from.
        for key in (*base, *extra):
            for sub, mark in default_marks[key].items():
                marks.setdefault((*path, *sub), mark)
        return merge_patch({**base, **extra}, container)

    services = data.get("services")
    if isinstance(services, dict):
        resolved = {}
        for name, svc in services.items():
            if not isinstance(svc, dict):
                resolved[name] = svc
                continue
            svc = dict(svc)
            for path, c in list(_containers(svc, ("services", name))):
                if len(path) == 2:
                    continue
                group = path[2]
                merged = under(c, path, {})
                if group == "migration":
                    svc["migration"] = merged
                else:
                    svc[group] = {**svc[group], path[3]: merged}
            resolved[name] = under(svc, ("services", name), labels)
        data = {**data, "services": resolved}
    migrations = data.get("migrations")
    if isinstance(migrations, dict):
        data = {
            **data,
            "migrations": {
                n: under(m, ("migrations", n), {}) if isinstance(m, dict) else m for n, m in migrations.items()
            },
        }
    return data, marks


def resolve(source: Source, stage: str | None) -> tuple[dict[str, Any], dict[Path_, Mark], list[Problem]]:
    """The stage's merged document and marks, plus problems with its overrides block itself."""
    data, marks, problems = source.data, source.marks, []
    if stage is not None:
        overrides = (data["stages"][stage] or {}).get("overrides") if isinstance(data["stages"][stage], dict) else None
        if isinstance(overrides, dict) and overrides:
            where = ("stages", stage, "overrides")
            for forbidden in ("stages", "apiVersion"):
                if forbidden in overrides:
                    problems.append(Problem((*where, forbidden), f"a stage cannot override {forbidden!r}"))
            overrides = {k: v for k, v in overrides.items() if k not in ("stages", "apiVersion")}
            data = merge_patch(data, overrides)
            marks = merge_marks(marks, relocate(marks, where, ()), overrides)
    data, marks = _apply_defaults(data, marks)
    return data, marks, problems


def load(paths: list[Path] | list[str]) -> Spec:
    """Load, merge, resolve and validate every stage; raise InputErrors listing every problem."""
    return validate(load_source([Path(p) for p in paths]))


def validate(source: Source) -> Spec:
    """Resolve and validate every stage of a loaded source; raise InputErrors listing every problem."""
    declared = source.data.get("stages")
    names = [n for n in declared if isinstance(n, str)] if isinstance(declared, dict) and declared else [None]
    found: dict[tuple[Any, Problem], list[str]] = {}
    stages: dict[str, StageSpec] = {}
    for name in names:
        data, marks, problems = resolve(source, name)
        doc = None
        try:
            doc = Document.model_validate(data)
        except ValidationError as err:
            problems += from_validation_error(err, Document)
        if doc is not None:
            problems += check(doc)
        for p in problems:
            found.setdefault((locate(marks, p.path), p), []).append(name or "")
        if doc is not None and not problems and name is not None:
            stages[name] = StageSpec(name=name, stage=doc.stages[name], doc=doc, base_dir=source.base_dir, marks=marks)
    if found:
        raise InputErrors(lines(found, [n or "" for n in names]))
    return Spec(stages=stages, source=source)
