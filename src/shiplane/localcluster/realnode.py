"""The opt-in real node: containerd + the kubelet inside namespaces the cluster creates.

Everything the node makes lives in a PID + mount + network namespace whose init is
`nodeinit` (see there): mounts, the pod bridge and veths, containers. They all vanish when
that init exits. The only things outside are two socat bridges on the machine's loopback
(the API server for the kubelet, the kubelet for the API server's logs/exec), and the
cgroup directories under `<hierarchy>/shiplane-<cluster>` (cgroups are machine-wide), which
`cleanup` removes after the processes are gone.

Networking without routing to the machine: inside the node's netns, 127.0.0.1:<apiport> is a
socat that forwards over a unix socket to a socat on the machine, which connects to the API
server; the other way, the node's InternalIP is 127.0.0.2 (loopback on the machine), where a
socat forwards to the kubelet through another unix socket. The kubelet refuses a loopback
--node-ip, so it runs with --cloud-provider=external and shiplane plays the cloud controller:
it sets the node's address and lifts the `uninitialized` taint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import DynamicApiError

from shiplane.errors import ClusterFailed, EnvironmentProblem
from shiplane.kube import Kube, Ref
from shiplane.localcluster import nodebuild, nodeimages

NODE_NAME = "shiplane-real-node"
NODE_IP = "127.0.0.2"
TAINT_KEY = "shiplane.dev/real-node"
LABEL = "shiplane.dev/real-node"
POD_SUBNET = "10.88.0.0/24"
PAUSE_IMAGE = "shiplane.local/pause:1"
UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"

# What the kubelet expects of these VM-global sysctls (k8s.io/component-helpers/node/util/sysctl).
# The node's mount namespace shows it files holding exactly these values; the machine's stay as they are.
GUARDED = ["/proc/sys/net/netfilter/nf_conntrack_max", "/sys/module/nf_conntrack/parameters/hashsize"]
KUBELET_SYSCTLS = {
    "vm.overcommit_memory": "1",
    "vm.panic_on_oom": "0",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
    "kernel.keys.root_maxkeys": "1000000",
    "kernel.keys.root_maxbytes": "25000000",
}

# ---- configuration (pure) -------------------------------------------------------------------


def containerd_config(node_dir: Path, sockets: Path) -> str:
    """containerd's config: every path under the node's directory, CRI with runc and the CNI bridge."""
    d = node_dir
    return f"""version = 3
root = "{d}/containerd/root"
state = "{d}/containerd/state"
imports = []
# Plugins that would reach outside the node's directory or need what is not there.
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.erofs",
  "io.containerd.differ.v1.erofs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{sockets}/containerd.sock"

[ttrpc]
  address = "{sockets}/containerd.sock.ttrpc"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{PAUSE_IMAGE}"

[plugins."io.containerd.cri.v1.runtime"]
  # The machine lacks CAP_SYS_RESOURCE: containers may not get a lower oom_score_adj than containerd's.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
      BinaryName = "/usr/sbin/runc"
      SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "{d}/cni"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
"""


def cni_config(node_dir: Path) -> dict:
    """A bridge with host-local addresses, inside the node's netns only (no masquerading, no routes out)."""
    return {
        "cniVersion": "1.0.0",
        "name": "shiplane",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "shiplane0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    # Via the bridge's address: Service IPs are DNATed there (kube-proxy, node netns).
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(node_dir / "cni-ipam"),
                },
            },
            {"type": "loopback"},
        ],
    }


def kubelet_config(node_dir: Path, sockets: Path, *, port: int, cgroup_root: str) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,  # the machine has hybrid cgroup v1; kubelet >= 1.35 refuses v1 by default
        "cgroupDriver": "cgroupfs",  # no systemd
        "cgroupRoot": cgroup_root,  # pods' cgroups under the cluster's own directory in each hierarchy
        # Check, never write, the VM-global sysctls: the node's mount namespace shows files
        # holding the expected values, so the check passes; were they not covered, it would fail.
        "protectKernelDefaults": True,
        "containerRuntimeEndpoint": f"unix://{sockets}/containerd.sock",
        "port": port,
        "readOnlyPort": 0,
        "podLogsDir": str(node_dir / "pod-logs"),
        # Reached through the socat on the machine's loopback, where any local user could connect:
        # only a client certificate of the cluster's CA (the API server's) gets in.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(node_dir.parent / "pki" / "ca.crt")},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "registerWithTaints": [{"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}],
        "failSwapOn": False,
        "hairpinMode": "none",
        "maxPods": 30,
        "serializeImagePulls": False,
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "resolvConf": "/etc/resolv.conf",
        "syncFrequency": "10s",
        "nodeStatusUpdateFrequency": "5s",
        "fileCheckFrequency": "20s",
    }


