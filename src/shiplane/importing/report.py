"""The import report: per service what it became and why, what was mapped, guessed and
dropped, and what blocks running it on Kubernetes. Text for people, JSON for tools.

Messages name variables, secrets and files, never a secret's value.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field


@dataclass
class ServiceReport:
    name: str
    source: str  # e.g. "compose service 'db'", "unit web.service"
    kind: str = "stateless"
    why: str = ""
    mapped: list[str] = field(default_factory=list)
    guessed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    connections: list[dict] = field(default_factory=list)  # {to, evidence} or {network, evidence: None}


@dataclass
class Report:
    tool: str  # compose | systemd | procfile | manifests
    app: str
    sources: list[str]
    services: list[ServiceReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    prerequisites: list[str] = field(default_factory=list)  # what the cluster must have first
    secrets: list[str] = field(default_factory=list)  # where each secret's value lives (never the value)
    spec_gaps: list[str] = field(default_factory=list)  # what the spec format could not express
    images: list[str] = field(default_factory=list)  # to build / to pin / to fill in, each with its fix
    connections: list[str] = field(default_factory=list)  # inferred and broad rules, grouped per network
    moved: list[str] = field(default_factory=list)  # helm/kustomize: each rendered object → where it went
    next_step: str = ""

    def service(self, name: str) -> ServiceReport:
        return next(s for s in self.services if s.name == name)

    @property
    def blocker_count(self) -> int:
        return sum(len(s.blockers) for s in self.services)

    def to_json(self) -> str:
        data = asdict(self)
        data["summary"] = {
            "services": len(self.services),
            "stateful": sum(s.kind == "stateful" for s in self.services),
            "blockers": self.blocker_count,
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def to_text(self) -> str:
        """Readable at any size: services whose lines are the same but for their own name are one
        block, and a long list shows its first items and a count (`--report json` has them all)."""
        by_kind: dict[str, list[str]] = {}
        for s in self.services:
            by_kind.setdefault(s.kind, []).append(s.name)
        kinds = "; ".join(f"{len(v)} {k}: {ranged(v)}" for k, v in by_kind.items())
        if len(self.services) <= 8:
            kinds = ", ".join(f"{s.name} ({s.kind})" for s in self.services)
        out = [f"Imported {len(self.services)} service(s) of app {self.app} from {', '.join(self.sources)}: {kinds}"]
        if self.blocker_count:
            out.append(f"{self.blocker_count} blocker(s) to resolve before this runs faithfully on Kubernetes.")
        if self.images:
            out += ["", f"Images ({len(self.images)} to build or pin before test/prod):"]
            out += _capped(self.images)
        if self.connections:
            out += ["", "Connections:", *_capped(self.connections)]
        blocks: dict[tuple[str, ...], list[tuple[ServiceReport, tuple[str, ...]]]] = {}
        for s in self.services:  # the same lines but for the name and numbers (ports): one block
            block = _block(s)
            blocks.setdefault(tuple(re.sub(r"\d+", "N", x) for x in block), []).append((s, block))
        for masked, group in blocks.items():
            if len(group) == 1:
                out += ["", *(line.replace(_ME, group[0][0].name) for line in group[0][1])]
                continue
            names = [s.name for s, _ in group]
            out += ["", f"{ranged(names)} ({len(names)} services, <name> below is each one's name):"]
            for i, line in enumerate(group[0][1]):
                same = all(b[i] == line for _, b in group)
                out.append((line if same else masked[i]).replace(_ME, "<name>"))
        for title, items in (
            ("Moved (rendered object → spec)", self.moved),
            ("Cluster prerequisites", self.prerequisites),
            ("Secrets", self.secrets),
            ("Notes", self.notes),
            ("Not expressible in the spec format (mapped to the nearest field)", self.spec_gaps),
        ):
            if items:
                out += ["", f"{title}:", *_capped(items)]
        if self.next_step:
            out += ["", self.next_step[0].upper() + self.next_step[1:]]
        return "\n".join(out) + "\n"


_ME = "\x00"  # stands for the service's own name while blocks are compared
_CAP = 12


def _capped(items: list[str]) -> list[str]:
    shown = [f"  - {i}" for i in items[:_CAP]]
    if len(items) > _CAP:
        shown.append(f"  - … and {len(items) - _CAP} more (--report json lists every one)")
    return shown


def _block(s: ServiceReport) -> tuple[str, ...]:
    def own(text: str) -> str:
        return re.sub(rf"(?<![\w-]){re.escape(s.name)}(?![\w-])", _ME, text)

    lines = [own(f"{s.name} [{s.kind}] ({s.source}): {s.why}")]
    for label, items in (("BLOCKER", s.blockers), ("mapped", s.mapped), ("guessed", s.guessed), ("dropped", s.dropped)):
        lines += [own(f"  {label}: {item}") for item in items]
    return tuple(lines)


def ranged(names: list[str], limit: int = 4) -> str:
    """`svc000…svc199` for a run, else the first few and the last: short at any size."""
    if len(names) <= limit:
        return ", ".join(names)
    m = [re.fullmatch(r"(.*?)(\d+)", n) for n in names]
    if all(m) and len({x.group(1) for x in m if x}) == 1:
        nums = [int(x.group(2)) for x in m if x]
        if nums == list(range(nums[0], nums[0] + len(nums))):
            return f"{names[0]}…{names[-1]}"
    return f"{', '.join(names[: limit - 1])}, … {names[-1]}"
