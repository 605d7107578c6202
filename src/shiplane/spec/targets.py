"""`targets:`: one app deployed many times (tenants x regions x stages) — models and expansion.

Expansion is pure: the validated `targets` block and the stage names in, a list of Target
out, or Problems with the path they concern (the loader turns paths into file:line).

Precedence of overrides (lowest first), one order everywhere:
  app defaults < stage overrides < each dimension value in matrix order (its components
  first, then its own overrides) < matching `include` entries (in file order).
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from shiplane.redaction import describe
from shiplane.spec.fields import DnsLabel, Model
from shiplane.spec.limits import dns_label
from shiplane.spec.merging import Path_, merge_patch
from shiplane.spec.reporting import Problem, suggest

# Keys an include entry may carry besides coordinates; a dimension cannot use these names.
ENTRY_KEYS = ("context", "namespace", "overrides", "components")
RESERVED = ("stage", *ENTRY_KEYS)
_FIELD = re.compile(r"\{([^{}]*)\}")


class DimensionValue(Model):
    """One value of a dimension (e.g. region `eu`): where it deploys and how it differs."""

    context: str | None = None
    namespace: str | None = None  # a template: "shop-{tenant}-{stage}"
    overrides: dict[str, Any] = Field(default_factory=dict)
    components: list[str] = Field(default_factory=list)


class Component(Model):
    """A named, opt-in bundle of overrides (like a Kustomize component)."""

    description: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


class Rollout(Model):
    order: list[str] = Field(default_factory=list)  # dimensions: the first one's values are the waves
    max_parallel: int = Field(default=1, ge=1, le=64)
    canary: dict[str, str] = Field(default_factory=dict)  # coordinates (globs allowed) deployed first
    fail_fast: bool = True


class Guard(Model):
    max_target_removals: int = Field(default=1, ge=0)


class Targets(Model):
    dimensions: dict[DnsLabel, dict[DnsLabel, DimensionValue]] = Field(min_length=1)
    components: dict[DnsLabel, Component] = Field(default_factory=dict)
    matrix: list[str] = Field(default_factory=list)  # default: stage, then the dimensions as declared
    exclude: list[dict[str, str]] = Field(default_factory=list)
    include: list[dict[str, Any]] = Field(default_factory=list)
    rollout: Rollout = Field(default_factory=Rollout)
    guard: Guard = Field(default_factory=Guard)

    @model_validator(mode="before")
    @classmethod
    def _empty_values(cls, v: Any) -> Any:
        # `acme:` (no settings) is a value with nothing to add.
        if isinstance(v, dict) and isinstance(v.get("dimensions"), dict):
            dims = {
                d: {k: ({} if x is None else x) for k, x in vals.items()} if isinstance(vals, dict) else vals
                for d, vals in v["dimensions"].items()
            }
            v = {**v, "dimensions": dims}
        return v


@dataclass(frozen=True)
class Target:
    """One place the app runs: a stage at one value of every dimension."""

    stage: str
    coordinates: tuple[tuple[str, str], ...]  # (dimension, value) in matrix order
    context: str | None
    namespace: str
    # Overrides in precedence order, each with the path it was written at (for file:line errors).
    layers: tuple[tuple[Path_, Mapping[str, Any]], ...] = ()

    @property
    def id(self) -> str:
        """Unique within a stage: the values joined (`eu-acme`); keys locks and release records."""
        return "-".join(v for _, v in self.coordinates)

    @property
    def label(self) -> str:
        return ",".join(f"{d}={v}" for d, v in self.coordinates)

    @property
    def name(self) -> str:
        """`prod/region=eu,tenant=acme`: how targets are shown to users."""
        return f"{self.stage}/{self.label}" if self.coordinates else self.stage

    @property
    def overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _, layer in self.layers:
            out = merge_patch(out, layer)
        return out

    def get(self, key: str) -> str | None:
        return self.stage if key == "stage" else dict(self.coordinates).get(key)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, **dict(self.coordinates), "context": self.context, "namespace": self.namespace}


def matches(target: Target, selector: Mapping[str, str]) -> bool:
    """Every key of the selector matches (values are shell-style globs: `tenant=a*`)."""
    return all(
        (value := target.get(key)) is not None and fnmatch.fnmatchcase(value, pattern)
        for key, pattern in selector.items()
    )


def parse_selector(text: str) -> dict[str, str]:
    """`region=eu,tenant=a*` → {"region": "eu", "tenant": "a*"}; ValueError says what is wrong."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"expected dimension=value pairs separated by commas, got {part!r}")
        out[key.strip()] = value.strip()
    return out


