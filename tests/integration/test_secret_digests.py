"""Secret digests are keyed (local control plane): history, the stored records, plan and diff never
hold a plain sha256 of a known (weak) secret value, in any form shiplane once stored; a changed
value still shows as changed, an unchanged one does not; read-only commands work without the key."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import asdict

import pytest

from shiplane.actions.target import Target
from shiplane.kube import Ref
from shiplane.rendering.meta import content_hash
from shiplane.secrets.digestkey import key_name
from tests.integration.deploying import write
from tests.integration.test_dry_run import bare

pytestmark = pytest.mark.integration

WEAK, WEAKER = "hunter2", "hunter3"  # the guesses an attacker would try first
DIGEST = "shiplane.io/data-digest"


def app(namespace: str) -> dict:
    return {
        "app": {"name": "keyed"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "secrets": {"api-key": {"fromEnv": "KEYED_API_KEY"}},
        "services": {
            "web": {
                "image": "nginx:1.27",
                "replicas": 1,
                "ports": {"http": 8080},
                "env": {"KEY": {"secret": "api-key"}},
            }
        },
        "stages": {"dev": {"namespace": namespace, "policy": {"failOn": "never"}}},
    }


def run(*args: str, kubeconfig, value: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shiplane", *args, "--stage", "dev"],
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "KEYED_API_KEY": value},
        capture_output=True,
        text=True,
        timeout=300,
    )


def plain_forms(value: str) -> set[str]:
    """Every unkeyed digest of `value` shiplane ever stored or printed, and the bare sha256."""
    b64 = base64.b64encode(value.encode()).decode()
    data = {"value": b64}
    bare_sha = hashlib.sha256(value.encode()).hexdigest()
    record = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()  # the old record digest
    masked = hashlib.sha256(b64.encode()).hexdigest()  # the old plan/diff mask
    name = content_hash({"kind": "Secret", "data": data})  # the old Secret name suffix
    return {bare_sha[:16], bare_sha[:10], record[:16], masked[:8], name, value, b64}


def records(kube, ns: str) -> list:
    return Target(kube, "keyed", "dev", ns).store().list()


def secret_digest(release) -> tuple[str, str]:
    obj = next(o for o in release.objects if o["kind"] == "Secret")
    return obj["metadata"]["name"], obj["metadata"]["annotations"][DIGEST]


def test_digests_are_keyed_changes_still_show_and_read_only_commands_need_no_key(local_cluster, namespace, tmp_path):
    kc, kube, ns = local_cluster.kubeconfig, local_cluster.kube, namespace
    path = str(write(tmp_path, app(namespace)))
    texts: list[str] = []

    def cli(*args: str, value: str = WEAK, expect: int = 0) -> subprocess.CompletedProcess:
        out = run(*args, "-f", path, kubeconfig=kc, value=value)
        texts.extend([out.stdout, out.stderr])
        assert out.returncode == expect, (args, out.returncode, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        return out

    cli("deploy", "--plain")
    key_ref = Ref("v1", "Secret", key_name("keyed"), namespace)
    assert kube.get(key_ref) is not None  # the first deploy made the stage's key
    cli("deploy", "--plain")  # the same value again
    cli("plan", "-o", "json")  # exit 0: nothing would change
    one, two = records(kube, namespace)
    assert secret_digest(one) == secret_digest(two)  # unchanged: the same name and digest
    assert secret_digest(one)[1].startswith("hmac-sha256:")
    live = [s["metadata"]["name"] for s in kube.list("v1", "Secret", namespace=namespace)]

    # A changed value shows in plan (exit 1, the Secret's new name) and in history's records.
    changed = json.loads(cli("plan", "-o", "json", value=WEAKER, expect=1).stdout)
    created = [c["name"] for c in changed["changes"] if c["kind"] == "Secret" and c["action"] == "create"]
    assert created and created[0].startswith("api-key-") and created[0] != secret_digest(two)[0]
    cli("deploy", "--plain", value=WEAKER)
    three = records(kube, namespace)[-1]
    assert secret_digest(three)[0] != secret_digest(two)[0] and secret_digest(three)[1] != secret_digest(two)[1]
    cli("history", "-o", "json")
    assert bare("diff", "-f", path, "--stage", "dev", kubeconfig=kc).returncode == 0  # no drift

    # Nothing anyone can read holds a plain digest of either value.
    stored = [json.dumps(asdict(r), default=str) for r in records(kube, namespace)]
    live += [s["metadata"]["name"] for s in kube.list("v1", "Secret", namespace=namespace)]
    annotations = [json.dumps(s["metadata"].get("annotations") or {}) for s in kube.list("v1", "Secret", namespace=ns)]
    everything = "\n".join([*texts, *stored, *live, *annotations])
    for value in (WEAK, WEAKER):
        for form in plain_forms(value):
            assert form not in everything, (value, form)

    # Read-only commands work without the key: it is gone, and they do not notice.
    kube.delete(key_ref)
    for args in (("history", "-o", "json"), ("status", "-o", "json")):
        out = bare(*args, "-f", path, "--stage", "dev", kubeconfig=kc)
        assert out.returncode == 0, out.stdout + out.stderr
    drift = bare("diff", "-f", path, "--stage", "dev", "-o", "json", kubeconfig=kc)
    assert drift.returncode == 0 and json.loads(drift.stdout)["drifted"] == [], drift.stdout + drift.stderr
    # The next deploy makes a new key: the Secret is renamed (and its pods rolled) once, then stable.
    cli("deploy", "--plain", value=WEAKER)
    assert kube.get(key_ref) is not None
    four = records(kube, namespace)[-1]
    assert secret_digest(four)[0] != secret_digest(three)[0]
    cli("deploy", "--plain", value=WEAKER)
    assert secret_digest(records(kube, namespace)[-1]) == secret_digest(four)
