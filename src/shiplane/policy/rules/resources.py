"""Requests and limits: the lesson the product brief puts first."""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, cname, containers

_RUN = ("initContainers", "containers")  # ephemeral containers cannot have resources


def _missing(obj, section: str, resource: str):
    for path, c, _ in containers(obj, _RUN):
        res = c.get("resources") or {}
        if resource not in (res.get(section) or {}):
            yield Hit((*path, "resources", section) if res.get(section) else (*path, "resources"), cname(c))


@rule(
    "resources-memory-limit",
    Group.RESOURCES,
    Severity.HIGH,
    "memory limit missing",
    why="Without a memory limit one leaking container can exhaust the node and get its neighbours OOM-killed.",
    fix="Set resources.limits.memory (usually equal to requests.memory).",
    kinds=WORKLOADS,
)
def memory_limit(obj, ctx):
    return _missing(obj, "limits", "memory")


@rule(
    "resources-memory-request",
    Group.RESOURCES,
    Severity.MEDIUM,
    "memory request missing",
    why="The scheduler places pods by requests; without one the pod may land on a node that cannot hold it.",
    fix="Set resources.requests.memory to the working-set size you observe.",
    kinds=WORKLOADS,
)
def memory_request(obj, ctx):
    for path, c, _ in containers(obj, _RUN):
        res = c.get("resources") or {}
        # A limit alone defaults the request to the limit, which is fine.
        if "memory" not in (res.get("requests") or {}) and "memory" not in (res.get("limits") or {}):
            yield Hit((*path, "resources"), cname(c))


@rule(
    "resources-cpu-request",
    Group.RESOURCES,
    Severity.MEDIUM,
    "CPU request missing",
    why="Without a CPU request the pod is BestEffort for CPU and starves first under contention.",
    fix="Set resources.requests.cpu (e.g. 100m).",
    kinds=WORKLOADS,
)
def cpu_request(obj, ctx):
    for path, c, _ in containers(obj, _RUN):
        res = c.get("resources") or {}
        if "cpu" not in (res.get("requests") or {}) and "cpu" not in (res.get("limits") or {}):
            yield Hit((*path, "resources"), cname(c))


@rule(
    "resources-cpu-limit",
    Group.RESOURCES,
    Severity.LOW,
    "CPU limit missing",
    why="An unbounded container can take every idle core; some teams prefer no CPU limit to avoid throttling.",
    fix="Set resources.limits.cpu, or suppress with the reason you rely on requests only.",
    kinds=WORKLOADS,
)
def cpu_limit(obj, ctx):
    return _missing(obj, "limits", "cpu")


@rule(
    "resources-ephemeral-storage",
    Group.RESOURCES,
    Severity.LOW,
    "ephemeral-storage limit missing",
    why="Logs and scratch files count against node disk; without a limit one pod can fill it and evict others.",
    fix="Set resources.limits.ephemeral-storage (and a sizeLimit on emptyDir volumes).",
    kinds=WORKLOADS,
)
def ephemeral_storage(obj, ctx):
    return _missing(obj, "limits", "ephemeral-storage")


RULES = [memory_limit, memory_request, cpu_request, cpu_limit, ephemeral_storage]
