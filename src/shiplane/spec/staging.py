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
from shiplane.spec.targets import StageDefaults, Target, Targets, expand, matches

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
    # Set when the spec has `targets:`: which one this is (namespace and context are already its own).
    target: Target | None = None

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
    # With `targets:`: every target of the expansion, merged and validated, in matrix order.
    targets: list[StageSpec] = field(default_factory=list)
    targeting: Targets | None = None

    def stage(self, name: str) -> StageSpec:
        if name not in self.stages:
            known = ", ".join(self.stages)
            raise InputError(f"no stage {name!r} in the spec (stages: {known}){suggest(name, self.stages)}")
        return self.stages[name]

    def select(
        self, stage: str | None, selector: Mapping[str, str] | None = None, *, all_targets: bool = False
    ) -> list[StageSpec]:
        """The one place a command's --stage/--target/--all-targets become what it works on.

        Without `targets:` in the spec: the stage itself (a selector is an input error). With it:
        the matching targets; naming several without --all-targets is an error listing them.
        """
        if stage is not None:
            self.stage(stage)
        if self.targeting is None:
            if selector:
                raise InputError("--target: this spec has no targets: block (see docs/targets.md)")
            if stage is None:
                raise InputError("name a stage with --stage")
            return [self.stages[stage]]
        for key in selector or {}:
            if key != "stage" and key not in self.targeting.dimensions:
                known = ", ".join(self.targeting.dimensions)
                raise InputError(
                    f"--target: no dimension {key!r} (dimensions: {known}){suggest(key, self.targeting.dimensions)}"
                )
        chosen = [
            t
            for t in self.targets
            if t.target is not None and (stage is None or t.name == stage) and matches(t.target, selector or {})
        ]
        where = f"stage {stage!r}" if stage else "the spec"
        if not chosen:
            raise InputError(f"no target of {where} matches --target {_show(selector)}")
        if len(chosen) > 1 and not all_targets:
            names = "\n  ".join(t.target.name for t in chosen if t.target)
            raise InputError(
                f"{where} has {len(chosen)} targets matching this; name one with --target "
                f"(deploy, plan and export also take --all-targets):\n"
                f"  {names}"
            )
        return chosen


def _show(selector: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (selector or {}).items()) or "(none)"


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


_FORBIDDEN = ("stages", "apiVersion", "targets")


def resolve(
    source: Source, stage: str | None, target: Target | None = None
) -> tuple[dict[str, Any], dict[Path_, Mark], list[Problem]]:
    """The stage's (or target's) merged document and marks, plus problems with its overrides
    blocks themselves. A target's layers start with its stage's overrides (see spec/targets.py)."""
    data, marks, problems = source.data, source.marks, []
    layers: list[tuple[Path_, Any]] = []
    if target is not None:
        layers = list(target.layers)
    elif stage is not None:
        overrides = (data["stages"][stage] or {}).get("overrides") if isinstance(data["stages"][stage], dict) else None
        layers = [(("stages", stage, "overrides"), overrides)]
    for where, overrides in layers:
        if isinstance(overrides, dict) and overrides:
            for forbidden in _FORBIDDEN:
                if forbidden in overrides:
                    who = "a stage" if where[0] == "stages" else "a target"
                    problems.append(Problem((*where, forbidden), f"{who} cannot override {forbidden!r}"))
            overrides = {k: v for k, v in overrides.items() if k not in _FORBIDDEN}
            data = merge_patch(data, overrides)
            marks = merge_marks(marks, relocate(marks, where, ()), overrides)
    if target is not None and stage is not None:
        placed = {**data["stages"][stage], "namespace": target.namespace, "context": target.context}
        data = {**data, "stages": {**data["stages"], stage: placed}}
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
    first = next(iter(stages.values()))
    if first.doc.targets is None:
        return Spec(stages=stages, source=source)
    return _with_targets(source, stages, first.doc.targets)


def _with_targets(source: Source, stages: dict[str, StageSpec], targeting: Targets) -> Spec:
    """Expand `targets:` and validate every target's merged document (all problems at once)."""
    defaults = {
        n: StageDefaults(s.stage.context, s.stage.namespace, _raw_overrides(source, n)) for n, s in stages.items()
    }
    expanded, problems = expand(targeting, defaults)
    found: dict[tuple[Any, Problem], list[str]] = {}
    for p in problems:
        found.setdefault((locate(source.marks, p.path), p), [])
    out: list[StageSpec] = []
    for target in expanded:
        data, marks, problems = resolve(source, target.stage, target)
        doc = None
        try:
            doc = Document.model_validate(data)
        except ValidationError as err:
            problems += from_validation_error(err, Document)
        if doc is not None:
            problems += check(doc)
        for p in problems:
            found.setdefault((locate(marks, p.path), p), []).append(target.name)
        if doc is not None and not problems:
            stage = doc.stages[target.stage]
            out.append(StageSpec(target.stage, stage, doc, source.base_dir, marks, target))
    if found:
        raise InputErrors(lines(found, []))
    return Spec(stages=stages, source=source, targets=out, targeting=targeting)


def _raw_overrides(source: Source, stage: str) -> dict[str, Any]:
    block = source.data["stages"][stage]
    overrides = block.get("overrides") if isinstance(block, dict) else None
    return overrides if isinstance(overrides, dict) else {}
