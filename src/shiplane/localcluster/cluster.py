"""The local control plane: up, status, down.

etcd → kube-apiserver → kube-controller-manager + kube-scheduler → kwok, each started
only once the one before is healthy; then fake nodes and a default StorageClass are
created and `up` returns when every node is Ready and the `default` ServiceAccount
exists (pods created earlier would be refused by admission).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from shiplane.errors import ClusterFailed, InputError, ShiplaneError
from shiplane.events import Event, Note, Step, Waiting
from shiplane.kube import Kube, Ref
from shiplane.localcluster import binaries, nodebuild, pki, realnode, stages, tools
from shiplane.localcluster.processes import Proc, alive, free_ports, log_tail, spawn, stop

START_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
DEFAULT_NAME = "default"


def state_root() -> Path:
    if explicit := os.environ.get("SHIPLANE_STATE"):
        return Path(explicit)
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "shiplane"


@dataclass
class ClusterState:
    """What `up` started, persisted as state.json so `status` and `down` can find it."""

    name: str
    directory: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    nodes: int = 1
    started_at: float = 0.0
    # The opt-in real node: its kubelet port and the cgroup directories made for it (removed by `down`).
    real_node: dict | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['kube-apiserver']}"

    def save(self) -> None:
        data = {
            "name": self.name,
            "ports": self.ports,
            "procs": [p.to_json() for p in self.procs],
            "nodes": self.nodes,
            "started_at": self.started_at,
            "real_node": self.real_node,
        }
        tmp = self.directory / "state.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.directory / "state.json")

    @classmethod
    def load(cls, name: str) -> ClusterState | None:
        directory = state_root() / "clusters" / name
        try:
            data = json.loads((directory / "state.json").read_text())
        except FileNotFoundError:
            return None
        except ValueError as err:
            raise ClusterFailed(f"{directory}/state.json is corrupt: {err}", hint="remove that directory") from None
        return cls(
            name=data["name"],
            directory=directory,
            ports=data["ports"],
            procs=[Proc(**p) for p in data["procs"]],
            nodes=data.get("nodes", 1),
            started_at=data.get("started_at", 0.0),
            real_node=data.get("real_node"),
        )


def _validate_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise InputError(f"cluster name {name!r}: use letters, digits, '-' and '_' only")


def _flags(state: ClusterState) -> dict[str, list[str]]:
    d, p = state.directory, state.ports
    kubeconfig = str(state.kubeconfig)
    kube_auth = [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
    ]
    return {
        "etcd": [
            f"--data-dir={d / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{p['etcd']}",
            f"--advertise-client-urls=http://127.0.0.1:{p['etcd']}",
            f"--listen-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
            f"--initial-cluster=default=http://127.0.0.1:{p['etcd-peer']}",
            "--unsafe-no-fsync",  # a throwaway cluster: durability costs seconds per test
            "--log-level=warn",
        ],
        "kube-apiserver": [
            f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={p['kube-apiserver']}",
            f"--tls-cert-file={d / 'pki/apiserver.crt'}",
            f"--tls-private-key-file={d / 'pki/apiserver.key'}",
            f"--client-ca-file={d / 'pki/ca.crt'}",
            f"--token-auth-file={d / 'tokens.csv'}",
            f"--service-account-issuer=https://127.0.0.1:{p['kube-apiserver']}",
            f"--service-account-key-file={d / 'pki/sa.pub'}",
            f"--service-account-signing-key-file={d / 'pki/sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            # No kubelet or kube-proxy: the loopback address cannot go into the
            # `kubernetes` Endpoints, and fairness queues only cost CPU here.
            "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false",
            # pods/log, exec, port-forward go to the node's kubelet endpoint: kwok's server on the
            # loopback InternalIP below (node names do not resolve). kwok's server authenticates
            # nobody, and with no --kubelet-certificate-authority its serving cert is not checked.
            "--kubelet-preferred-address-types=InternalIP",
            # The aggregation layer (metrics.k8s.io from metrics-server, with --metrics-server).
            f"--requestheader-client-ca-file={d / 'pki/front-proxy-ca.crt'}",
            f"--requestheader-allowed-names={pki.FRONT_PROXY_CLIENT}",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={d / 'pki/front-proxy-client.crt'}",
            f"--proxy-client-key-file={d / 'pki/front-proxy-client.key'}",
            # With a real node: a namespace annotated by `realnode.namespace_annotations()` sends
            # every pod to it (node selector + toleration), so specs need no scheduling fields.
            *(_real_node_apiserver_flags(d) if state.real_node else []),
        ],
        "kube-controller-manager": [
            *kube_auth,
            # The default 20 QPS makes a 400-pod rehearsal crawl; a local API server takes far more.
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            f"--secure-port={p['kube-controller-manager']}",
            "--controllers=*",
            "--use-service-account-credentials=false",
            f"--service-account-private-key-file={d / 'pki/sa.key'}",
            f"--root-ca-file={d / 'pki/ca.crt'}",
            f"--cluster-signing-cert-file={d / 'pki/ca.crt'}",
            f"--cluster-signing-key-file={d / 'pki/ca.key'}",
        ],
        "kube-scheduler": [
            *kube_auth,
            f"--secure-port={p['kube-scheduler']}",
            "--kube-api-qps=200",
            "--kube-api-burst=400",
        ],
        "kwok": [
            f"--kubeconfig={kubeconfig}",
            f"--config={d / 'kwok-stages.yaml'}",
            # Only the fake nodes (a real node, if any, is its kubelet's own).
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--cidr=10.244.0.0/16",
            "--node-ip=127.0.0.1",  # the API server reaches kwok's kubelet server here (pods/log)
            f"--node-port={p['kwok']}",  # → each node's status.daemonEndpoints.kubeletEndpoint.Port
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{p['kwok']}",
            # Container logs: Logs/ClusterLogs objects (kwok.x-k8s.io) name a CRI-format log file
            # per pod/container; kwok serves them as a kubelet's containerLogs (see LOG_CRDS).
            "--enable-crds=" + ",".join(stages.LOG_KINDS),
        ],
    }


def _real_node_apiserver_flags(d: Path) -> list[str]:
    return [
        "--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction",
        # The real kubelet accepts only clients with a certificate of the cluster's CA (kwok ignores it).
        f"--kubelet-client-certificate={d / 'pki/kubelet-client.crt'}",
        f"--kubelet-client-key={d / 'pki/kubelet-client.key'}",
    ]


def _http_ok(url: str, *, ctx: ssl.SSLContext | None = None, token: str | None = None) -> tuple[bool, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2, context=ctx) as resp:
            body = resp.read(2000).decode(errors="replace")
            return resp.status == 200, body.strip()
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code}: {err.read(300).decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError) as err:
        return False, str(getattr(err, "reason", err))


def _health_check(state: ClusterState, component: str, token: str) -> Callable[[], tuple[bool, str]]:
    p = state.ports
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # kcm/scheduler self-sign their serving certs
    trusted = ssl.create_default_context(cafile=str(state.directory / "pki/ca.crt"))
    return {
        "etcd": lambda: _http_ok(f"http://127.0.0.1:{p['etcd']}/health"),
        "kube-apiserver": lambda: _http_ok(f"{state.server}/readyz", ctx=trusted, token=token),
        "kube-controller-manager": lambda: _http_ok(
            f"https://127.0.0.1:{p['kube-controller-manager']}/healthz", ctx=insecure
        ),
        "kube-scheduler": lambda: _http_ok(f"https://127.0.0.1:{p['kube-scheduler']}/healthz", ctx=insecure),
        "kwok": lambda: _http_ok(f"http://127.0.0.1:{p['kwok']}/healthz"),
    }[component]


def _wait_healthy(proc: Proc, check: Callable[[], tuple[bool, str]], timeout: float) -> Generator[Event]:
    started = time.monotonic()
    detail = ""
    while time.monotonic() - started < timeout:
        if not alive(proc):
            raise ClusterFailed(
                f"{proc.component} exited during start-up; last log lines:\n    {log_tail(proc.log)}",
                hint=f"full log: {proc.log}",
            )
        ok, detail = check()
        if ok:
            return
        yield Waiting(f"{proc.component} healthy", time.monotonic() - started, detail[:120])
        time.sleep(0.25)
    raise ClusterFailed(
        f"{proc.component} not healthy after {timeout:.0f}s (last: {detail[:200]}); log:\n    {log_tail(proc.log)}",
        hint=f"full log: {proc.log}",
    )


NODE_CAPACITY = {"cpu": "32", "memory": "128Gi", "ephemeral-storage": "1Ti", "pods": "250", "nvidia.com/gpu": "2"}


def node(index: int) -> dict:
    name = f"kwok-node-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "kwok",
                # Zones let topology-spread and anti-affinity rules be rehearsed.
                "topology.kubernetes.io/zone": f"zone-{'abc'[index % 3]}",
                "type": "kwok",
            },
            "annotations": {
                "kwok.x-k8s.io/node": "fake",
                # kwok serves every node's resource metrics on one port; metrics-server (≥ 0.7)
                # scrapes the path this annotation names instead of the kubelet's /metrics/resource.
                "metrics.k8s.io/resource-metrics-path": f"/metrics/nodes/{name}/metrics/resource",
            },
        },
        "spec": {},
        # A node must advertise every resource pods may request (kwok's defaults lack
        # ephemeral-storage and GPUs); kwok keeps what the creator sets.
        "status": {"capacity": NODE_CAPACITY, "allocatable": NODE_CAPACITY},
    }


def _node_ready(obj: dict | None) -> bool:
    conditions = (obj or {}).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def up(
    name: str = DEFAULT_NAME,
    *,
    nodes: int = 1,
    start_timeout: float = 180.0,
    metrics_server: bool = False,
    real_node: bool = False,
) -> Generator[Event, None, ClusterState]:
    """Build if needed, start everything, wait for Ready nodes; return the running cluster.
    `metrics_server`: also serve metrics.k8s.io (resource usage against limits in `status`)."""
    _validate_name(name)
    if nodes < 1:
        raise InputError(f"--nodes {nodes}: a cluster needs at least one node")
    if real_node:
        realnode.check_startable()
    existing = ClusterState.load(name)
    if existing and all(alive(p) for p in existing.procs):
        if real_node and not existing.real_node:
            raise InputError(
                f"cluster {name!r} is already running without a real node",
                hint=f"stop it first (`shiplane cluster down --name {name}`), or pick another --name",
            )
        yield Note(f"cluster {name!r} is already running")
        return existing
    if existing:
        yield Note(f"cluster {name!r} was left half-running; cleaning it up first")
        yield from down(name)

    found = binaries.locate()
    if found is None:
        found = yield from binaries.build()
    node_binaries = (nodebuild.locate() or (yield from nodebuild.build())) if real_node else None
    stage_dir = binaries.kwok_stage_dir()
    metrics_binary = (
        (tools.locate("metrics-server") or (yield from tools.build("metrics-server"))) if metrics_server else None
    )

    started = time.monotonic()
    directory = state_root() / "clusters" / name
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    directory.chmod(0o700)
    state = ClusterState(name=name, directory=directory, nodes=nodes, started_at=time.time())
    if real_node:
        state.real_node = {"cgroups": []}
    keys = ["etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
    state.ports = dict(zip(keys, free_ports(len(keys)), strict=True))

    yield Step("generate PKI and kubeconfig")
    pki.make_pki(directory / "pki", cluster=name)
    if real_node:
        pki.make_client_cert(directory / "pki", "kubelet-client", common_name="kube-apiserver-kubelet-client")
    token = pki.make_token_file(directory / "tokens.csv")
    config = pki.kubeconfig(cluster=name, server=state.server, ca=directory / "pki/ca.crt", token=token)
    pki.write_kubeconfig(state.kubeconfig, config)
    kwok_config = [*stages.all_stages(stage_dir), *stages.metrics_configs(stage_dir)]
    (directory / "kwok-stages.yaml").write_text(yaml.safe_dump_all(kwok_config, sort_keys=False))
    yield Step("generate PKI and kubeconfig", done=True)

    flags = _flags(state)
    try:
        for component in START_ORDER:
            if component == "kwok":  # kwok watches its Logs CRDs from start-up: they must be served
                yield from _install_log_crds(state, stage_dir, start_timeout)
            yield Step(f"start {component}")
            t0 = time.monotonic()
            proc = spawn(
                component, [*found.argv[component], *flags[component]], log=directory / "logs" / f"{component}.log"
            )
            state.procs.append(proc)
            state.save()
            yield from _wait_healthy(proc, _health_check(state, component, token), start_timeout)
            yield Step(f"start {component}", done=True, seconds=time.monotonic() - t0)

        kube = Kube.connect(state.kubeconfig)
        yield Step(f"create {nodes} kwok node(s) and the default StorageClass")
        for i in range(nodes):
            kube.apply(node(i))
        kube.apply(stages.storage_class(stage_dir))
        for i in range(nodes):
            yield from kube.wait_for(
                Ref("v1", "Node", f"kwok-node-{i}"),
                _node_ready,
                timeout=start_timeout,
                describe=lambda o: "no status yet" if not o or not o.get("status") else "not Ready",
            )
        yield from kube.wait_for(
            Ref("v1", "ServiceAccount", "default", "default"), lambda o: o is not None, timeout=start_timeout
        )
        yield Step(f"create {nodes} kwok node(s) and the default StorageClass", done=True)
        if node_binaries is not None:
            yield from _start_real_node(state, node_binaries, kube, start_timeout)
        if metrics_binary is not None:
            yield from _start_metrics_server(state, metrics_binary, kube, start_timeout)
    except (ShiplaneError, KeyboardInterrupt):
        stop(list(reversed(state.procs)))
        if state.real_node:
            realnode.remove_socket_dir(_node_layout(state))
            realnode.remove_cgroups(state.real_node["cgroups"])
        raise
    yield Step(f"cluster {name!r} up", done=True, seconds=time.monotonic() - started)
    return state


METRICS_API = "v1beta1.metrics.k8s.io"


def _start_metrics_server(state: ClusterState, binary: Path, kube: Kube, timeout: float) -> Generator[Event]:
    """metrics-server as a process beside the control plane, scraping kwok's simulated usage, served
    as metrics.k8s.io through the aggregation layer. The API server reaches it through an
    ExternalName Service naming localhost: nothing routes a Service IP here (no kube-proxy)."""
    yield Step("start metrics-server")
    t0 = time.monotonic()
    port = free_ports(1)[0]
    state.ports["metrics-server"] = port
    d, kubeconfig = state.directory, str(state.kubeconfig)
    argv = [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={d / 'metrics-server'}",
        # kwok's kubelet endpoint (the node's InternalIP and daemon port) serves a self-signed cert.
        "--kubelet-insecure-tls",
        "--kubelet-use-node-status-port",
        "--kubelet-preferred-address-types=InternalIP",
        "--metric-resolution=10s",  # its minimum: usage shows within two scrapes
        "--kubelet-request-timeout=5s",  # must be below the resolution
    ]
    proc = spawn("metrics-server", argv, log=d / "logs" / "metrics-server.log")
    state.procs.append(proc)
    state.save()
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system"},
            "spec": {"type": "ExternalName", "externalName": "localhost"},
        }
    )
    kube.apply(
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": METRICS_API},
            "spec": {
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "service": {"name": "metrics-server", "namespace": "kube-system", "port": port},
                "insecureSkipTLSVerify": True,  # its serving cert is self-signed in --cert-dir
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        }
    )

    def available() -> tuple[bool, str]:
        obj = kube.get(Ref("apiregistration.k8s.io/v1", "APIService", METRICS_API))
        conditions = (obj or {}).get("status", {}).get("conditions") or []
        ok = any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
        return ok, next((c.get("message", "") for c in conditions), "no status yet")

    yield from _wait_healthy(proc, available, timeout)  # a metrics-server that exits fails at once, with its log
    yield Step("start metrics-server", done=True, seconds=time.monotonic() - t0)


def _node_layout(state: ClusterState) -> realnode.NodeLayout:
    assert state.real_node is not None
    port = state.real_node.get("kubelet_port", 0)
    return realnode.NodeLayout(state.directory / "node", state.name, state.ports["kube-apiserver"], port)


def _start_real_node(
    state: ClusterState, found: nodebuild.NodeBinaries, kube: Kube, timeout: float
) -> Generator[Event]:
    """containerd + kubelet in namespaces of their own (see realnode), then wait for the node to be Ready."""
    yield Step("start the real node (containerd, kubelet, kube-proxy)")
    t0 = time.monotonic()
    state.real_node = {"kubelet_port": free_ports(1)[0], "cgroups": []}
    layout = _node_layout(state)
    realnode.write_files(layout, found)
    state.real_node["cgroups"] = realnode.make_cgroups(layout)
    state.save()
    for component, argv in realnode.host_commands(layout):
        state.procs.append(spawn(component, argv, log=layout.directory / "logs" / f"{component}.log"))
        state.save()
    node_proc = spawn("real-node", realnode.node_command(layout), log=layout.directory / "logs" / "nodeinit.log")
    state.procs.append(node_proc)
    state.save()
    ref = Ref("v1", "Node", realnode.NODE_NAME)
    deadline = time.monotonic() + timeout
    while not realnode.initialize_node(kube):
        if not alive(node_proc):
            realnode.raise_failed(layout.directory, "exited during start-up")
        if time.monotonic() > deadline:
            realnode.raise_failed(layout.directory, f"did not register within {timeout:.0f}s")
        yield Waiting("real node registered", time.monotonic() - t0, "")
        time.sleep(0.5)
    realnode.load_pause_image(layout, found)  # containerd is up (the kubelet registered): before pods come
    yield from kube.wait_for(  # Ready, and the node controller has lifted its not-ready taint
        ref,
        lambda o: _node_ready(o) and realnode.only_our_taint(o),
        timeout=max(deadline - time.monotonic(), 10),
        describe=lambda o: "not Ready" if not _node_ready(o) else "taints: " + json.dumps(o["spec"].get("taints")),
    )
    if not alive(node_proc):
        realnode.raise_failed(layout.directory, "exited")
    yield Step("start the real node (containerd, kubelet, kube-proxy)", done=True, seconds=time.monotonic() - t0)


def _crd_established(obj: dict | None) -> bool:
    conditions = (obj or {}).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _install_log_crds(state: ClusterState, stage_dir: Path, timeout: float) -> Generator[Event]:
    kube = Kube.connect(state.kubeconfig)
    for crd in stages.log_crds(stage_dir):
        kube.apply(crd)
        ref = Ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"])
        yield from kube.wait_for(ref, _crd_established, timeout=timeout)


def down(name: str = DEFAULT_NAME, *, keep_state: bool = False) -> Generator[Event, None, dict[str, str]]:
    """Stop every process `up` started (by pid, newest first) and remove the state."""
    _validate_name(name)
    state = ClusterState.load(name)
    if state is None:
        yield Note(f"no cluster named {name!r} (nothing to stop)")
        return {}
    yield Step(f"stop cluster {name!r}")
    outcome = stop(list(reversed(state.procs)))
    survivors = [p for p in state.procs if alive(p)]
    if survivors:
        raise ClusterFailed("could not stop: " + ", ".join(f"{p.component} (pid {p.pid})" for p in survivors))
    if state.real_node:
        realnode.remove_socket_dir(_node_layout(state))
        if left := realnode.remove_cgroups(state.real_node["cgroups"]):
            raise ClusterFailed("could not remove the real node's cgroups: " + ", ".join(left))
    if not keep_state:
        shutil.rmtree(state.directory, ignore_errors=True)
    yield Step(f"stop cluster {name!r}", done=True)
    return outcome


@dataclass(frozen=True)
class Status:
    name: str
    kubeconfig: str
    server: str
    components: dict[str, dict]
    nodes: list[dict]
    version: str | None
    problems: list[str]

    @property
    def healthy(self) -> bool:
        return not self.problems


def status(name: str = DEFAULT_NAME) -> Status:
    _validate_name(name)
    state = ClusterState.load(name)
    if state is None:
        raise InputError(f"no cluster named {name!r}", hint="start it with `shiplane cluster up`")
    components = {p.component: {"pid": p.pid, "running": alive(p), "log": p.log} for p in state.procs}
    problems = [f"{c} (pid {v['pid']}) is not running" for c, v in components.items() if not v["running"]]
    nodes: list[dict] = []
    version = None
    if components.get("kube-apiserver", {}).get("running"):
        try:
            kube = Kube.connect(state.kubeconfig)
            version = kube.server_version()
            for obj in kube.list("v1", "Node"):
                nodes.append({"name": obj["metadata"]["name"], "ready": _node_ready(obj)})
        except ShiplaneError as err:
            problems.append(f"API server not answering: {err}")
    problems += [f"node {n['name']} is not Ready" for n in nodes if not n["ready"]]
    return Status(name, str(state.kubeconfig), state.server, components, nodes, version, problems)


def restart(name: str, component: str, *, timeout: float = 120.0) -> Generator[Event]:
    """Stop one component and start it again with the same flags (to rehearse an API server restart)."""
    state = ClusterState.load(name)
    if state is None:
        raise InputError(f"no cluster named {name!r}")
    index = next((i for i, p in enumerate(state.procs) if p.component == component), None)
    if index is None:
        raise InputError(f"cluster {name!r} has no component {component!r} (components: {', '.join(START_ORDER)})")
    found = binaries.locate()
    if found is None:
        raise ClusterFailed("the control-plane binaries are gone from the cache; run `shiplane cluster build`")
    yield Step(f"restart {component}")
    stop([state.procs[index]])
    token = (state.directory / "tokens.csv").read_text().split(",", 1)[0]
    log = state.directory / "logs" / f"{component}.log"
    proc = spawn(component, [*found.argv[component], *_flags(state)[component]], log=log)
    state.procs[index] = proc
    state.save()
    yield from _wait_healthy(proc, _health_check(state, component, token), timeout)
    yield Step(f"restart {component}", done=True)
