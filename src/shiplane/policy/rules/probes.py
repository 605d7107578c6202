"""Readiness, liveness and their ports, judged only where they matter.

Unlike kube-score, a readiness probe is required only when a Service in the run sends
traffic to the pod, and nothing is asked of Jobs, CronJobs or init containers.
"""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import LONG_RUNNING, WORKLOADS, cname, containers

_MAIN = ("containers",)


@rule(
    "probes-readiness-missing",
    Group.PROBES,
    Severity.MEDIUM,
    "readiness probe missing on a pod behind a Service",
    why="Without readiness the Service sends traffic to pods that are still starting or are overloaded.",
    fix="Add a readinessProbe (httpGet on a health path, or tcpSocket on the served port).",
    kinds=LONG_RUNNING,
)
def readiness(obj, ctx):
    services = ctx.selecting(obj, "Service")
    if not services:
        return
    svc = services[0]["metadata"].get("name", "?")
    main = list(containers(obj, _MAIN))
    for path, c, _ in main:
        # Sidecars without ports do not serve the Service's traffic; the only container always does.
        if not c.get("readinessProbe") and (c.get("ports") or len(main) == 1):
            yield Hit(path, f"{cname(c)} (selected by Service {svc!r})")


@rule(
    "probes-liveness-missing",
    Group.PROBES,
    Severity.LOW,
    "liveness probe missing",
    why="A deadlocked process keeps its pod Running forever unless a liveness probe restarts it.",
    fix="Add a livenessProbe that fails only when a restart helps (not on dependency outages).",
    kinds=LONG_RUNNING,
)
def liveness(obj, ctx):
    for path, c, _ in containers(obj, _MAIN):
        if not c.get("livenessProbe"):
            yield Hit(path, cname(c))


_TIMING = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold")


def _action(probe: dict) -> dict:
    return {k: v for k, v in probe.items() if k not in _TIMING and k != "terminationGracePeriodSeconds"}


@rule(
    "probes-liveness-equals-readiness",
    Group.PROBES,
    Severity.MEDIUM,
    "liveness probe identical to readiness probe",
    why="When load makes readiness fail, an identical liveness probe restarts every pod at once: a cascade.",
    fix="Make liveness cheaper and more tolerant (longer period/threshold, a /livez that skips dependencies).",
    kinds=WORKLOADS,
)
def identical(obj, ctx):
    for path, c, _ in containers(obj, _MAIN):
        live, ready = c.get("livenessProbe"), c.get("readinessProbe")
        if isinstance(live, dict) and isinstance(ready, dict) and live == ready:
            yield Hit((*path, "livenessProbe"), cname(c))


@rule(
    "probes-port-unknown",
    Group.PROBES,
    Severity.HIGH,
    "probe refers to a port name the container does not declare",
    why="A named probe port that does not exist makes the probe fail forever: the pod never becomes ready.",
    fix="Use a port name from the container's ports, or the port number.",
    kinds=WORKLOADS,
)
def probe_port(obj, ctx):
    for path, c, _ in containers(obj, ("initContainers", "containers")):
        names = {p.get("name") for p in c.get("ports") or [] if isinstance(p, dict)}
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(kind)
            if not isinstance(probe, dict):
                continue
            for handler in ("httpGet", "tcpSocket", "grpc"):
                port = (probe.get(handler) or {}).get("port")
                if isinstance(port, str) and not port.isdigit() and port not in names:
                    yield Hit((*path, kind, handler, "port"), f"{cname(c)} {kind} port {port!r}")


RULES = [readiness, liveness, identical, probe_port]
