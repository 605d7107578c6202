"""The import report: per service what it became and why, what was mapped, guessed and
dropped, and what blocks running it on Kubernetes. Text for people, JSON for tools.

Messages name variables, secrets and files, never a secret's value.
"""

from __future__ import annotations

import json
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
        kinds = ", ".join(f"{s.name} ({s.kind})" for s in self.services)
        out = [f"Imported {len(self.services)} service(s) of app {self.app} from {', '.join(self.sources)}: {kinds}"]
        if self.blocker_count:
            out.append(f"{self.blocker_count} blocker(s) to resolve before this runs faithfully on Kubernetes.")
        if self.images:
            out += ["", f"Images ({len(self.images)} to build or pin before test/prod):"]
            out += [f"  - {i}" for i in self.images]
        for s in self.services:
            out += ["", f"{s.name} [{s.kind}] ({s.source}): {s.why}"]
            for label, items in (
                ("BLOCKER", s.blockers),
                ("mapped", s.mapped),
                ("guessed", s.guessed),
                ("dropped", s.dropped),
            ):
                out += [f"  {label}: {item}" for item in items]
        for title, items in (
            ("Cluster prerequisites", self.prerequisites),
            ("Secrets", self.secrets),
            ("Notes", self.notes),
            ("Not expressible in the spec format (mapped to the nearest field)", self.spec_gaps),
        ):
            if items:
                out += ["", f"{title}:"] + [f"  - {i}" for i in items]
        if self.next_step:
            out += ["", self.next_step[0].upper() + self.next_step[1:]]
        return "\n".join(out) + "\n"
