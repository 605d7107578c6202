"""The opt-in real node (issue 18): containerd + the kubelet in namespaces of their own.

Containers really run here: probes hit a Python HTTP server, logs are its stdout, exec runs in
it, and `shiplane deploy` rolls it and rolls a failing version back. The machine's sysctls the
kubelet checks stay as they were, and `down` leaves no process, mount, cgroup or interface.
Locally the module skips with a reason when the node cannot start here (not root, packages
missing); in CI that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shiplane.kube import Kube, Ref
from shiplane.localcluster import nodebuild, nodeimages, realnode
from tests.conftest import IN_CI, LocalCluster, _consume, private_state
from tests.integration.deploying import cli, history, write

pytestmark = pytest.mark.integration

SYSCTLS = list(realnode.KUBELET_SYSCTLS)
ROOTFS_PACKAGES = ["python3", "busybox-static", "postgresql"]  # Debian's python3 and PostgreSQL 15
PG = "/usr/lib/postgresql/15/bin"

SERVER = b"""
import http.server, sys
VERSION = open("/app/VERSION").read().strip()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        broken = VERSION.endswith("broken")
        code = 503 if self.path == "/ready" and broken else 200
        body = f"version={VERSION} path={self.path}\\n".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        print(f"request {self.command} {self.path} from {self.client_address[0]}", flush=True)
print(f"serving version {VERSION} on 8080", flush=True)
http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
"""


def machine_sysctls() -> dict[str, str]:
    """The kubelet's six, and the conntrack knobs kube-proxy is told to leave (frozen in the node)."""
    values = {key: Path("/proc/sys/" + key.replace(".", "/")).read_text().strip() for key in SYSCTLS}
    for path in realnode.GUARDED:
        if Path(path).exists():
            values[path] = Path(path).read_text().strip()
    return values


def unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"real node unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"real node unavailable: {reason}")


def node_pids(state_dir: Path, cluster: str) -> set[int]:
    """Every process under the node's `unshare` (containers run in PID namespaces of their own,
    nested in the node's; shims re-parent to the node's init): the process tree, by ppid."""
    state = json.loads((state_dir / "clusters" / cluster / "state.json").read_text())
    root = next(p["pid"] for p in state["procs"] if p["component"] == "real-node")
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found = {root}
    while grown := {pid for pid, parent in parents.items() if parent in found} - found:
        found |= grown
    return found


def link_names() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


@pytest.fixture(scope="module")
def sysctls_before() -> dict[str, str]:
    return machine_sysctls()


@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory: pytest.TempPathFactory, sysctls_before) -> Iterator[LocalCluster]:
    from shiplane.errors import ShiplaneError
    from shiplane.localcluster import cluster as lc

    if reason := nodebuild.unsupported_reason():
        unavailable(reason)
    name = f"real-{os.getpid()}"
    with private_state(tmp_path_factory.mktemp("real-state")):
        try:
            try:
                state = _consume(lc.up(name, nodes=1, real_node=True), "real cluster up")
            except ShiplaneError as err:
                unavailable(str(err))
            yield LocalCluster(name, state.kubeconfig, Kube.connect(state.kubeconfig))
        finally:
            _consume(lc.down(name), "real cluster down")
    assert machine_sysctls() == sysctls_before