def kube_proxy_config(node_dir: Path) -> dict:
    """ClusterIP Services for the node's pods, iptables rules inside the node's netns only."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(node_dir.parent / "kubeconfig")},
        "hostnameOverride": NODE_NAME,
        "mode": "iptables",
        "clusterCIDR": POD_SUBNET,
        # No br_netfilter here (a machine-wide module setting): masquerading every Service
        # connection makes replies come back through the node's netns, where they are un-NATed.
        "iptables": {"masqueradeAll": True},
        # Zero means "leave as is": conntrack's table size and hash are machine-wide.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "metricsBindAddress": "127.0.0.1:10249",
        "healthzBindAddress": "127.0.0.1:10256",
    }


def cgroup_hierarchies(mountinfo: str) -> list[str]:
    """Mount points of every cgroup hierarchy (v1 controllers, named ones, and v2)."""
    points = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[:1] in (["cgroup"], ["cgroup2"]):
            points.append(left.split()[4])
    return points


@dataclass(frozen=True)
class NodeLayout:
    """Where the node keeps everything, and what it holds outside its namespaces."""

    directory: Path  # <cluster>/node
    cluster: str
    api_port: int
    kubelet_port: int

    @property
    def sockets(self) -> Path:
        """A short directory for unix sockets and the kubelet's root (which holds sockets too): a
        socket's path must fit in 108 bytes, and a state directory under pytest's tmp or a deep
        home need not. Removed by `down` with the rest."""
        digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"shiplane-node-{digest}"

    @property
    def containerd_socket(self) -> Path:
        return self.sockets / "containerd.sock"

    @property
    def cgroup_root(self) -> str:
        return f"/shiplane-{self.cluster}"

    def cgroup_dirs(self, mountinfo: str) -> list[str]:
        return [p + self.cgroup_root for p in cgroup_hierarchies(mountinfo)]


def plan(layout: NodeLayout, found: nodebuild.NodeBinaries) -> dict:
    """What nodeinit does, as data (written to plan.json)."""
    d = layout.directory
    kubelet_argv = [
        str(found.kubelet),
        f"--config={d / 'kubelet.yaml'}",
        f"--kubeconfig={d.parent / 'kubeconfig'}",
        f"--root-dir={layout.sockets / 'kubelet'}",
        f"--hostname-override={NODE_NAME}",
        "--cloud-provider=external",  # its address is set by shiplane (a loopback --node-ip is refused)
        f"--node-labels={LABEL}=true",
        "--v=1",
    ]
    return {
        "sysctls": KUBELET_SYSCTLS,
        # Machine-wide knobs kube-proxy could write (it is told not to): frozen read-only, as found.
        "guards": GUARDED,
        "sysctl_files": str(d / "sysctl"),
        # Paths the runtimes use without asking (shim sockets, CNI cache, /var/log/containers):
        # inside the namespace they are the node's own directories.
        "binds": {str(d / "run"): "/run", str(d / "var-lib"): "/var/lib", str(d / "var-log"): "/var/log"},
        "path": f"{found.containerd_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
        "logs": str(d / "logs"),
        "commands": [
            [
                "socat-api",
                [
                    "socat",
                    f"TCP-LISTEN:{layout.api_port},bind=127.0.0.1,reuseaddr,fork",
                    f"UNIX-CONNECT:{layout.sockets / 'api.sock'}",
                ],
            ],
            [
                "socat-kubelet",
                [
                    "socat",
                    f"UNIX-LISTEN:{layout.sockets / 'kubelet.sock'},fork,unlink-early,mode=600",
                    f"TCP:127.0.0.1:{layout.kubelet_port}",
                ],
            ],
            ["containerd", [str(found.containerd_dir / "containerd"), f"--config={d / 'containerd.toml'}"]],
            ["kubelet", kubelet_argv],
            ["kube-proxy", [str(found.kubelet), "kube-proxy", f"--config={d / 'kube-proxy.yaml'}", "--v=1"]],
        ],
        "wait_for": {
            "socat-kubelet": str(layout.sockets / "kubelet.sock"),
            "containerd": str(layout.containerd_socket),
        },
    }


def host_commands(layout: NodeLayout) -> list[tuple[str, list[str]]]:
    """The two bridges on the machine's side (loopback and unix sockets only)."""
    return [
        (
            "node-api-bridge",
            [
                "socat",
                f"UNIX-LISTEN:{layout.sockets / 'api.sock'},fork,unlink-early,mode=600",
                f"TCP:127.0.0.1:{layout.api_port}",
            ],
        ),
        (
            "node-kubelet-bridge",
            [
                "socat",
                f"TCP-LISTEN:{layout.kubelet_port},bind={NODE_IP},reuseaddr,fork",
                f"UNIX-CONNECT:{layout.sockets / 'kubelet.sock'}",
            ],
        ),
    ]


def node_command(layout: NodeLayout) -> list[str]:
    return [
        "unshare",
        "--pid",
        "--fork",
        "--kill-child",  # if unshare is killed, so is the namespace's init, and with it everything inside
        "--mount",
        "--propagation=private",  # nothing mounted inside ever shows on the machine
        "--net",
        "--mount-proc",
        sys.executable,
        "-m",
        "shiplane.localcluster.nodeinit",
        str(layout.directory / "plan.json"),
    ]


