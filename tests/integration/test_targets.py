"""Fan-out deploy across two real local control planes (the two regions of a targets: spec).

The session cluster is region `eu`; a second cluster, started here, is region `us`. Both
contexts go into one merged kubeconfig (what `KUBECONFIG=a:b kubectl config view --flatten`
gives), so every target names its context and the fan-out connects to each.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import yaml

from shiplane.kube import Kube, Ref
from shiplane.localcluster import cluster as lc
from shiplane.localcluster.stages import FAULT
from shiplane.releases import Outcome
from tests.conftest import _consume
from tests.integration.deploying import cli, spec, write

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def second_cluster(local_cluster):
    name = f"pytest-{os.getpid()}-us"
    try:
        state = _consume(lc.up(name, nodes=1), "second cluster up")
        yield name, state.kubeconfig
    finally:
        _consume(lc.down(name), "second cluster down")


def _merged(tmp_path, *paths) -> tuple:
    out = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    contexts = []
    for p in paths:
        doc = yaml.safe_load(Path(p).read_text())
        for key in ("clusters", "users", "contexts"):
            out[key] += doc[key]
        contexts.append(doc["contexts"][0]["name"])
    out["current-context"] = contexts[0]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(out))
    return path, contexts


def _app(uid: str, eu: str, us: str, faults: dict[str, dict], tenants_=("acme", "globex", "initech")) -> dict:
    data = spec("unused", replicas=1)
    del data["services"]["db"]
    web = data["services"]["web"]
    web.pop("dependsOn"), web.pop("connectsTo")
    data["stages"] = {"prod": {"namespace": f"t{uid}-prod"}}
    tenants = {
        t: {
            "namespace": f"t{uid}-{{tenant}}",
            "overrides": {"services": {"web": {"env": {"TENANT": t}, **faults.get(t, {})}}},
        }
        for t in tenants_
    }
    data["targets"] = {
        "dimensions": {"region": {"eu": {"context": eu}, "us": {"context": us}}, "tenant": tenants},
        "matrix": ["stage", "region", "tenant"],
        "rollout": {"order": ["region", "tenant"], "maxParallel": 2, "canary": {"region": "eu", "tenant": "acme"}},
    }
    return data


def _run(path, kc, *extra):
    out = cli(
        "deploy", "-f", str(path), "-s", "prod", "--all-targets", "--timeout", "20", "-o", "json", *extra, kubeconfig=kc
    )
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, {r["target"]: r for r in json.loads(out.stdout)} if out.stdout.strip() else {}


def test_fan_out_two_clusters_canary_failure_then_resume(local_cluster, second_cluster, tmp_path):
    uid = uuid.uuid4().hex[:6]
    kc, (eu, us) = _merged(tmp_path, local_cluster.kubeconfig, second_cluster[1])
    never = {"annotations": {FAULT: "never-ready"}}
    kubes = {"eu": Kube.connect(str(kc), eu), "us": Kube.connect(str(kc), us)}
    try:
        # 1. the canary (eu/acme) never becomes ready: nothing else starts
        bad_canary = write(tmp_path, _app(uid, eu, us, {"acme": never}), "canary.yaml")
        code, rows = _run(bad_canary, kc)
        assert code == 1
        assert rows["prod/region=eu,tenant=acme"]["state"] in ("failed", "rolled back")
        others = [r for name, r in rows.items() if name != "prod/region=eu,tenant=acme"]
        assert len(others) == 5 and all(r["state"] == "not started" for r in others), rows
        assert kubes["us"].get(Ref("apps/v1", "Deployment", "web", f"t{uid}-globex")) is None

        # 2. canary fine, one us tenant broken: eu and the canary deploy, us stops at globex
        bad_us = _app(uid, eu, us, {})
        bad_us["targets"]["include"] = [
            {"stage": "prod", "region": "us", "tenant": "globex", "overrides": {"services": {"web": never}}}
        ]
        path = write(tmp_path, bad_us, "us.yaml")
        code, rows = _run(path, kc)
        assert code == 1
        assert rows["prod/region=us,tenant=globex"]["state"] in ("failed", "rolled back")
        for t in ("acme", "globex", "initech"):
            assert rows[f"prod/region=eu,tenant={t}"]["state"] == "deployed", rows
        # both clusters really run what their targets say (region us in the second one)
        eu_web = kubes["eu"].get(Ref("apps/v1", "Deployment", "web", f"t{uid}-initech"))
        assert eu_web is not None
        # each target its own history: the same namespace name in two clusters, separate records
        lease = kubes["eu"].get(
            Ref("coordination.k8s.io/v1", "Lease", "shiplane-lock.shop.eu-initech", f"t{uid}-initech")
        )
        assert lease is None  # released after the deploy

        # status --all-targets: one row per target from its own cluster; us/globex failed and the
        # us targets after it never started, so they are not healthy (exit 1)
        st = cli("status", "-f", str(path), "-s", "prod", "--all-targets", "-o", "json", kubeconfig=kc)
        assert st.returncode == 1, st.stdout + st.stderr
        health = {r["target"]: r for r in json.loads(st.stdout)}
        assert len(health) == 6
        assert health["prod/region=eu,tenant=initech"]["healthy"] is True
        assert health["prod/region=eu,tenant=initech"]["current"] == 1
        assert health["prod/region=us,tenant=globex"]["healthy"] is False
        assert health["prod/region=us,tenant=globex"]["latest"]["outcome"] in ("failed", "rolled back")

        # 3. fixed: --resume skips what already runs this spec, deploys the rest
        fixed = write(tmp_path, _app(uid, eu, us, {}), "fixed.yaml")
        code, rows = _run(fixed, kc, "--resume")
        assert code == 0, rows
        for t in ("acme", "globex", "initech"):
            assert rows[f"prod/region=eu,tenant={t}"]["state"] == "unchanged", rows
        assert rows["prod/region=us,tenant=globex"]["state"] == "deployed"
        out = cli(
            "history",
            "-f",
            str(fixed),
            "-s",
            "prod",
            "--target",
            "region=us,tenant=globex",
            "-o",
            "json",
            kubeconfig=kc,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)[-1]["outcome"] == str(Outcome.DEPLOYED)
        assert kubes["us"].get(Ref("apps/v1", "Deployment", "web", f"t{uid}-globex")) is not None

        st = cli("status", "-f", str(fixed), "-s", "prod", "--all-targets", kubeconfig=kc)
        assert st.returncode == 0, st.stdout + st.stderr
        assert "6 of 6 target(s) healthy" in st.stdout and "Traceback" not in st.stderr

        # plan --all-targets says what a deploy would change on each target: nothing after the
        # resume; then only the two acme targets once acme's env changes
        same = cli("plan", "-f", str(fixed), "-s", "prod", "--all-targets", "-o", "json", kubeconfig=kc)
        assert same.returncode == 0, same.stdout + same.stderr
        assert len(json.loads(same.stdout)["plans"]) == 6
        assert not any(p["changed"] for p in json.loads(same.stdout)["plans"].values())
        changed = _app(uid, eu, us, {})
        changed["targets"]["dimensions"]["tenant"]["acme"]["overrides"]["services"]["web"]["env"]["TENANT"] = "acme2"
        plan = cli(
            "plan", "-f", str(write(tmp_path, changed, "acme2.yaml")), "-s", "prod", "--all-targets", kubeconfig=kc
        )
        assert plan.returncode == 1, plan.stdout + plan.stderr
        lines = {line.split(" (")[0].strip(): line for line in plan.stdout.splitlines() if line.startswith("  prod/")}
        assert "update" in lines["prod/region=eu,tenant=acme"] and "update" in lines["prod/region=us,tenant=acme"]
        assert lines["prod/region=eu,tenant=globex"].endswith("no changes"), plan.stdout
        assert "2 of 6 target(s) would change" in plan.stdout

        # 4. initech leaves the spec: two targets (eu, us) disappear, more than the guard's 1
        fewer = write(tmp_path, _app(uid, eu, us, {}, ("acme", "globex")), "fewer.yaml")
        plan = cli("plan", "-f", str(fewer), "-s", "prod", "--all-targets", "-o", "json", kubeconfig=kc)
        assert plan.returncode == 1, plan.stderr
        assert sorted(d["id"] for d in json.loads(plan.stdout)["removed"]) == ["eu-initech", "us-initech"]
        refused = cli("deploy", "-f", str(fewer), "-s", "prod", "--all-targets", "--plain", kubeconfig=kc)
        assert refused.returncode == 2, refused.stderr
        assert "eu-initech" in refused.stderr and "--allow-target-removal" in refused.stderr
        assert kubes["eu"].get(Ref("apps/v1", "Deployment", "web", f"t{uid}-initech")) is not None
        code, rows = _run(fewer, kc, "--allow-target-removal")
        assert code == 0, rows
        assert rows["prod/us-initech"]["state"] == "pruned"
        for region in ("eu", "us"):
            assert kubes[region].get(Ref("apps/v1", "Deployment", "web", f"t{uid}-initech")) is None
            assert kubes[region].get(Ref("apps/v1", "Deployment", "web", f"t{uid}-acme")) is not None
        again = cli("plan", "-f", str(fewer), "-s", "prod", "--all-targets", "-o", "json", kubeconfig=kc)
        assert again.returncode == 0 and json.loads(again.stdout)["removed"] == []
    finally:
        for kube in kubes.values():
            for t in ("acme", "globex", "initech"):
                kube.delete(Ref("v1", "Namespace", f"t{uid}-{t}"), propagation="Background")