@pytest.fixture(scope="module")
def images(real_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The app's versions as images built here (a Debian python3 base + the app), imported into containerd."""
    from shiplane.errors import ShiplaneError

    found = nodebuild.locate()
    assert found is not None
    try:
        rootfs = _consume(nodeimages.debian_rootfs(ROOTFS_PACKAGES), "rootfs")
    except ShiplaneError as err:  # no mmdebstrap, or Debian's mirror unreachable
        unavailable(str(err))
    socket = realnode.NodeLayout(real_cluster.kubeconfig.parent / "node", real_cluster.name, 0, 0).containerd_socket
    out = tmp_path_factory.mktemp("images")
    names = {}
    for version in ("1", "2", "3-broken"):
        name = f"shiplane.local/hello:{version}"
        app = nodeimages.files_layer({"app/server.py": SERVER, "app/VERSION": version.encode()}, mode=0o644)
        archive = nodeimages.oci_archive(
            out / f"hello-{version}.tar",
            name,
            [rootfs, app],
            entrypoint=["/usr/bin/python3", "-u", "/app/server.py"],
            user="65532",  # shiplane renders runAsNonRoot, and a real kubelet enforces it
        )
        nodeimages.import_image(found.ctr, socket, archive)
        names[version] = name
    # The database: the same Debian rootfs, run as its `postgres` user.
    pg = nodeimages.oci_archive(out / "pg.tar", "shiplane.local/pg:15", [rootfs], entrypoint=["/bin/sh"])
    nodeimages.import_image(found.ctr, socket, pg)
    names["pg"] = "shiplane.local/pg:15"
    names["pg-uid"] = postgres_uid(rootfs)
    return names


def postgres_uid(rootfs: Path) -> str:
    import tarfile

    with tarfile.open(rootfs) as tar:
        passwd = tar.extractfile("./etc/passwd").read().decode()
    return next(line.split(":")[2] for line in passwd.splitlines() if line.startswith("postgres:"))


@pytest.fixture
def real_namespace(real_cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace whose pods all land on the real node (selector + toleration by admission)."""
    name = f"{request.node.name.lower().replace('_', '-')[:30].strip('-')}-{os.getpid() % 10000}"
    kube = real_cluster.kube
    # Created under a field manager of its own: `shiplane deploy` applies the namespace too, and
    # server-side apply would drop annotations its own manager had set before.
    kube.resource("v1", "Namespace").create(
        body={
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "annotations": realnode.namespace_annotations()},
        },
        field_manager="shiplane-tests-real-node",
    )
    _consume(kube.wait_for(Ref("v1", "ServiceAccount", "default", name), lambda o: o is not None, timeout=60), "ns")
    yield name
    kube.delete(Ref("v1", "Namespace", name), propagation="Background")


def exec_in(kubeconfig: Path, namespace: str, pod: str, *command: str) -> str:
    """`pods/exec` through the API server → the socat bridge → the kubelet → containerd → runc."""
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    return stream(
        api.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=list(command),
        stderr=True,
        stdout=True,
        stdin=False,
        tty=False,
    )


def test_node_is_ready_tainted_and_kwok_leaves_it_alone(real_cluster, sysctls_before):
    kube = real_cluster.kube
    node = kube.get(Ref("v1", "Node", realnode.NODE_NAME))
    assert node is not None
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://2.4.2")
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.36.3"
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and "kubelet" in ready["message"]  # kwok would say otherwise
    assert [t["key"] for t in node["spec"]["taints"]] == [realnode.TAINT_KEY]
    assert {"type": "InternalIP", "address": realnode.NODE_IP} in node["status"]["addresses"]
    assert "kwok.x-k8s.io/node" not in (node["metadata"].get("annotations") or {})
    # The kubelet found the values it wanted in the node's files; the machine's are untouched.
    assert machine_sysctls() == sysctls_before
    node_dir = real_cluster.kubeconfig.parent / "node"
    assert realnode.leftover_mounts(node_dir) == []  # the node's mounts are invisible here
    for key, value in realnode.KUBELET_SYSCTLS.items():
        assert (node_dir / "sysctl" / key).read_text().strip() == value
    # Any local user can reach the kubelet's port on 127.0.0.2; without the API server's client
    # certificate it answers 401 (logs and exec, below, go through the API server).
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"https://{realnode.NODE_IP}:{port}/pods", context=insecure, timeout=5)
    assert refused.value.code == 401
    # The kubelet's iptables chains exist only in the node's netns, never in the machine's.
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert "KUBE-" not in rules


def test_a_pod_really_runs_probes_logs_and_exec(real_cluster, images, real_namespace):
    kube, ns = real_cluster.kube, real_namespace
    probe = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1}
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "hello", "namespace": ns},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": images["1"],
                        "imagePullPolicy": "Never",
                        "readinessProbe": probe,
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2},
                    }
                ]
            },
        }
    )
    ref = Ref("v1", "Pod", "hello", ns)
    _consume(
        kube.wait_for(
            ref,
            lambda o: any(c["type"] == "Ready" and c["status"] == "True" for c in o["status"].get("conditions", [])),
            timeout=60,
        ),
        "pod ready",
    )
    pod = kube.get(ref)
    assert pod["spec"]["nodeName"] == realnode.NODE_NAME
    assert re.fullmatch(r"10\.88\.0\.\d+", pod["status"]["podIP"])
    time.sleep(3)  # a few more probe periods
    lines = list(kube.pod_log("hello", ns, container="web"))
    text = "\n".join(lines)
    assert "serving version 1 on 8080" in text
    # The kubelet's probes, from the node's bridge address, really reached the server.
    assert re.search(r"request GET /ready from 10\.88\.0\.1", text)
    assert re.search(r"request GET /healthz from 10\.88\.0\.1", text)
    out = exec_in(
        real_cluster.kubeconfig,
        ns,
        "hello",
        "python3",
        "-c",
        "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8080/x').read().decode())",
    )
    assert "version=1 path=/x" in out
    assert exec_in(real_cluster.kubeconfig, ns, "hello", "cat", "/app/VERSION").strip() == "1"


def app_spec(namespace: str, image: str) -> dict:
    return {
        "app": {"name": "hello", "version": image.rsplit(":", 1)[1]},
        "defaults": {"resources": {"limits": {"cpu": "200m", "memory": "128Mi"}}},
        "services": {
            "web": {
                "image": image,
                "replicas": 2,
                "ports": {"http": 8080},
                "probes": {
                    "readiness": {"http": {"port": "http", "path": "/ready"}, "periodSeconds": 1},
                    "liveness": {"http": {"port": "http", "path": "/healthz"}, "periodSeconds": 2},
                },
            }
        },
        "stages": {"dev": {"namespace": namespace}},
    }


def served_versions(kube: Kube, kubeconfig: Path, ns: str) -> set[str]:
    pods = kube.list("v1", "Pod", namespace=ns)
    running = [
        p
        for p in pods
        if p["metadata"]["name"].startswith("web-")
        and p["status"].get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
    ]
    return {exec_in(kubeconfig, ns, p["metadata"]["name"], "cat", "/app/VERSION").strip() for p in running}


def test_deploy_rolls_the_real_app_and_rolls_back_a_failing_probe(real_cluster, images, real_namespace, tmp_path):
    kc, kube, ns = real_cluster.kubeconfig, real_cluster.kube, real_namespace
    v1 = write(tmp_path, app_spec(ns, images["1"]), "v1.yaml")
    first = cli("deploy", "-f", str(v1), "--stage", "dev", "--plain", "--timeout", "90", kubeconfig=kc)
    assert first.returncode == 0, first.stderr
    assert served_versions(kube, kc, ns) == {"1"}

    v2 = write(tmp_path, app_spec(ns, images["2"]), "v2.yaml")
    second = cli("deploy", "-f", str(v2), "--stage", "dev", "--plain", "--timeout", "90", kubeconfig=kc)
    assert second.returncode == 0, second.stderr
    time.sleep(2)  # the old pods finish terminating (SIGTERM to a real process)
    assert served_versions(kube, kc, ns) == {"2"}
    web = kube.get(Ref("apps/v1", "Deployment", "web", ns))
    assert web["status"]["readyReplicas"] == 2 and web["status"]["updatedReplicas"] == 2
    # The Service shiplane rendered routes (kube-proxy, in the node's netns) to the new version.
    cluster_ip = kube.get(Ref("v1", "Service", "web", ns))["spec"]["clusterIP"]
    client = next(p["metadata"]["name"] for p in kube.list("v1", "Pod", namespace=ns) if p["status"].get("podIP"))
    fetch = (
        f"import urllib.request as u;[print(u.urlopen('http://{cluster_ip}:8080/').read().decode()) for _ in range(4)]"
    )
    answers = exec_in(kc, ns, client, "python3", "-c", fetch).split()
    assert set(answers) >= {"version=2"} and "version=1" not in answers

    broken = write(tmp_path, app_spec(ns, images["3-broken"]), "v3.yaml")
    third = cli("deploy", "-f", str(broken), "--stage", "dev", "--plain", "--timeout", "20", kubeconfig=kc)
    assert third.returncode == 1
    assert "revision 3 failed" in third.stderr
    assert "rolled back automatically: revision 4 restores revision 2" in third.stderr
    assert "Traceback" not in third.stderr
    # The readiness probe failed for real: the kubelet recorded it against the broken pods.
    events = kube.list("v1", "Event", namespace=ns)
    assert any(e.get("reason") == "Unhealthy" and "Readiness probe failed" in e.get("message", "") for e in events)
    web = kube.get(Ref("apps/v1", "Deployment", "web", ns))
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == images["2"]
    _consume(
        kube.wait_for(
            Ref("apps/v1", "Deployment", "web", ns),
            lambda o: (
                o["status"].get("readyReplicas") == 2
                and o["status"].get("updatedReplicas") == 2
                and o["status"].get("replicas") == 2
            ),
            timeout=60,
        ),
        "rolled back",
    )
    time.sleep(2)
    assert served_versions(kube, kc, ns) == {"2"}
    assert [r["outcome"] for r in history(v1, kc)] == ["superseded", "superseded", "rolled-back", "deployed"]


def test_up_and_down_leave_nothing_behind(tmp_path, sysctls_before):
    """A cluster of its own: after `down`, no process, mount, netns, cgroup or interface remains."""
    from shiplane.localcluster import cluster as lc

    if reason := nodebuild.unsupported_reason():
        unavailable(reason)
    links_before = link_names()
    previous = os.environ.get("SHIPLANE_STATE")
    os.environ["SHIPLANE_STATE"] = str(tmp_path)
    name = f"real-down-{os.getpid()}"
    stopped = False
    try:
        state = _consume(lc.up(name, nodes=1, real_node=True), "up")
        cgroups = state.real_node["cgroups"]
        assert cgroups and all(os.path.isdir(c) for c in cgroups)
        # A running pod at `down`: its container, shim, overlay mount, veth and pod netns must go too.
        kube = Kube.connect(state.kubeconfig)
        _consume(
            kube.wait_for(Ref("v1", "ServiceAccount", "default", "default"), lambda o: o is not None, timeout=60), "sa"
        )
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "left-running", "namespace": "default"},
            "spec": {
                "nodeName": realnode.NODE_NAME,  # bypasses the scheduler and the taint
                "containers": [{"name": "p", "image": realnode.PAUSE_IMAGE, "imagePullPolicy": "Never"}],
            },
        }
        kube.apply(pod)
        running = lambda o: o and o.get("status", {}).get("phase") == "Running"  # noqa: E731
        _consume(kube.wait_for(Ref("v1", "Pod", "left-running", "default"), running, timeout=60), "pod")
        pids = node_pids(tmp_path, name)
        assert len(pids) >= 7  # init, socats, containerd, kubelet, kube-proxy, shim, pause
        assert any(Path(f"/proc/{p}/comm").read_text().strip() == "pause" for p in pids)
        netns = {os.readlink(f"/proc/{p}/ns/net") for p in pids}
        sockets = realnode.NodeLayout(state.directory / "node", name, 0, 0).sockets
        assert (sockets / "containerd.sock").is_socket()
        _consume(lc.down(name), "down")
        stopped = True
    finally:
        if not stopped:  # a failed assertion above must not leave the cluster running
            _consume(lc.down(name), "down after a failure")
        if previous is None:
            os.environ.pop("SHIPLANE_STATE", None)
        else:
            os.environ["SHIPLANE_STATE"] = previous
    assert not [p for p in pids if Path(f"/proc/{p}").exists()]
    assert not [c for c in cgroups if os.path.exists(c)]
    assert not sockets.exists()
    assert not any(str(tmp_path) in line for line in Path("/proc/self/mountinfo").read_text().splitlines())
    alive_netns = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                alive_netns.add(os.readlink(entry / "ns/net"))
            except OSError:
                continue
    assert not netns & alive_netns
    assert link_names() - links_before == set()  # no veth or bridge ever appeared on the machine
    assert machine_sysctls() == sysctls_before


def database(ns: str, images: dict[str, str]) -> dict:
    """PostgreSQL 15 from Debian's packages, in a pod on the real node (trust auth: a throwaway)."""
    uid = int(images["pg-uid"])
    start = (
        f"set -e; {PG}/initdb -D /data/pg -U app --auth=trust >/dev/null;"
        " echo 'host all all 0.0.0.0/0 trust' >> /data/pg/pg_hba.conf;"
        f" exec {PG}/postgres -D /data/pg -c listen_addresses='*' -k /tmp"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "db", "namespace": ns, "labels": {"shiplane.test/db": "pg"}},
        "spec": {
            "securityContext": {"runAsUser": uid, "runAsGroup": uid, "fsGroup": uid, "runAsNonRoot": True},
            "containers": [
                {
                    "name": "pg",
                    "image": images["pg"],
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", start],
                    "readinessProbe": {
                        "exec": {"command": [f"{PG}/pg_isready", "-h", "127.0.0.1", "-U", "app"]},
                        "periodSeconds": 1,
                    },
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }


def migrating_spec(ns: str, image: str, db_host: str, sql: str) -> dict:
    spec = app_spec(ns, image)
    web = spec["services"]["web"]
    web["replicas"] = 1
    web["env"] = {"DB_HOST": db_host}
    psql = f'exec {PG}/psql -h "$DB_HOST" -U app -d postgres -v ON_ERROR_STOP=1 -c "{sql}"'
    web["migration"] = {"command": ["sh", "-c", psql]}
    return spec


def migration_logs(kube: Kube, ns: str) -> str:
    """The migration pods' own output (what psql said), for a failing assertion's message."""
    out = []
    for pod in kube.list("v1", "Pod", namespace=ns):
        if "-migrate-" in pod["metadata"]["name"]:
            container = pod["spec"]["containers"][0]["name"]
            out += [pod["metadata"]["name"] + ":", *kube.pod_log(pod["metadata"]["name"], ns, container=container)]
    return "\n".join(out)


def columns(kubeconfig: Path, ns: str) -> str:
    query = "select string_agg(column_name, ',' order by ordinal_position) from information_schema.columns"
    query += " where table_name = 'greetings'"
    return sql(kubeconfig, ns, query)


def sql(kubeconfig: Path, ns: str, query: str) -> str:
    """A query run by psql inside the database's pod (exec on the real node)."""
    return exec_in(kubeconfig, ns, "db", f"{PG}/psql", "-h", "127.0.0.1", "-U", "app", "-d", "postgres", "-tAc", query)


def test_the_migration_job_really_changes_the_schema_before_the_new_version_rolls_out(
    real_cluster, images, real_namespace, tmp_path
):
    kc, kube, ns = real_cluster.kubeconfig, real_cluster.kube, real_namespace
    kube.apply(database(ns, images))
    ready = lambda o: any(c["type"] == "Ready" and c["status"] == "True" for c in o["status"].get("conditions", []))  # noqa: E731
    _consume(kube.wait_for(Ref("v1", "Pod", "db", ns), ready, timeout=90), "db ready")
    # The migration reaches the database through a ClusterIP Service (kube-proxy on the node).
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db", "namespace": ns, "labels": {}},
        "spec": {"selector": {"shiplane.test/db": "pg"}, "ports": [{"port": 5432}]},
    }
    db_host = kube.resource("v1", "Service").create(body=service, namespace=ns).to_dict()["spec"]["clusterIP"]

    create = (
        "CREATE TABLE greetings (id serial PRIMARY KEY, text text NOT NULL); INSERT INTO greetings (text) VALUES ('v1')"
    )
    v1 = write(tmp_path, migrating_spec(ns, images["1"], db_host, create), "v1.yaml")
    first = cli("deploy", "-f", str(v1), "--stage", "dev", "--plain", "--timeout", "90", kubeconfig=kc)
    assert first.returncode == 0, first.stderr + migration_logs(kube, ns)
    assert columns(kc, ns).strip() == "id,text"
    first_jobs = {j["metadata"]["name"] for j in kube.list("batch/v1", "Job", namespace=ns)}

    alter = "ALTER TABLE greetings ADD COLUMN lang text NOT NULL DEFAULT 'en';"
    alter += " INSERT INTO greetings (text, lang) VALUES ('v2', 'fr')"
    v2 = write(tmp_path, migrating_spec(ns, images["2"], db_host, alter), "v2.yaml")
    second = cli("deploy", "-f", str(v2), "--stage", "dev", "--plain", "--timeout", "90", kubeconfig=kc)
    assert second.returncode == 0, second.stderr + migration_logs(kube, ns)
    assert columns(kc, ns).strip() == "id,text,lang"
    rows = sql(kc, ns, "select text || '/' || lang from greetings order by id")
    assert rows.split() == ["v1/en", "v2/fr"]

    # The schema changed before the new version's pods existed: the Job finished first.
    jobs = [j for j in kube.list("batch/v1", "Job", namespace=ns) if j["metadata"]["name"] not in first_jobs]
    assert len(jobs) == 1 and jobs[0]["status"].get("succeeded") == 1  # new SQL, new Job
    last_job = jobs[0]["status"]["completionTime"]
    v2_sets = [
        rs
        for rs in kube.list("apps/v1", "ReplicaSet", namespace=ns)
        if rs["spec"]["template"]["spec"]["containers"][0]["image"] == images["2"]
    ]
    assert len(v2_sets) == 1 and last_job <= v2_sets[0]["metadata"]["creationTimestamp"]
    assert served_versions(kube, kc, ns) == {"2"}
