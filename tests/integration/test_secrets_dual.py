"""Dual-credential database rotation against a real PostgreSQL server (outside the cluster): at every
phase, and after a kill -9 between phases and a resume, every running pod's credential logs in."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from shiplane.actions import desired
from shiplane.actions.target import Target
from shiplane.errors import RolloutFailed
from shiplane.events import result
from shiplane.kube import Ref
from shiplane.localcluster.stages import FAULT
from shiplane.secrets import dual
from shiplane.secrets.vault import Vault
from tests.integration import pgserver
from tests.integration.deploying import cli, write
from tests.integration.dualdriver import SECRET, rotation

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def postgres():
    server = pgserver.start()
    if server is None:
        pytest.skip("PostgreSQL is not installed (./dev test installs Debian's postgresql)")
    yield server
    server.stop()


def app(namespace: str) -> dict:
    job = {"image": "postgres:16", "command": ["sh", "-c", "psql -c \"ALTER ROLE $NEW_USER LOGIN PASSWORD '…'\""]}
    return {
        "app": {"name": "ledger"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "secrets": {
            SECRET: {
                "generate": {"kind": "password", "length": 24, "alphabet": "abcdefghijkmnpqrstuvwxyz23456789"},
                "rotation": {
                    "every": "30d",
                    "dual": {
                        "users": ["ledger_blue", "ledger_green"],
                        "prepare": job,
                        "retire": {**job, "command": ["sh", "-c", 'psql -c "ALTER ROLE $OLD_USER NOLOGIN"']},
                        "grace": "2s",
                    },
                },
            }
        },
        "services": {
            "api": {
                "image": "nginx:1.27",
                "replicas": 2,
                "ports": {"http": 8080},
                "env": {"DB_CREDENTIAL": {"secret": SECRET}},
            }
        },
        "stages": {"dev": {"namespace": namespace, "policy": {"failOn": "never"}}},
    }


def pod_credentials(kube, ns: str) -> dict[str, bytes]:
    """pod → the credential its DB_CREDENTIAL comes from (read from the Secret the pod names)."""
    out = {}
    for pod in kube.list("v1", "Pod", namespace=ns, label_selector="app.kubernetes.io/name=api"):
        if pod["metadata"].get("deletionTimestamp") or pod["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        env = pod["spec"]["containers"][0]["env"]
        name = next(e["valueFrom"]["secretKeyRef"]["name"] for e in env if e["name"] == "DB_CREDENTIAL")
        secret = kube.get(Ref("v1", "Secret", name, ns))
        out[pod["metadata"]["name"]] = base64.b64decode(secret["data"]["value"])
    return out


def assert_pods_log_in(kube, ns: str, server, *, user: str) -> None:
    held = pod_credentials(kube, ns)
    assert held, "no running pod"
    for pod, credential in held.items():
        assert server.logs_in(credential), f"{pod}: its credential does not log in"
    assert {dual.user_of(c) for c in held.values()} == {user}


def phase(vault: Vault) -> str | None:
    found = vault.phases().get(SECRET)
    return found["phase"] if found else None


def killed_at(kc, ns: str, path: Path, server, at: str) -> None:
    args = {
        "kubeconfig": str(kc),
        "namespace": ns,
        "spec": str(path),
        "port": server.port,
        "bindir": str(server.bindir),
        "root": str(server.root),
        "kill_at": at,
    }
    out = subprocess.run(
        [sys.executable, "-m", "tests.integration.dualdriver", json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == -9, (out.returncode, out.stderr[-3000:])


def test_dual_rotation_survives_kill_9_between_phases_and_pods_always_log_in(
    local_cluster, namespace, tmp_path, postgres
):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    path = write(tmp_path, app(namespace))
    vault = Vault(kube, app="ledger", stage="dev", namespace=namespace)
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    first = vault.value(SECRET, 1)
    assert dual.user_of(first) == "ledger_blue"
    postgres.set_login("ledger_blue", dual.password_of(first))  # the database's initial provisioning
    assert_pods_log_in(kube, namespace, postgres, user="ledger_blue")

    # kill -9 after prepare: the new role logs in, the pods still hold (and use) the old one.
    killed_at(kc, namespace, path, postgres, "rollout")
    assert phase(vault) == "rollout"
    assert postgres.logs_in(vault.value(SECRET, 2)) and dual.user_of(vault.value(SECRET, 2)) == "ledger_green"
    assert_pods_log_in(kube, namespace, postgres, user="ledger_blue")

    # Resume; kill -9 after the rollout: the pods hold the new credential, the old one still works.
    killed_at(kc, namespace, path, postgres, "verify")
    assert phase(vault) == "verify"
    assert vault.states()[SECRET].current.number == 2
    assert_pods_log_in(kube, namespace, postgres, user="ledger_green")
    assert postgres.logs_in(first)

    # Resume; kill -9 after verify (no pod holds the old credential; grace passed).
    killed_at(kc, namespace, path, postgres, "retire")
    assert phase(vault) == "retire"
    assert_pods_log_in(kube, namespace, postgres, user="ledger_green")

    # `secrets status` shows the interrupted rotation and exits 1 until it is finished.
    status = cli("secrets", "status", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc)
    assert status.returncode == 1
    row = json.loads(status.stdout)["secrets"][0]
    assert row["resume"] and "before phase retire" in row["note"]

    # Resume to the end (waits for the killed run's lock to expire): the old role is retired.
    done = result(rotation(kube, namespace, path, postgres).run())
    assert done.versions == {SECRET: 2}
    assert phase(vault) is None
    assert not postgres.logs_in(first)
    assert_pods_log_in(kube, namespace, postgres, user="ledger_green")
    records = Target(kube, "ledger", "dev", namespace).store().list()
    assert (records[-1].reason, records[-1].secret_versions) == ("manual", {SECRET: 2})
    texts = [out.stdout, out.stderr, status.stdout, status.stderr, *(json.dumps(r.objects) for r in records)]
    for value in (first, vault.value(SECRET, 2)):
        assert not any(value.decode() in t or dual.password_of(value).decode() in t for t in texts)


def test_a_failed_dual_rollout_rolls_back_for_free(local_cluster, namespace, tmp_path, postgres):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    path = write(tmp_path, app(namespace))
    vault = Vault(kube, app="ledger", stage="dev", namespace=namespace)
    assert cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    first = vault.value(SECRET, 1)
    postgres.set_login("ledger_blue", dual.password_of(first))
    action = rotation(kube, namespace, path, postgres)

    def broken(values):  # the app cannot start with the new credential
        want = desired.load([path], "dev", namespace=namespace, generated=lambda *_: values)
        for obj in want.objects:
            if obj["kind"] == "Deployment":
                obj["spec"]["template"]["metadata"].setdefault("annotations", {})[FAULT] = "never-ready"
        return want

    action.render = broken
    action.options = action.options.__class__(timeout=15, lock_duration=5)
    with pytest.raises(RolloutFailed, match="rolled back automatically"):
        result(action.run())
    assert phase(vault) is None
    state = vault.states()[SECRET]
    assert (state.current.number, state.pending) == (1, None)
    assert_pods_log_in(kube, namespace, postgres, user="ledger_blue")  # never retired: nothing to undo
