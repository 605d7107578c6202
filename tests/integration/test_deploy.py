"""The deploy engine against the local control plane: happy path, failures, rollback, prune, lock."""

from __future__ import annotations

import signal
import time

import pytest

from shiplane import status
from shiplane.actions import desired
from shiplane.actions.deploy import Deploy, MigrationFailed, Options
from shiplane.kube import Ref
from shiplane.localcluster.stages import FAULT, READY_AFTER
from tests.integration.deploying import (
    SECRET_VALUE,
    cli,
    drain,
    history,
    no_secret_in,
    outcomes,
    record_texts,
    spec,
    start,
    target,
    write,
)

pytestmark = pytest.mark.integration


def web_image(kube, ns: str) -> str:
    obj = kube.get(Ref("apps/v1", "Deployment", "web", ns))
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


def test_deploy_plan_status_history_and_secrets_stay_hidden(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    path = write(tmp_path, spec(namespace))
    first = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert first.returncode == 0, first.stderr
    assert "revision 1: deployed" in first.stdout
    # ordered waves: the stateful db rolled out before web was applied
    err = first.stderr
    assert err.index("state StatefulSet") < err.index("apply Deployment")
    assert status.compute(kube.get(Ref("apps/v1", "Deployment", "web", namespace))).ready

    unchanged = cli("plan", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "update" not in unchanged.stdout.split("plan:")[-1]

    path = write(tmp_path, spec(namespace, tag="1.28"))
    changed = cli("plan", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert changed.returncode == 1
    assert "~ spec.template.spec.containers[0].image: nginx:1.27 -> nginx:1.28" in changed.stdout
    as_json = cli("plan", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc)
    assert '"changed": true' in as_json.stdout

    second = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert second.returncode == 0, second.stderr
    assert web_image(kube, namespace) == "nginx:1.28"
    assert outcomes(path, kc) == [(1, "superseded"), (2, "deployed")]
    st = cli("status", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert st.returncode == 0 and "Deployment   web" in st.stdout

    # A changed secret value shows as changed in the plan, never as text.
    rotated = cli("plan", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc)
    outputs = [
        first.stdout,
        first.stderr,
        second.stdout,
        second.stderr,
        changed.stdout,
        as_json.stdout,
        rotated.stdout,
        st.stdout,
        *record_texts(kube, namespace),
    ]
    no_secret_in(*outputs)


def test_never_ready_rollout_rolls_back_and_old_pods_serve(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    good = write(tmp_path, spec(namespace))
    assert cli("deploy", "-f", str(good), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    bad = write(tmp_path, spec(namespace, tag="1.28", annotations={FAULT: "never-ready"}), "bad.yaml")
    out = cli("deploy", "-f", str(bad), "--stage", "dev", "--plain", "--timeout", "15", kubeconfig=kc)
    assert out.returncode == 1
    assert "revision 2 failed" in out.stderr
    assert "Deployment" in out.stderr and "web" in out.stderr and "not ready" in out.stderr
    assert "rolled back automatically: revision 3 restores revision 1" in out.stderr
    assert "Traceback" not in out.stderr
    assert web_image(kube, namespace) == "nginx:1.27"
    obj = kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    assert status.compute(obj).ready and obj["status"]["readyReplicas"] == 2
    assert outcomes(good, kc) == [(1, "superseded"), (2, "rolled-back"), (3, "deployed")]
    assert history(good, kc)[2]["rollback_of"] == 1


def test_no_rollback_flag_leaves_the_failure_in_place(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    good = write(tmp_path, spec(namespace))
    assert cli("deploy", "-f", str(good), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    bad = write(tmp_path, spec(namespace, tag="1.28", annotations={FAULT: "fail"}), "bad.yaml")
    out = cli("deploy", "-f", str(bad), "--stage", "dev", "--plain", "--timeout", "20", "--no-rollback", kubeconfig=kc)
    assert out.returncode == 1
    assert "CrashLoopBackOff" in out.stderr and "not rolled back (--no-rollback)" in out.stderr
    assert outcomes(good, kc) == [(1, "deployed"), (2, "failed")]
    manual = cli("rollback", "-f", str(good), "--stage", "dev", "--plain", kubeconfig=kc)
    assert manual.returncode == 0, manual.stderr
    assert outcomes(good, kc) == [(1, "superseded"), (2, "rolled-back"), (3, "deployed")]
    assert web_image(local_cluster.kube, namespace) == "nginx:1.27"


def _with_failing_migration(objects: list[dict]) -> list[dict]:
    for obj in objects:
        if obj["kind"] == "Job" and "shiplane.io/compatibility" in obj["metadata"].get("annotations", {}):
            obj["spec"]["template"]["metadata"].setdefault("annotations", {})[FAULT] = "fail"
    return objects


def test_failed_migration_changes_no_workload(local_cluster, namespace, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube = local_cluster.kube
    drain(Deploy(target(kube, namespace), desired.load([write(tmp_path, spec(namespace))], "dev").objects).run())
    before = kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    migration = {"command": ["migrate", "up"], "compatibility": "expand"}
    path = write(tmp_path, spec(namespace, tag="1.28", migration=migration), "v2.yaml")
    objects = _with_failing_migration(desired.load([path], "dev").objects)
    with pytest.raises(MigrationFailed) as failure:
        drain(Deploy(target(kube, namespace), objects, options=Options(timeout=60)).run())
    assert "no workload was changed" in failure.value.message
    after = kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert web_image(kube, namespace) == "nginx:1.27"
    records = target(kube, namespace).store().list()
    assert [(r.revision, str(r.outcome)) for r in records] == [(1, "deployed"), (2, "failed")]
    assert [(m.name, m.outcome) for m in records[1].migrations] == [("web", "failed")]


def test_rollback_refused_across_a_contract_migration(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    good = write(tmp_path, spec(namespace))
    assert cli("deploy", "-f", str(good), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    migration = {"command": ["migrate", "drop-old-columns"], "compatibility": "contract"}
    bad = write(
        tmp_path, spec(namespace, tag="1.28", migration=migration, annotations={FAULT: "never-ready"}), "bad.yaml"
    )
    out = cli("deploy", "-f", str(bad), "--stage", "dev", "--plain", "--timeout", "15", kubeconfig=kc)
    assert out.returncode == 1
    assert "automatic rollback to revision 1 refused: migration 'web' (contract" in out.stderr
    assert "roll forward" in out.stderr
    assert outcomes(good, kc) == [(1, "deployed"), (2, "failed")]
    manual = cli("rollback", "-f", str(good), "--stage", "dev", "--plain", kubeconfig=kc)
    assert manual.returncode == 1 and "rollback to revision 1 refused" in manual.stderr
    assert web_image(local_cluster.kube, namespace) == "nginx:1.28"  # nothing was rolled back


def test_prune_removes_what_the_spec_dropped_and_keeps_volumes(local_cluster, namespace, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube = local_cluster.kube
    cache = {"cache": {"image": "redis:7-alpine", "ports": {"redis": 6379}}}
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "uploads", "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    v1 = desired.load([write(tmp_path, spec(namespace, extra_services=cache))], "dev").objects
    drain(Deploy(target(kube, namespace), [*v1, claim]).run())
    assert kube.get(Ref("apps/v1", "Deployment", "cache", namespace)) is not None
    v2 = desired.load([write(tmp_path, spec(namespace), "v2.yaml")], "dev").objects
    release = drain(Deploy(target(kube, namespace), v2).run())
    pruned = {(r["kind"], r["name"]) for r in release.pruned}
    assert {("Deployment", "cache"), ("Service", "cache")} <= pruned
    assert kube.get(Ref("apps/v1", "Deployment", "cache", namespace)) is None
    assert kube.get(Ref("v1", "PersistentVolumeClaim", "uploads", namespace)) is not None  # data is kept
    release = drain(Deploy(target(kube, namespace), v2, options=Options(prune_volumes=True)).run())
    assert ("PersistentVolumeClaim", "uploads") in {(r["kind"], r["name"]) for r in release.pruned}


def test_two_deploys_at_once_one_waits_and_both_are_recorded(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    slow = write(tmp_path, spec(namespace, annotations={READY_AFTER: "4s"}))
    args = ("deploy", "-f", str(slow), "--stage", "dev", "--plain")
    first = start(*args, kubeconfig=kc)
    time.sleep(1.5)
    second = start(*args, kubeconfig=kc)
    _out1, err1 = first.communicate(timeout=180)
    _out2, err2 = second.communicate(timeout=180)
    assert (first.returncode, second.returncode) == (0, 0), err1 + err2
    waited = [err for err in (err1, err2) if "deploy lock held by" in err]
    assert len(waited) == 1 and "pid:" in waited[0]  # exactly one waited, and was told who holds it
    assert outcomes(slow, kc) == [(1, "superseded"), (2, "deployed")]


def test_kill_9_mid_deploy_then_the_next_deploy_proceeds(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    slow = write(tmp_path, spec(namespace, annotations={READY_AFTER: "30s"}))
    args = ("deploy", "-f", str(slow), "--stage", "dev", "--plain", "--lock-ttl", "5")
    early = start(*args, kubeconfig=kc)
    time.sleep(0.8)  # somewhere in start-up, lock or first apply
    early.send_signal(signal.SIGKILL)
    early.wait()
    victim = start(*args, kubeconfig=kc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill while it waits for the rollout
        if any(r["outcome"] == "pending" for r in history(slow, kc)):
            break
        time.sleep(0.3)
    time.sleep(1)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    deadline = time.monotonic() + 15
    while history(slow, kc)[-1]["outcome"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.5)  # shown as pending until its 5s lock lease runs out
    assert history(slow, kc)[-1]["outcome"] == "interrupted"
    fast = write(tmp_path, spec(namespace), "fast.yaml")
    out = cli("deploy", "-f", str(fast), "--stage", "dev", "--plain", "--lock-ttl", "5", kubeconfig=kc)
    assert out.returncode == 0, out.stderr
    final = outcomes(fast, kc)
    assert final[-1][1] == "deployed"
    assert all(o in ("interrupted", "superseded") for _, o in final[:-1])
    assert [r for r, _ in final] == list(range(1, len(final) + 1))
    assert status.compute(local_cluster.kube.get(Ref("apps/v1", "Deployment", "web", namespace))).ready


def test_policy_gate_refuses_then_a_reasoned_override_is_recorded(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    path = write(tmp_path, spec(namespace, tag="latest"))
    refused = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert refused.returncode == 5
    assert "policy (baseline) refuses this deploy" in refused.stderr and "image-tag-latest" in refused.stderr
    assert kube.list("apps/v1", "Deployment", namespace=namespace) == []  # nothing was applied
    no_reason = cli("deploy", "-f", str(path), "--stage", "dev", "--override", "image-tag-latest=", kubeconfig=kc)
    assert no_reason.returncode == 2 and "a reason is required" in no_reason.stderr
    reason = "upstream publishes only :latest; pinned by digest before prod"
    ok = cli(
        "deploy",
        "-f",
        str(path),
        "--stage",
        "dev",
        "--plain",
        "--override",
        f"image-tag-latest:Deployment/web={reason}",
        kubeconfig=kc,
    )
    assert ok.returncode == 0, ok.stderr
    recorded = history(path, kc)[-1]["overrides"]
    assert recorded == [{"rule": "image-tag-latest", "object": f"Deployment/{namespace}/web", "reason": reason}]


def test_field_conflict_is_named_and_forced_only_on_request(local_cluster, namespace, tmp_path):
    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    path = write(tmp_path, spec(namespace))
    assert cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    # Another tool takes ownership of the replica count.
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 3},
    }
    kube.resource("apps/v1", "Deployment").server_side_apply(
        body=other, name="web", namespace=namespace, field_manager="hpa-tuner", force_conflicts=True
    )
    out = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", "--no-rollback", kubeconfig=kc)
    assert out.returncode == 1
    assert "hpa-tuner" in out.stderr and ".spec.replicas" in out.stderr and "--force-conflicts" in out.stderr
    forced = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", "--force-conflicts", kubeconfig=kc)
    assert forced.returncode == 0, forced.stderr
    assert kube.get(Ref("apps/v1", "Deployment", "web", namespace))["spec"]["replicas"] == 2


def test_immutable_change_is_an_explicit_replace(local_cluster, namespace, monkeypatch):
    kube = local_cluster.kube
    LIMITS = {"limits": {"cpu": "100m", "memory": "64Mi"}}  # else the policy gate in Deploy refuses it

    def job(image: str) -> dict:
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "report",
                "namespace": namespace,
                "labels": {"app.kubernetes.io/name": "report", "app.kubernetes.io/part-of": "shop"},
            },
            "spec": {
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/part-of": "shop"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "r", "image": image, "resources": LIMITS}],
                    },
                }
            },
        }

    drain(Deploy(target(kube, namespace), [job("busybox:1.36")]).run())
    first_uid = kube.get(Ref("batch/v1", "Job", "report", namespace))["metadata"]["uid"]
    seen = []
    drain(Deploy(target(kube, namespace), [job("busybox:1.37")]).run(), seen.append)
    assert any(getattr(e, "action", None) == "replace" for e in seen)
    replaced = kube.get(Ref("batch/v1", "Job", "report", namespace))
    assert replaced["metadata"]["uid"] != first_uid
    assert replaced["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.37"


def test_no_wait_lock_fails_fast_and_unlock_frees_it(local_cluster, namespace, tmp_path):
    from shiplane.releases.lock import LeaseLock

    kc, kube = local_cluster.kubeconfig, local_cluster.kube
    path = write(tmp_path, spec(namespace))
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    holder = LeaseLock(kube, namespace=namespace, app="shop", holder="alice@laptop pid:1 run:x", duration=600)
    assert holder.try_acquire() is None
    busy = cli("deploy", "-f", str(path), "--stage", "dev", "--no-wait-lock", kubeconfig=kc)
    assert busy.returncode == 4 and "deploy lock held by alice@laptop pid:1 run:x" in busy.stderr
    freed = cli("unlock", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert freed.returncode == 0 and "removed the lock held by alice@laptop" in freed.stdout
    assert cli("deploy", "-f", str(path), "--stage", "dev", "--no-wait-lock", kubeconfig=kc).returncode == 0


def test_the_stage_policy_sets_the_gate(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    data = spec(namespace, tag="latest")
    data["stages"]["dev"]["policy"] = {"failOn": "critical"}  # a lenient dev stage
    path = write(tmp_path, data)
    assert cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc).returncode == 0
    strict = cli("deploy", "-f", str(path), "--stage", "dev", "--policy-fail-on", "high", kubeconfig=kc)
    assert strict.returncode == 5 and "image-tag-latest" in strict.stderr


def test_an_unschedulable_rollout_names_the_scheduler_event(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    data = spec(namespace)
    data["services"]["web"]["resources"] = {"requests": {"cpu": "64"}, "limits": {"cpu": "64"}}  # nodes have 32
    path = write(tmp_path, data)
    # preflight would refuse this before any write; skip it to see the rollout's message
    args = ("deploy", "-f", str(path), "--stage", "dev", "--plain", "--timeout", "8", "--skip-preflight")
    out = cli(*args, kubeconfig=kc)
    assert out.returncode == 1
    assert "unschedulable" in out.stderr and "Insufficient cpu" in out.stderr
    assert "event FailedScheduling" in out.stderr  # in the failure message
    assert "note  event Pod web-" in out.stderr  # and live, while it waited
    assert "nothing to roll back to" in out.stderr  # the first release has no predecessor