def _matrix(t: Targets) -> tuple[list[str], list[Problem]]:
    problems = []
    matrix = list(t.matrix) or ["stage", *t.dimensions]
    for i, name in enumerate(matrix):
        if name != "stage" and name not in t.dimensions:
            known = ["stage", *t.dimensions]
            problems.append(Problem(("targets", "matrix", i), f"no dimension {name!r}{suggest(name, known)}"))
        if matrix.index(name) != i:
            problems.append(Problem(("targets", "matrix", i), f"{name!r} is listed twice"))
    for d in t.dimensions:
        if d not in matrix and t.matrix:
            problems.append(Problem(("targets", "matrix"), f"dimension {d!r} is declared but not in the matrix"))
    if "stage" not in matrix:
        matrix.insert(0, "stage")
    return matrix, problems


def _check_coordinates(
    entry: Mapping[str, Any], path: Path_, t: Targets, stages: Iterable[str], *, extra: Iterable[str] = ()
) -> list[Problem]:
    problems = []
    stages = list(stages)
    for key, value in entry.items():
        if key in extra:
            continue
        if key == "stage":
            choices = stages
        elif key in t.dimensions:
            choices = list(t.dimensions[key])
        else:
            known = ["stage", *t.dimensions, *extra]
            problems.append(Problem((*path, key), f"no dimension {key!r}{suggest(str(key), known)}"))
            continue
        if not isinstance(value, str):
            problems.append(Problem((*path, key), f"expected a {key} name (a string) (got {describe(value)})"))
        elif not any(fnmatch.fnmatchcase(c, value) for c in choices):
            problems.append(
                Problem((*path, key), f"no {key} {value!r} (known: {', '.join(choices)}){suggest(value, choices)}")
            )
    return problems


# What an include entry's own keys must be (the model types them as Any: an entry's other keys are
# coordinates, so only these are checked here), with how a message names each.
_ENTRY_TYPES = {
    "context": (str, "a kubeconfig context name (a string)"),
    "namespace": (str, "a namespace or a template like 'shop-{tenant}-{stage}' (a string)"),
    "overrides": (dict, "a mapping of overrides"),
    "components": (list, "a list of component names"),
}


def _check_entry_types(entry: Mapping[str, Any], path: Path_) -> list[Problem]:
    """Each of an include entry's own keys has its type (None: not set, as for a dimension value)."""
    problems = []
    for key, (kind, expected) in _ENTRY_TYPES.items():
        value = entry.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            problems.append(Problem((*path, key), f"expected {expected} (got {describe(value)})"))
    return problems


def _components(names: Any, path: Path_, t: Targets) -> tuple[list[tuple[Path_, Mapping]], list[Problem]]:
    layers, problems = [], []
    if not isinstance(names, list):
        return [], [Problem(path, "expected a list of component names")]
    for i, name in enumerate(names):
        if not isinstance(name, str):  # an include entry's components are not typed by the model
            problems.append(Problem((*path, i), f"expected a component name, got {type(name).__name__}"))
        elif name not in t.components:
            problems.append(Problem((*path, i), f"no component {name!r}{suggest(str(name), t.components)}"))
        elif t.components[name].overrides:
            layers.append((("targets", "components", name, "overrides"), t.components[name].overrides))
    return layers, problems


def _render(template: str, where: Path_, coords: Mapping[str, str]) -> tuple[str | None, Problem | None]:
    missing = [f for f in _FIELD.findall(template) if f not in coords]
    if missing:
        known = ", ".join("{" + k + "}" for k in coords)
        return None, Problem(where, f"unknown placeholder {{{missing[0]}}} (known: {known})")
    name = _FIELD.sub(lambda m: coords[m.group(1)], template)
    if problem := dns_label(name):
        return None, Problem(where, f"namespace {name!r} (from {template!r}) is not a DNS label: {problem}")
    return name, None


def check(t: Targets, stages: Iterable[str]) -> list[Problem]:
    """Cross-field problems of the targets block: references to missing things."""
    stages = list(stages)
    _, problems = _matrix(t)
    for d in t.dimensions:
        if d in RESERVED:
            problems.append(Problem(("targets", "dimensions", d), f"{d!r} is reserved and cannot name a dimension"))
    for d, values in t.dimensions.items():
        for v, value in values.items():
            problems += _components(value.components, ("targets", "dimensions", d, v, "components"), t)[1]
    for i, entry in enumerate(t.exclude):
        problems += _check_coordinates(entry, ("targets", "exclude", i), t, stages)
    for i, entry in enumerate(t.include):
        problems += _check_coordinates(entry, ("targets", "include", i), t, stages, extra=ENTRY_KEYS)
        problems += _check_entry_types(entry, ("targets", "include", i))
        if isinstance(entry.get("components"), list):
            problems += _components(entry["components"], ("targets", "include", i, "components"), t)[1]
    for i, name in enumerate(t.rollout.order):
        if name not in t.dimensions:
            problems.append(
                Problem(("targets", "rollout", "order", i), f"no dimension {name!r}{suggest(name, t.dimensions)}")
            )
    problems += _check_coordinates(t.rollout.canary, ("targets", "rollout", "canary"), t, stages)
    return problems


