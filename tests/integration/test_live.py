"""`status` (the tree, --watch, drift), `events`, `logs` and deploy's take-back on the local control plane.

Crashing pods come from kwok's fault stages (`sim.shiplane.io/fault: fail`: CrashLoopBackOff, 3
restarts, last terminated Error exit 1); container logs from kwok's Logs/ClusterLogs objects,
served through its kubelet-compatible server to the API server's `pods/log`.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shiplane.events import result
from shiplane.kube import Ref
from shiplane.localcluster import cluster as lc
from shiplane.localcluster.stages import FAULT, log_object
from tests.integration.deploying import SECRET_VALUE, cli, spec, start, write

pytestmark = pytest.mark.integration
DIGEST = "sha256:" + "0123456789abcdef" * 4


def deploy(path: Path, kc: Path, *extra: str) -> subprocess.CompletedProcess:
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", *extra, kubeconfig=kc)
    assert SECRET_VALUE not in out.stdout + out.stderr
    return out


class Lines:
    """A subprocess' stdout read line by line on a thread, so a test can wait with a timeout; its
    stderr is drained too (a full pipe would block the command) and kept for failure messages."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.seen, self.q, self.errors = proc, [], queue.Queue(), []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.errors.extend(proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))

    def until(self, pred, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if pred(line):
                return line
        raise AssertionError(f"not seen in {timeout}s; got:\n" + "\n".join(self.seen[-40:]))

    def stop(self) -> int:
        """Ctrl-C; a command still running 20 s later is a failure, with its threads' stacks."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            self.proc.wait(timeout=10)
            time.sleep(0.5)
            raise AssertionError("still running 20 s after Ctrl-C:\n" + "".join(self.errors)[-6000:]) from None
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def pods(kube, namespace: str, name: str) -> list[dict]:
    return [
        p
        for p in kube.list("v1", "Pod", namespace=namespace, label_selector=f"app.kubernetes.io/name={name}")
        if not p["metadata"].get("deletionTimestamp")
    ]


def test_status_tree_after_a_failed_rollout(local_cluster, namespace, tmp_path):
    kube, kc = local_cluster.kube, local_cluster.kubeconfig
    good = spec(namespace)
    good["services"]["web"]["image"] = f"nginx:1.27@{DIGEST}"
    assert deploy(write(tmp_path, good), kc).returncode == 0
    bad = spec(namespace, tag="1.28", annotations={FAULT: "fail"})
    bad["services"]["web"]["image"] = f"nginx:1.27@{DIGEST}"
    failed = deploy(write(tmp_path, bad, "bad.yaml"), kc, "--no-rollback", "--timeout", "60")
    assert failed.returncode == 1, failed.stdout + failed.stderr

    # A Warning about one crashing pod, as a kubelet reports it.
    crashing = sorted(
        p["metadata"]["name"]
        for p in pods(kube, namespace, "web")
        if (p["metadata"].get("annotations") or {}).get(FAULT) == "fail"
    )
    assert crashing
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{crashing[0]}.backoff", "namespace": namespace},
            "involvedObject": {"kind": "Pod", "name": crashing[0], "namespace": namespace, "apiVersion": "v1"},
            "type": "Warning",
            "reason": "BackOff",
            "message": "Back-off restarting failed container web",
            "count": 7,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": "kubelet"},
        }
    )

    path = write(tmp_path, good)
    out = cli("status", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc)
    assert out.returncode == 1, out.stderr  # web is not healthy
    data = json.loads(out.stdout)
    assert {"revision", "healthy", "workloads", "tree"} <= data.keys()  # the old fields stay
    tree = data["tree"]
    assert tree["revision"] == 1  # the last good release
    web = next(w for w in tree["workloads"] if w["name"] == "web")
    db = next(w for w in tree["workloads"] if w["name"] == "db")
    assert web["kind"] == "Deployment" and web["desired"] == 2
    new, old = web["revisions"][0], web["revisions"][1]
    assert (new["kind"], new["revision"], new["current"]) == ("ReplicaSet", 2, True)
    assert (old["revision"], old["current"], old["ready"]) == (1, False, 2)
    assert all(p["phase"] == "Running" and p["ready"] == "1/1" for p in old["pods"]) and len(old["pods"]) == 2
    assert new["pods"], new
    for p in new["pods"]:
        (c,) = p["containers"]
        assert (p["ready"], p["restarts"]) == ("0/1", 3)
        assert c["last_termination"] == "Error (exit 1)" and c["state"] == "waiting: CrashLoopBackOff"
        assert c["digest"] == DIGEST and p["node"].startswith("kwok-node-") and p["age"] >= 0
    warned = next(p for p in new["pods"] if p["name"] == crashing[0])
    assert [(w["reason"], w["count"]) for w in warned["warnings"]] == [("BackOff", 7)]
    assert web["restarts"] == 3 * len(new["pods"])
    # db rolled to the failed release's revision before web failed: its pod is on the current ControllerRevision.
    assert [(r["kind"], r["revision"], r["current"]) for r in db["revisions"]] == [
        ("ControllerRevision", 2, True),
        ("ControllerRevision", 1, False),
    ]
    assert [p["name"] for p in db["revisions"][0]["pods"]] == ["db-0"] and not db["revisions"][1]["pods"]
    # The failed rollout changed the pod template: the last good release's Deployment drifted from it (by
    # shiplane's own later apply, not another manager), and status says so.
    assert web["drifted"] and " drifted" in tree["drift_summary"]

    text = cli("status", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert text.returncode == 1
    assert "ReplicaSet" in text.stdout and "(revision 2, current)" in text.stdout
    assert "last Error (exit 1)" in text.stdout and "BackOff x7" in text.stdout
    assert f"pod {crashing[0]}" in text.stdout and "[drifted]" in text.stdout


def test_status_watch_sees_a_deployment_scale(local_cluster, namespace, tmp_path):
    kube, kc = local_cluster.kube, local_cluster.kubeconfig
    path = write(tmp_path, spec(namespace))
    assert deploy(path, kc).returncode == 0
    watching = Lines(start("status", "-f", str(path), "--stage", "dev", "--watch", kubeconfig=kc))
    try:
        watching.until(lambda line: "+ Deployment/web: 2/2 ready" in line)
        kube.resource("apps/v1", "Deployment").patch(
            body={"spec": {"replicas": 3}},
            name="web",
            namespace=namespace,
            content_type="application/merge-patch+json",
            field_manager="kubectl-scale",
        )
        changed = watching.until(lambda line: "~ Deployment/web: 3/3 ready" in line)
        assert "DRIFTED" in changed  # another manager's replica count
        watching.until(lambda line: line.split(" ", 2)[1] == "+" and "/web-" in line and "Running" in line)
        assert time.strptime(changed.split()[0], "%H:%M:%S")  # timestamped
    finally:
        code = watching.stop()
    assert code == 0, watching.proc.stderr.read()

    as_json = Lines(start("status", "-f", str(path), "--stage", "dev", "--watch", "-o", "json", kubeconfig=kc))
    try:
        first = json.loads(as_json.until(lambda line: line.startswith("{")))
        assert next(w for w in first["tree"]["workloads"] if w["name"] == "web")["ready"] == 3
        kube.resource("apps/v1", "Deployment").patch(
            body={"spec": {"replicas": 1}},
            name="web",
            namespace=namespace,
            content_type="application/merge-patch+json",
            field_manager="kubectl-scale",
        )

        def scaled_down(line: str) -> bool:
            web = next(w for w in json.loads(line)["tree"]["workloads"] if w["name"] == "web")
            return web["desired"] == 1 and web["ready"] == 1

        scaled_down(as_json.until(scaled_down))
    finally:
        assert as_json.stop() == 0


def test_drift_flagged_and_deploy_takes_it_back(local_cluster, namespace, tmp_path):
    kube, kc = local_cluster.kube, local_cluster.kubeconfig
    path = write(tmp_path, spec(namespace))
    assert deploy(path, kc).returncode == 0
    clean = cli("status", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert clean.returncode == 0 and "drift: no drift" in clean.stdout and "[drifted]" not in clean.stdout

    # A kubectl-style edit by another field manager.
    kube.resource("apps/v1", "Deployment").patch(
        body={"spec": {"replicas": 4}},
        name="web",
        namespace=namespace,
        content_type="application/merge-patch+json",
        field_manager="kubectl-edit",
    )
    out = cli("status", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert "[drifted]" in out.stdout and "drifted: spec.replicas (by kubectl-edit (Update))" in out.stdout
    assert "drift: 1 of" in out.stdout
    data = json.loads(cli("status", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc).stdout)
    web = next(w for w in data["tree"]["workloads"] if w["name"] == "web")
    assert web["drifted"] and [d["name"] for d in data["tree"]["drifted"]] == ["web"]

    refused = deploy(path, kc, "--no-rollback")
    assert refused.returncode == 1
    assert (
        "would take back (conflicts without --force-conflicts) from kubectl-edit (Update): spec.replicas (4 -> 2)"
        in (refused.stdout + refused.stderr)
    )
    forced = deploy(path, kc, "--force-conflicts")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    taken = f"Deployment {namespace}/web: takes back from kubectl-edit (Update): spec.replicas (4 -> 2)"
    assert taken in forced.stdout + forced.stderr  # progress notes go to stderr
    assert kube.get(Ref("apps/v1", "Deployment", "web", namespace))["spec"]["replicas"] == 2
    after = cli("status", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert "drift: no drift" in after.stdout


def test_events_of_the_app_only_grouped_by_workload(local_cluster, namespace, tmp_path):
    kube, kc = local_cluster.kube, local_cluster.kubeconfig
    path = write(tmp_path, spec(namespace))
    assert deploy(path, kc).returncode == 0
    # A pod that is not the app's, in the same namespace: its events are not shown.
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "stranger", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
    )
    for _ in kube.wait_for(
        Ref("v1", "Pod", "stranger", namespace), lambda o: bool(o and o.get("spec", {}).get("nodeName")), timeout=30
    ):
        pass
    out = cli("events", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert {(e["workload"], e["kind"]) for e in found} >= {("web", "Deployment"), ("web", "Pod"), ("db", "Pod")}
    assert all(e["name"] != "stranger" for e in found)
    scheduled = [e for e in found if e["workload"] == "web" and e["reason"] == "Scheduled"]
    assert len(scheduled) == 2  # both web pods
    text = cli("events", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert text.stdout.splitlines()[0] in ("web", "db") and "stranger" not in text.stdout

    following = Lines(start("events", "-f", str(path), "--stage", "dev", "--follow", kubeconfig=kc))
    try:
        following.until(lambda line: "Scheduled" in line)  # the listing first
        kube.resource("apps/v1", "Deployment").patch(
            body={"spec": {"replicas": 3}},
            name="web",
            namespace=namespace,
            content_type="application/merge-patch+json",
            field_manager="kubectl-scale",
        )
        line = following.until(lambda line: "Scaled up replica set" in line and "to 3" in line)
        assert line.startswith("[web]")
    finally:
        assert following.stop() == 0


def cri(lines: list[tuple[datetime, str]]) -> str:
    """Log lines in the CRI format a kubelet (and kwok) reads."""
    return "".join(f"{t.strftime('%Y-%m-%dT%H:%M:%S.%f')}000Z stdout F {text}\n" for t, text in lines)


def test_logs_merged_with_pod_prefixes_and_followed(local_cluster, namespace, tmp_path):
    kube, kc = local_cluster.kube, local_cluster.kubeconfig
    path = write(tmp_path, spec(namespace))
    assert deploy(path, kc).returncode == 0
    first, second = sorted(p["metadata"]["name"] for p in pods(kube, namespace, "web"))
    now = datetime.now(UTC)
    files = {first: tmp_path / "first.log", second: tmp_path / "second.log"}
    files[first].write_text(cri([(now - timedelta(hours=3), "ancient"), (now - timedelta(seconds=30), "one")]))
    files[second].write_text(cri([(now - timedelta(seconds=20), "two"), (now - timedelta(seconds=10), "three")]))
    for pod, f in files.items():
        kube.apply(log_object(namespace, pod, {"web": str(f)}))
    time.sleep(1)  # kwok's informer on Logs objects

    out = cli("logs", "-f", str(path), "--stage", "dev", "web", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"{first} | ancient",
        f"{first} | one",
        f"{second} | two",
        f"{second} | three",
    ]
    recent = cli("logs", "-f", str(path), "--stage", "dev", "web", "--since", "1h", "-o", "json", kubeconfig=kc)
    assert [json.loads(line)["text"] for line in recent.stdout.splitlines()] == ["one", "two", "three"]
    assert json.loads(recent.stdout.splitlines()[0])["pod"] == first
    unknown = cli("logs", "-f", str(path), "--stage", "dev", "nope", kubeconfig=kc)
    assert unknown.returncode == 2 and "no service 'nope'" in unknown.stderr and "web" in unknown.stderr

    # Pods a rollout adds later log through a namespace-wide ClusterLogs.
    later = tmp_path / "later.log"
    later.write_text(cri([(now, "from a new pod")]))
    rule = f"later-{namespace}"
    kube.apply(
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": rule},
            "spec": {"selector": {"matchNamespaces": [namespace]}, "logs": [{"logsFile": str(later), "follow": True}]},
        }
    )
    following = Lines(start("logs", "-f", str(path), "--stage", "dev", "web", "--follow", kubeconfig=kc))
    try:
        following.until(lambda line: line == f"{second} | three")
        with files[first].open("a") as f:
            f.write(cri([(datetime.now(UTC), "appended")]))
        following.until(lambda line: line == f"{first} | appended")
        kube.resource("apps/v1", "Deployment").patch(
            body={"spec": {"replicas": 3}},
            name="web",
            namespace=namespace,
            content_type="application/merge-patch+json",
            field_manager="kubectl-scale",
        )
        line = following.until(lambda line: line.endswith("| from a new pod"))
        assert line.split(" | ")[0] not in (first, second)

        # The node's kubelet (kwok) restarts: the cut streams are opened again from their last line.
        result(lc.restart(local_cluster.name, "kwok"))
        with files[second].open("a") as f:
            f.write(cri([(datetime.now(UTC), "after the kubelet came back")]))
        following.until(lambda line: line == f"{second} | after the kubelet came back", timeout=90)
        assert following.seen.count(f"{second} | three") == 1  # nothing shown twice
        assert following.seen.count(f"{first} | appended") == 1
    finally:
        code = following.stop()
        kube.delete(Ref("kwok.x-k8s.io/v1alpha1", "ClusterLogs", rule))
    assert code == 0