def write_files(layout: NodeLayout, found: nodebuild.NodeBinaries) -> None:
    d = layout.directory
    for sub in ("logs", "cni", "sysctl", "run", "var-lib", "var-log", "pod-logs"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    remove_socket_dir(layout)
    layout.sockets.mkdir(mode=0o700)
    (layout.sockets / "kubelet").mkdir()
    (d / "containerd.toml").write_text(containerd_config(d, layout.sockets))
    (d / "cni" / "10-shiplane.conflist").write_text(json.dumps(cni_config(d), indent=2))
    kubelet = kubelet_config(d, layout.sockets, port=layout.kubelet_port, cgroup_root=layout.cgroup_root)
    (d / "kubelet.yaml").write_text(yaml.safe_dump(kubelet, sort_keys=False))
    (d / "kube-proxy.yaml").write_text(yaml.safe_dump(kube_proxy_config(d), sort_keys=False))
    (d / "plan.json").write_text(json.dumps(plan(layout, found), indent=2))


def remove_socket_dir(layout: NodeLayout) -> None:
    """Only once the node's processes are gone (its mounts went with its mount namespace)."""
    shutil.rmtree(layout.sockets, ignore_errors=True)


def make_cgroups(layout: NodeLayout) -> list[str]:
    """The kubelet wants its cgroupRoot to exist in every hierarchy; returns what was made."""
    made = []
    for path in layout.cgroup_dirs(Path("/proc/self/mountinfo").read_text()):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
            made.append(path)
    return made


def remove_cgroups(dirs: list[str], *, timeout: float = 15.0) -> list[str]:
    """rmdir each tree bottom-up (cgroup directories hold no removable files); returns what is left."""
    deadline = time.monotonic() + timeout
    left: list[str] = []
    while True:
        left = []
        for top in dirs:
            if not os.path.isdir(top):
                continue
            for root, _subdirs, _files in sorted(os.walk(top, topdown=False), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(root)
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(root)  # EBUSY while the kernel still tears down its last tasks
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


def only_our_taint(node: dict | None) -> bool:
    return [t["key"] for t in ((node or {}).get("spec", {}).get("taints") or [])] == [TAINT_KEY]


def initialize_node(kube: Kube) -> bool:
    """Act as the cloud controller: set the node's InternalIP and lift the `uninitialized` taint.

    Returns True once done (False while the kubelet has not registered the node yet).
    """
    obj = kube.get(Ref("v1", "Node", NODE_NAME))
    if obj is None:
        return False
    api = kube.resource("v1", "Node")
    taints = [t for t in (obj["spec"].get("taints") or []) if t["key"] != UNINITIALIZED_TAINT]
    addresses = [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": NODE_NAME}]
    merge = "application/merge-patch+json"
    try:
        if len(taints) != len(obj["spec"].get("taints") or []):
            api.patch(name=NODE_NAME, body={"spec": {"taints": taints}}, content_type=merge)
        if obj.get("status", {}).get("addresses") != addresses:
            api.status.patch(name=NODE_NAME, body={"status": {"addresses": addresses}}, content_type=merge)
    except (ApiException, DynamicApiError):
        return False  # the kubelet updated the node meanwhile: read it again on the next round
    return True


def namespace_annotations() -> dict[str, str]:
    """Annotations that place every pod of a namespace on the real node (PodNodeSelector and
    PodTolerationRestriction admission, enabled on the API server when a real node runs)."""
    toleration = [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
    return {
        "scheduler.alpha.kubernetes.io/node-selector": f"{LABEL}=true",
        "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(toleration),
    }


def load_pause_image(layout: NodeLayout, found: nodebuild.NodeBinaries) -> None:
    """The sandbox image, from our own pause binary: pods start without any image download."""
    archive = nodeimages.oci_archive(
        layout.directory / "pause.tar",
        PAUSE_IMAGE,
        [nodeimages.files_layer({"pause": found.pause.read_bytes()})],
        entrypoint=["/pause"],
    )
    nodeimages.import_image(found.ctr, layout.containerd_socket, archive)
    archive.unlink()


def check_startable() -> None:
    if reason := nodebuild.unsupported_reason():
        raise EnvironmentProblem(f"cannot start a real node: {reason}")


def leftover_mounts(directory: Path) -> list[str]:
    """Mounts on the machine that name the node's directory (there must be none)."""
    text = Path("/proc/self/mountinfo").read_text()
    return [line for line in text.splitlines() if str(directory) in line]


def describe_failure(directory: Path) -> str:
    lines = []
    for name in ("nodeinit", "containerd", "kubelet"):
        log = directory / "logs" / f"{name}.log"
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-8:]
            lines.append(f"{name}:\n    " + "\n    ".join(tail))
    return "\n".join(lines) or "(no logs)"


def raise_failed(directory: Path, what: str) -> None:
    raise ClusterFailed(f"real node: {what}\n{describe_failure(directory)}", hint=f"logs: {directory / 'logs'}")
