"""Apply order as data: waves, matched by kind (and annotation), in the order listed.

The built-in rules are written in the same form a user's would be, and an object
can name its wave itself with the annotation `shiplane.io/wave`. Within a wave,
objects are independent and applied concurrently; a wave with `wait` is rolled
out (and, for workloads, split by `shiplane.io/depends-on`) before the next starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from shiplane.errors import InputError

WAVE_ANNOTATION = "shiplane.io/wave"
DEPENDS_ANNOTATION = "shiplane.io/depends-on"
MIGRATION_ANNOTATION = "shiplane.io/compatibility"


@dataclass(frozen=True)
class WaveRule:
    wave: str
    kinds: tuple[str, ...] = ()  # empty: any kind
    annotation: str | None = None  # the object must carry this annotation
    wait: bool = False  # roll out before the next wave
    depends_on: bool = False  # split into sub-waves by the depends-on annotation

    @classmethod
    def parse(cls, data: dict) -> WaveRule:
        unknown = set(data) - {"wave", "kinds", "annotation", "wait", "dependsOn"}
        if unknown or "wave" not in data:
            raise InputError(f"ordering rule {data}: expected keys wave, kinds, annotation, wait, dependsOn")
        return cls(
            data["wave"],
            tuple(data.get("kinds", ())),
            data.get("annotation"),
            bool(data.get("wait", False)),
            bool(data.get("dependsOn", False)),
        )

    def matches(self, obj: dict) -> bool:
        if self.kinds and obj["kind"] not in self.kinds:
            return False
        return self.annotation is None or self.annotation in (obj["metadata"].get("annotations") or {})


DEFAULT_RULES: list[dict] = [
    # What other objects are instances of, or refer to by name: before anything that needs them.
    {
        "wave": "definitions",
        "kinds": ["CustomResourceDefinition", "PriorityClass", "StorageClass", "RuntimeClass", "IngressClass"],
    },
    {"wave": "namespace", "kinds": ["Namespace"]},
    {"wave": "identity", "kinds": ["ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]},
    {
        "wave": "config",
        "kinds": ["ConfigMap", "Secret", "PersistentVolumeClaim", "ResourceQuota", "LimitRange"],
    },
    {"wave": "migrations", "kinds": ["Job"], "annotation": MIGRATION_ANNOTATION, "wait": True},
    {"wave": "stateful", "kinds": ["StatefulSet"], "wait": True},
    {"wave": "stateless", "kinds": ["Deployment", "DaemonSet", "Job", "CronJob"], "wait": True, "dependsOn": True},
    {"wave": "network", "kinds": ["Service", "Ingress"]},
    {"wave": "policies", "kinds": ["PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"]},
    {"wave": "other"},
]


def rules(extra: list[dict] | None = None) -> list[WaveRule]:
    """User rules (tried first) followed by the defaults."""
    return [WaveRule.parse(r) for r in [*(extra or []), *DEFAULT_RULES]]


@dataclass(frozen=True)
class Wave:
    name: str
    objects: tuple[dict, ...]
    wait: bool


def _name(obj: dict) -> str:
    labels = obj["metadata"].get("labels") or {}
    return labels.get("app.kubernetes.io/name") or obj["metadata"]["name"]


def _depends(obj: dict) -> list[str]:
    value = (obj["metadata"].get("annotations") or {}).get(DEPENDS_ANNOTATION, "")
    return [d.strip() for d in value.split(",") if d.strip()]


def _levels(objects: list[dict]) -> list[list[dict]]:
    """Topological levels by depends-on, among these objects only (others are earlier waves)."""
    names = {_name(o) for o in objects}
    level: dict[str, int] = {}

    def depth(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            raise InputError("dependsOn forms a cycle: " + " -> ".join((*path, name)))
        if name not in level:
            deps = [d for o in objects if _name(o) == name for d in _depends(o) if d in names]
            level[name] = 1 + max((depth(d, (*path, name)) for d in deps), default=-1)
        return level[name]

    for n in sorted(names):
        depth(n, ())
    out: list[list[dict]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for o in objects:
        out[level[_name(o)]].append(o)
    return out


def waves(objects: list[dict], rule_list: list[WaveRule] | None = None) -> list[Wave]:
    """Group objects into ordered waves; empty waves are left out."""
    rule_list = rule_list or rules()
    order = list(dict.fromkeys(r.wave for r in rule_list))
    by_wave: dict[str, list[dict]] = {w: [] for w in order}
    spec_of = {r.wave: r for r in reversed(rule_list)}  # first rule of a wave name defines it
    for obj in objects:
        named = (obj["metadata"].get("annotations") or {}).get(WAVE_ANNOTATION)
        if named:
            if named not in by_wave:
                raise InputError(f"{obj['kind']} {obj['metadata']['name']}: unknown wave {named!r} (waves: {order})")
            by_wave[named].append(obj)
            continue
        rule = next(r for r in rule_list if r.matches(obj)) if any(r.matches(obj) for r in rule_list) else None
        by_wave[rule.wave if rule else "other"].append(obj)
    out: list[Wave] = []
    for name in order:
        members = by_wave[name]
        if not members:
            continue
        rule = spec_of[name]
        if rule.depends_on:
            levels = _levels(members)
            for i, level in enumerate(levels):
                label = name if len(levels) == 1 else f"{name}-{i + 1}"
                out.append(Wave(label, tuple(level), rule.wait))
        else:
            out.append(Wave(name, tuple(members), rule.wait))
    return out