@dataclass(frozen=True)
class StageDefaults:
    """What a target inherits from its stage when no dimension value sets it."""

    context: str | None
    namespace: str
    overrides: Mapping[str, Any]


def expand(t: Targets, stages: Mapping[str, StageDefaults]) -> tuple[list[Target], list[Problem]]:
    """Every target of the matrix, in matrix order, minus excludes, plus includes."""
    matrix, problems = _matrix(t)
    problems += check(t, stages)
    if problems:
        return [], problems
    axes = [list(stages) if name == "stage" else list(t.dimensions[name]) for name in matrix]
    combos = [dict(zip(matrix, values, strict=True)) for values in itertools.product(*axes)]
    # Includes that name every matrix key and match nothing add a target.
    for entry in t.include:
        coords = {k: entry[k] for k in matrix if k in entry}
        literal = not any(set(str(v)) & set("*?[") for v in coords.values())
        if len(coords) == len(matrix) and literal and not any(_same(c, coords) for c in combos):
            combos.append(coords)
    targets, seen = [], set()
    for combo in combos:
        excluded = any(all(fnmatch.fnmatchcase(combo[k], v) for k, v in e.items()) for e in t.exclude)
        explicitly = [e for e in t.include if len([k for k in matrix if k in e]) == len(matrix) and _same(combo, e)]
        if excluded and not explicitly:
            continue
        target, found = _one(t, matrix, combo, stages[combo["stage"]])
        problems += found
        if target is not None and (target.stage, target.id) not in seen:
            seen.add((target.stage, target.id))
            targets.append(target)
    return targets, problems


def _same(combo: Mapping[str, str], entry: Mapping[str, Any]) -> bool:
    return all(combo.get(k) == entry.get(k) for k in combo)


def _one(t: Targets, matrix: list[str], combo: dict[str, str], stage: StageDefaults):
    problems: list[Problem] = []
    layers: list[tuple[Path_, Mapping]] = []
    if stage.overrides:
        layers.append((("stages", combo["stage"], "overrides"), stage.overrides))
    context, namespace, ns_where = stage.context, None, None
    for dim in matrix:
        if dim == "stage":
            continue
        value = t.dimensions[dim][combo[dim]]
        where = ("targets", "dimensions", dim, combo[dim])
        layers += _components(value.components, (*where, "components"), t)[0]
        if value.overrides:
            layers.append(((*where, "overrides"), value.overrides))
        context = value.context or context
        if value.namespace:
            namespace, ns_where = value.namespace, (*where, "namespace")
    for i, entry in enumerate(t.include):
        if not all(k in ENTRY_KEYS or fnmatch.fnmatchcase(combo.get(k, ""), str(v)) for k, v in entry.items()):
            continue
        where = ("targets", "include", i)
        layers += _components(entry.get("components", []), (*where, "components"), t)[0]
        if entry.get("overrides"):
            layers.append(((*where, "overrides"), entry["overrides"]))
        context = entry.get("context") or context
        if entry.get("namespace"):
            namespace, ns_where = entry["namespace"], (*where, "namespace")
    ns = stage.namespace
    if namespace is not None:
        rendered, problem = _render(str(namespace), ns_where or (), combo)
        if problem:
            return None, [problem]
        ns = rendered or ns
    coords = tuple((d, combo[d]) for d in matrix if d != "stage")
    return Target(combo["stage"], coords, context, ns, tuple(layers)), problems


def wave_plan(targets: list[Target], rollout: Rollout) -> list[list[Target]]:
    """Canary targets first (one wave), then one wave per value of the first `order` dimension,
    targets inside a wave sorted by the rest of `order`. Without `order`: one wave."""
    canary = [x for x in targets if rollout.canary and matches(x, rollout.canary)]
    rest = [x for x in targets if x not in canary]
    order = list(rollout.order)
    rest.sort(key=lambda x: tuple(x.get(d) or "" for d in order))
    waves: list[list[Target]] = [canary] if canary else []
    if not order:
        return [*waves, rest] if rest else waves
    for _, group in itertools.groupby(rest, key=lambda x: x.get(order[0])):
        waves.append(list(group))
    return waves
