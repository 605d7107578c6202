"""Host namespaces, host paths, the container runtime socket and host ports."""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, Pss, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, cname, containers, pod_spec

RUNTIME_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock")


def _namespace_rule(field: str, rule_id: str, what: str):
    @rule(
        rule_id,
        Group.HOST,
        Severity.HIGH,
        f"{field} enabled",
        why=f"{field} shares the node's {what} with the pod, so it sees (and can disturb) everything on the node.",
        fix=f"Remove spec.{field}; expose what you need through a Service or a volume instead.",
        kinds=WORKLOADS,
        pss=Pss.BASELINE,
    )
    def check(obj, ctx):
        found = pod_spec(obj)
        if found and found[1].get(field) is True:
            yield Hit((*found[0], field))

    return check


host_network = _namespace_rule("hostNetwork", "host-network", "network stack")
host_pid = _namespace_rule("hostPID", "host-pid", "process table")
host_ipc = _namespace_rule("hostIPC", "host-ipc", "IPC namespace")


def _host_paths(obj):
    found = pod_spec(obj)
    if not found:
        return
    base, spec = found
    for i, v in enumerate(spec.get("volumes") or []):
        if isinstance(v.get("hostPath"), dict):
            yield (*base, "volumes", i, "hostPath"), v


@rule(
    "host-path",
    Group.HOST,
    Severity.HIGH,
    "hostPath volume",
    why="A hostPath volume reads or writes the node's own files; it ties the pod to a node and can leak host secrets.",
    fix="Use a PersistentVolumeClaim or an emptyDir.",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def host_path(obj, ctx):
    for path, v in _host_paths(obj):
        if not str(v["hostPath"].get("path", "")).endswith(RUNTIME_SOCKETS):
            yield Hit(path, f"volume {v.get('name')!r} mounts {v['hostPath'].get('path')}")


@rule(
    "host-runtime-socket",
    Group.HOST,
    Severity.CRITICAL,
    "container runtime socket mounted",
    why="Whoever can talk to the Docker/containerd socket can start privileged containers: root on the node.",
    fix="Remove the socket mount; build images with a rootless builder (BuildKit rootless, kaniko).",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def runtime_socket(obj, ctx):
    for path, v in _host_paths(obj):
        if str(v["hostPath"].get("path", "")).endswith(RUNTIME_SOCKETS):
            yield Hit(path, f"volume {v.get('name')!r} mounts {v['hostPath'].get('path')}")


@rule(
    "host-port",
    Group.HOST,
    Severity.MEDIUM,
    "hostPort used",
    why="A hostPort binds the node's port: one pod per node, and it bypasses NetworkPolicies on some CNIs.",
    fix="Remove ports[].hostPort and expose the port through a Service.",
    kinds=WORKLOADS,
    pss=Pss.BASELINE,
)
def host_port(obj, ctx):
    for path, c, _ in containers(obj):
        for i, p in enumerate(c.get("ports") or []):
            if isinstance(p, dict) and p.get("hostPort"):
                yield Hit((*path, "ports", i, "hostPort"), f"{cname(c)} hostPort {p['hostPort']}")


RULES = [host_network, host_pid, host_ipc, host_path, runtime_socket, host_port]
