"""Generated secrets on the local control plane: generate → deploy → rotate (scheduled, manual,
failing pre-flight) → rollback; a failing rollout after a rotation; certificate renewal; the lock.

Every output of these runs (CLI stdout/stderr with events, -o json, release records as stored) is
kept and searched for every value the vault ever held."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict

import pytest
from cryptography import x509

from shiplane import spec as spec_
from shiplane.actions import desired
from shiplane.actions.rotate import Rotate
from shiplane.actions.runner import Options
from shiplane.actions.target import Target
from shiplane.errors import RolloutFailed
from shiplane.events import Event
from shiplane.kube import Ref
from shiplane.localcluster.stages import FAULT
from shiplane.releases.lock import LeaseLock
from shiplane.secrets.vault import Vault
from tests.integration.deploying import cli, keyed, write

pytestmark = pytest.mark.integration

PREFLIGHT = {
    "image": "busybox:1.36",
    "command": ["sh", "-c", 'test -n "$SECRET_VALUE"'],
    "connectsTo": ["web", {"cidr": "10.0.0.0/8", "ports": [5432]}],  # its NetworkPolicies must be admitted
}


def app(namespace: str, *, every: str = "1h", preflight: dict | None = None, tls: dict | None = None) -> dict:
    rotation: dict = {"every": every}
    if preflight:
        rotation["preflight"] = preflight
    secrets: dict = {"api-token": {"generate": {"kind": "password", "length": 32}, "rotation": rotation}}
    web: dict = {
        "image": "nginx:1.27",
        "replicas": 2,
        "ports": {"http": 8080},
        "env": {"TOKEN": {"secret": "api-token"}},
    }
    if tls:
        secrets["web-tls"] = {"generate": {"kind": "tls", **tls}}
        web["files"] = {"/etc/tls/bundle.pem": {"secret": "web-tls"}}
    return {
        "app": {"name": "vaulted"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "secrets": secrets,
        "services": {"web": web},
        "stages": {"dev": {"namespace": namespace, "policy": {"failOn": "never"}}},
    }


def token_secret(kube, ns: str) -> str:
    """The hash-named Secret the running web pods take TOKEN from."""
    obj = kube.get(Ref("apps/v1", "Deployment", "web", ns))
    env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
    return next(e["valueFrom"]["secretKeyRef"]["name"] for e in env if e["name"] == "TOKEN")


class Seen:
    """Every text a user or a store could see, and every value the vault held."""

    def __init__(self, kube, ns: str) -> None:
        self.vault = Vault(kube, app="vaulted", stage="dev", namespace=ns)
        self.texts: list[str] = []
        self.values: set[bytes] = set()

    def run(self, *args: str, kubeconfig, expect: int | None = 0):
        out = cli(*args, "--stage", "dev", kubeconfig=kubeconfig)
        self.texts += [out.stdout, out.stderr]
        self.remember()
        assert expect is None or out.returncode == expect, (args, out.returncode, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        return out

    def remember(self) -> None:
        self.values |= set(self.vault.read()[1].values())

    def assert_hidden(self, kube, ns: str) -> None:
        stored = [json.dumps(asdict(r), default=str) for r in Target(kube, "vaulted", "dev", ns).store().list()]
        everything = "\n".join([*self.texts, *stored])
        assert self.values
        for value in self.values:
            for form in (value.decode(), base64.b64encode(value).decode()):
                assert form not in everything


def test_generate_deploy_rotate_scheduled_manual_failed_preflight_and_rollback(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    seen = Seen(kube, namespace)
    path = write(tmp_path, app(namespace, preflight=PREFLIGHT))
    fast = write(tmp_path, app(namespace, every="1s", preflight=PREFLIGHT), "fast.yaml")
    f = ("-f", str(path))

    # The first deploy generates the value in the cluster; a second deploy reuses it (nothing rolls).
    seen.run("deploy", *f, "--plain", kubeconfig=kc)
    v1 = token_secret(kube, namespace)
    generation = kube.get(Ref("apps/v1", "Deployment", "web", namespace))["metadata"]["generation"]
    seen.run("deploy", *f, "--plain", kubeconfig=kc)
    assert token_secret(kube, namespace) == v1
    assert kube.get(Ref("apps/v1", "Deployment", "web", namespace))["metadata"]["generation"] == generation
    assert seen.run("plan", *f, kubeconfig=kc).returncode == 0  # stable render: nothing to change

    status = json.loads(seen.run("secrets", "status", *f, "-o", "json", kubeconfig=kc).stdout)
    row = status["secrets"][0]
    assert (row["name"], row["source"], row["version"], row["due"]) == ("api-token", "generate:password", 1, False)

    # --due with nothing due: a no-op, exit 0, no release, nothing written.
    stored = kube.get(seen.vault.ref)["metadata"]["resourceVersion"]
    out = seen.run("secrets", "rotate", *f, "--due", "-o", "json", kubeconfig=kc)
    assert kube.get(seen.vault.ref)["metadata"]["resourceVersion"] == stored
    assert json.loads(out.stdout)["rotated"] == {}
    assert len(json.loads(seen.run("history", *f, "-o", "json", kubeconfig=kc).stdout)) == 2

    # Scheduled: with `every: 1s` the current version is overdue; status says so (exit 1), --due rotates.
    time.sleep(1.5)
    overdue = seen.run("secrets", "status", "-f", str(fast), kubeconfig=kc, expect=1)
    assert "overdue" in overdue.stdout
    dry = json.loads(
        seen.run("secrets", "rotate", "-f", str(fast), "--due", "--dry-run", "-o", "json", kubeconfig=kc).stdout
    )
    assert dry["rotate"] == [{"name": "api-token", "from": 1, "to": 2}]
    assert token_secret(kube, namespace) == v1  # the dry-run wrote nothing
    out = seen.run("secrets", "rotate", "-f", str(fast), "--due", "--plain", "-o", "json", kubeconfig=kc)
    assert json.loads(out.stdout)["rotated"] == {"api-token": 2}
    assert "pre-flight check of the new api-token passed" in out.stderr
    v2 = token_secret(kube, namespace)
    assert v2 != v1
    assert kube.get(Ref("v1", "Secret", v1, namespace)) is not None  # the previous version stays for rollback

    # Manual, with a reason.
    seen.run("secrets", "rotate", *f, "api-token", "--reason", "compromised: printed by a debug log", kubeconfig=kc)
    v3 = token_secret(kube, namespace)
    assert v3 not in (v1, v2)
    records = json.loads(seen.run("history", *f, "-o", "json", kubeconfig=kc).stdout)
    assert [(r["reason"], r["secret_versions"], r["outcome"]) for r in records[-2:]] == [
        ("scheduled", {"api-token": 2}, "superseded"),
        ("compromised: printed by a debug log", {"api-token": 3}, "deployed"),
    ]

    # A failing pre-flight Job: nothing changes, the current version keeps serving.
    failing = write(tmp_path, app(namespace, preflight={**PREFLIGHT, "annotations": {FAULT: "fail"}}), "bad.yaml")
    out = seen.run("secrets", "rotate", "-f", str(failing), "api-token", "--plain", kubeconfig=kc, expect=1)
    assert "pre-flight check of the new api-token failed" in out.stderr
    assert "the current version keeps serving" in out.stderr
    assert token_secret(kube, namespace) == v3
    state = seen.vault.states()["api-token"]
    assert (state.current.number, state.previous.number, state.pending) == (3, 2, None)
    assert len(json.loads(seen.run("history", *f, "-o", "json", kubeconfig=kc).stdout)) == len(records)
    leftovers = kube.list("v1", "Secret", namespace=namespace, label_selector="shiplane.io/rotation-job")
    assert leftovers == []  # the temporary Secret with the new value is gone
    policies = kube.list("networking.k8s.io/v1", "NetworkPolicy", namespace=namespace)
    assert not [p for p in policies if "shiplane.io/rotation-run" in p["metadata"].get("labels", {})]

    # An ordinary deploy keeps the previous version's Secret (no pod uses it) until the next rotation,
    # while older ones are pruned as usual.
    seen.run("deploy", *f, "--plain", kubeconfig=kc)
    assert token_secret(kube, namespace) == v3
    assert kube.get(Ref("v1", "Secret", v2, namespace)) is not None
    assert kube.get(Ref("v1", "Secret", v1, namespace)) is None

    # Rollback across the rotation: the scheduled rotation's release runs again, on v2's Secret.
    scheduled = next(
        r["revision"]
        for r in json.loads(seen.run("history", *f, "-o", "json", kubeconfig=kc).stdout)
        if r["reason"] == "scheduled"
    )
    seen.run("rollback", *f, str(scheduled), "--plain", kubeconfig=kc)
    assert token_secret(kube, namespace) == v2
    assert kube.get(Ref("apps/v1", "Deployment", "web", namespace))["status"].get("readyReplicas") == 2
    seen.assert_hidden(kube, namespace)


def _events(stream, into: list[Event]):
    try:
        while True:
            into.append(next(stream))
    except StopIteration as stop:
        return stop.value


def test_a_failing_rollout_after_rotation_rolls_back_and_keeps_the_old_version(local_cluster, namespace, tmp_path):
    """The rollback leaves the vault, `secrets status` and the next deploy on the running version."""
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    seen = Seen(kube, namespace)
    path = write(tmp_path, app(namespace))
    seen.run("deploy", "-f", str(path), "--plain", kubeconfig=kc)
    before = token_secret(kube, namespace)
    stage = spec_.load([path]).stage("dev")
    target = Target(kube, "vaulted", "dev", namespace)
    key = keyed(kube, namespace, app="vaulted")

    def render(values):  # as the CLI renders (the stage's digest key); the new credential never gets ready
        want = desired.load([path], "dev", generated=lambda *_: values, digest_key=key)
        for obj in want.objects:
            if obj["kind"] == "Deployment":
                obj["spec"]["template"]["metadata"].setdefault("annotations", {})[FAULT] = "never-ready"
        return want

    events: list[Event] = []
    options = Options(timeout=15)
    with pytest.raises(RolloutFailed) as failure:
        _events(Rotate(target, stage, render, names=["api-token"], options=options).run(), events)
    seen.remember()
    assert "rolled back automatically" in failure.value.message
    assert token_secret(kube, namespace) == before
    state = seen.vault.states()["api-token"]
    assert (state.current.number, state.pending) == (1, None)
    rows = json.loads(seen.run("secrets", "status", "-f", str(path), "-o", "json", kubeconfig=kc).stdout)["secrets"]
    assert next(r for r in rows if r["name"] == "api-token")["version"] == 1
    seen.run("deploy", "-f", str(path), "--plain", kubeconfig=kc)
    assert token_secret(kube, namespace) == before
    assert seen.vault.states()["api-token"].current.number == 1
    seen.texts += [repr(e) for e in events] + [str(failure.value)]
    seen.assert_hidden(kube, namespace)


def test_a_certificate_is_renewed_before_it_expires(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    seen = Seen(kube, namespace)
    path = write(tmp_path, app(namespace, tls={"duration": "1h", "renewBefore": "10m"}))
    window = write(tmp_path, app(namespace, tls={"duration": "1h", "renewBefore": "2h"}), "window.yaml")
    seen.run("deploy", "-f", str(path), "--plain", kubeconfig=kc)
    first = seen.vault.states()["web-tls"].current
    assert first.expires == pytest.approx(time.time() + 3600, abs=120)
    seen.run("secrets", "status", "-f", str(path), kubeconfig=kc)  # exit 0: outside its renew window
    rows = json.loads(seen.run("secrets", "status", "-f", str(window), "-o", "json", kubeconfig=kc, expect=1).stdout)
    assert rows["due"] == ["web-tls"]
    assert next(r for r in rows["secrets"] if r["name"] == "web-tls")["renew"] is True
    seen.run("secrets", "rotate", "-f", str(window), "--due", "--plain", kubeconfig=kc)
    renewed = seen.vault.states()["web-tls"]
    assert renewed.current.number == 2 and renewed.current.expires > first.expires
    cert = x509.load_pem_x509_certificates(seen.vault.value("web-tls", 2))[0]
    assert cert.not_valid_after_utc.timestamp() == pytest.approx(renewed.current.expires)
    mounted = kube.get(Ref("apps/v1", "Deployment", "web", namespace))["spec"]["template"]["spec"]["volumes"]
    assert any(v.get("secret", {}).get("secretName", "").startswith("web-tls-") for v in mounted)
    seen.run("secrets", "status", "-f", str(path), kubeconfig=kc)  # renewed: nothing due any more
    seen.assert_hidden(kube, namespace)


def test_rotate_due_fails_fast_when_the_deploy_lock_is_held(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    seen = Seen(kube, namespace)
    seen.run("deploy", "-f", str(write(tmp_path, app(namespace))), "--plain", kubeconfig=kc)
    fast = write(tmp_path, app(namespace, every="1s"), "fast.yaml")
    time.sleep(1.5)
    other = LeaseLock(kube, namespace=namespace, app="vaulted", holder="ci@elsewhere run:other", duration=60)
    assert other.try_acquire() is None
    try:
        out = seen.run("secrets", "rotate", "-f", str(fast), "--due", kubeconfig=kc, expect=4)
        assert "ci@elsewhere" in out.stderr
        assert seen.vault.states()["api-token"].current.number == 1
    finally:
        other.release()
    seen.run("secrets", "rotate", "-f", str(fast), "--due", kubeconfig=kc)
    assert seen.vault.states()["api-token"].current.number == 2


def test_after_a_rollback_across_a_rotation_the_vault_serves_what_the_pods_run(local_cluster, namespace, tmp_path):
    """`shiplane rollback` to a release made before a rotation runs the older value again: the vault's
    current version follows it, so `secrets status` reports it and the next deploy keeps it (it used to
    roll forward to the newer value, undoing the rollback without a word)."""
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    seen = Seen(kube, namespace)
    f = ("-f", str(write(tmp_path, app(namespace))))
    seen.run("deploy", *f, "--plain", kubeconfig=kc)
    v1 = token_secret(kube, namespace)
    seen.run("secrets", "rotate", *f, "api-token", "--reason", "compromised: leaked", "--plain", kubeconfig=kc)
    v2 = token_secret(kube, namespace)
    assert v2 != v1 and seen.vault.states()["api-token"].current.number == 2

    seen.run("rollback", *f, "1", "--plain", kubeconfig=kc)
    assert token_secret(kube, namespace) == v1  # the pods run version 1 again
    state = seen.vault.states()["api-token"]
    assert (state.current.number, state.previous.number, state.pending) == (1, 2, None)
    rows = json.loads(seen.run("secrets", "status", *f, "-o", "json", kubeconfig=kc).stdout)["secrets"]
    assert next(r for r in rows if r["name"] == "api-token")["version"] == 1
    generation = kube.get(Ref("apps/v1", "Deployment", "web", namespace))["metadata"]["generation"]
    seen.run("deploy", *f, "--plain", kubeconfig=kc)
    assert token_secret(kube, namespace) == v1  # the next deploy keeps what runs
    assert kube.get(Ref("apps/v1", "Deployment", "web", namespace))["metadata"]["generation"] == generation
    assert kube.get(Ref("v1", "Secret", v2, namespace)) is not None  # version 2 kept beside it, as previous

    # Rolling back the rollback (to the rotation's release) makes version 2 current again.
    records = json.loads(seen.run("history", *f, "-o", "json", kubeconfig=kc).stdout)
    rotated = max(r["revision"] for r in records if r["reason"].startswith("compromised"))
    seen.run("rollback", *f, str(rotated), "--plain", kubeconfig=kc)
    assert token_secret(kube, namespace) == v2
    assert seen.vault.states()["api-token"].current.number == 2
    seen.assert_hidden(kube, namespace)


def test_a_refused_deploy_stores_no_generated_secret_and_no_digest_key(local_cluster, namespace, tmp_path):
    """The first deploy would generate api-token and the digest key; the policy gate refuses it
    (exit 5): neither was stored, nor anything else. Allowed, the same deploy stores both."""
    data = app(namespace)
    data["stages"]["dev"]["policy"] = {"failOn": "low"}
    data["services"]["web"]["image"] = "nginx:latest"  # the strict gate refuses an unpinned tag
    path = write(tmp_path, data)
    refused = cli("deploy", "-f", str(path), "-s", "dev", kubeconfig=local_cluster.kubeconfig)
    assert refused.returncode == 5, refused.stdout + refused.stderr
    kube = local_cluster.kube
    assert kube.list("v1", "Secret", namespace=namespace, label_selector="app.kubernetes.io/managed-by=shiplane") == []
    assert Vault(kube, app="vaulted", stage="dev", namespace=namespace).current() == {}

    data["stages"]["dev"]["policy"] = {"failOn": "never"}
    allowed = cli("deploy", "-f", str(write(tmp_path, data)), "-s", "dev", kubeconfig=local_cluster.kubeconfig)
    assert allowed.returncode == 0, allowed.stderr
    assert set(Vault(kube, app="vaulted", stage="dev", namespace=namespace).current()) == {"api-token"}
    assert kube.get(Ref("v1", "Secret", "vaulted-digest-key", namespace)) is not None
