"""One process per container: supervisors and shell wrappers that start several daemons."""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, cname, containers
from shiplane.policy.shell import process_problem


@rule(
    "process-multiple",
    Group.PROCESSES,
    Severity.MEDIUM,
    "container runs several processes",
    why="Kubernetes restarts, probes and limits work per container: a second daemon dies or leaks unnoticed.",
    fix="Run each process in its own container (a sidecar in the same pod if they must share files or localhost).",
    kinds=WORKLOADS,
)
def multiple(obj, ctx):
    for path, c, _ in containers(obj, ("containers",)):
        argv = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
        problem = process_problem(argv) if argv else None
        if problem:
            yield Hit((*path, "command" if c.get("command") else "args"), f"{cname(c)} {problem}")


RULES = [multiple]
