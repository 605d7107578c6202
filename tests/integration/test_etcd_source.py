"""etcd as a configuration and secret source, against a real etcd v3 (the local control plane's
k8senv binary, started separately here on loopback): values at render time, revisions in the
release, `plan` listing changed keys, re-rendering a release's values, compaction and missing keys."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from shiplane.kube import Ref
from tests.integration.deploying import cli, write

pytestmark = pytest.mark.integration
API_KEY = "etcd-held-api-key-7f3c9"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    def __init__(self, url: str) -> None:
        self.url = url

    def put(self, key: str, value: str) -> int:
        body = {"key": base64.b64encode(key.encode()).decode(), "value": base64.b64encode(value.encode()).decode()}
        return int(requests.post(f"{self.url}/v3/kv/put", json=body, timeout=5).json()["header"]["revision"])

    def compact(self, revision: int) -> None:
        requests.post(f"{self.url}/v3/kv/compaction", json={"revision": str(revision)}, timeout=5).raise_for_status()


@pytest.fixture
def etcd():
    from shiplane.localcluster import binaries

    found = binaries.locate()
    if found is None or "etcd" not in found.argv:
        pytest.skip("no etcd binary: build the local control plane (shiplane cluster build)")
    data = Path(tempfile.mkdtemp(prefix="shiplane-etcd-"))
    client, peer = _port(), _port()
    proc = subprocess.Popen(
        [
            *found.argv["etcd"],
            f"--data-dir={data / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{client}",
            f"--advertise-client-urls=http://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=default=http://127.0.0.1:{peer}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(data / "log").open("w"),
    )
    url = f"http://127.0.0.1:{client}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield Etcd(url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def app(namespace: str, url: str) -> dict:
    return {
        "app": {"name": "tuned"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "config": {
            "settings": {"fromEtcd": {"endpoints": [url], "prefix": "/tuned/config/"}},
            "motd": {"fromEtcd": {"endpoints": ["http://127.0.0.1:1", url], "key": "/tuned/motd"}},
        },
        "secrets": {"api-key": {"fromEtcd": {"endpoints": [url], "key": "/tuned/api-key"}}},
        "services": {
            "web": {
                "image": "nginx:1.27",
                "ports": {"http": 8080},
                "env": {
                    "FEATURE": {"config": "settings/feature"},
                    "MOTD": {"config": "motd"},
                    "API_KEY": {"secret": "api-key"},
                },
            }
        },
        "stages": {"dev": {"namespace": namespace, "policy": {"failOn": "never"}}},
    }


def env_values(kube, ns: str) -> dict:
    deployment = kube.get(Ref("apps/v1", "Deployment", "web", ns))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    cm = next(e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e)
    return kube.get(Ref("v1", "ConfigMap", cm, ns))["data"]


def test_etcd_values_their_revisions_and_changed_keys(local_cluster, namespace, tmp_path, etcd):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    etcd.put("/tuned/config/feature", "on")
    etcd.put("/tuned/config/level", "3")
    etcd.put("/tuned/motd", "hello")
    first_rev = etcd.put("/tuned/api-key", API_KEY)
    path = write(tmp_path, app(namespace, etcd.url))
    f = ("-f", str(path), "--stage", "dev")
    outputs = []

    def run(*args, expect=0):
        out = cli(*args, *f, kubeconfig=kc)
        outputs.extend([out.stdout, out.stderr])
        assert out.returncode == expect, (args, out.stdout, out.stderr)
        return out

    run("deploy", "--plain")
    assert env_values(kube, namespace) == {"FEATURE": "on", "MOTD": "hello"}
    secret = next(
        s for s in kube.list("v1", "Secret", namespace=namespace) if s["metadata"]["name"].startswith("api-key-")
    )
    assert base64.b64decode(secret["data"]["value"]).decode() == API_KEY
    record = json.loads(run("history", "-o", "json").stdout)[0]["etcd"]
    assert record["config.settings"]["revision"] == first_rev
    assert set(record["config.settings"]["keys"]) == {"/tuned/config/feature", "/tuned/config/level"}
    assert record["secrets.api-key"]["keys"]["/tuned/api-key"]["mod"] == first_rev

    # A changed key: plan names it (and exits 1); read at release 1's revisions nothing changes.
    changed_rev = etcd.put("/tuned/config/feature", "off")
    plan = json.loads(run("plan", "-o", "json", expect=1).stdout)
    assert plan["etcd"] == [
        {
            "source": "config.settings",
            "key": "/tuned/config/feature",
            "change": "changed",
            "fromModRevision": record["config.settings"]["keys"]["/tuned/config/feature"]["mod"],
            "toModRevision": changed_rev,
        }
    ]
    assert "etcd config.settings: /tuned/config/feature changed" in run("plan", expect=1).stdout
    assert json.loads(run("plan", "-o", "json", "--etcd-revision-of", "1").stdout)["etcd"] == []

    run("deploy", "--plain")
    assert env_values(kube, namespace)["FEATURE"] == "off"
    # Re-render release 1's configuration: the values etcd held then.
    run("deploy", "--plain", "--etcd-revision-of", "1")
    assert env_values(kube, namespace)["FEATURE"] == "on"
    revisions = [r["etcd"]["config.settings"]["revision"] for r in json.loads(run("history", "-o", "json").stdout)]
    assert revisions == [first_rev, changed_rev, first_rev]

    # Once compacted, an old revision cannot be read: a clear error, exit 3.
    etcd.compact(changed_rev)
    out = run("plan", "--etcd-revision-of", "1", expect=3)
    assert "compacted" in out.stderr and "Traceback" not in out.stderr
    # A key the spec needs and etcd lacks: exit 2, named.
    bad = write(
        tmp_path,
        {
            **app(namespace, etcd.url),
            "config": {
                **app(namespace, etcd.url)["config"],
                "motd": {"fromEtcd": {"endpoints": [etcd.url], "key": "/tuned/missing"}},
            },
        },
        "bad.yaml",
    )
    out = cli("plan", "-f", str(bad), "--stage", "dev", kubeconfig=kc)
    outputs.extend([out.stdout, out.stderr])
    assert out.returncode == 2 and "'/tuned/missing' is not in etcd" in out.stderr
    assert not any(API_KEY in text for text in outputs)
