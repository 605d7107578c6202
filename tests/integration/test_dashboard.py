"""The dashboard's pages over a real deploy on the local control plane (Starlette's TestClient):
what a user reads on each page, `/metrics` equal to `shiplane metrics`, the actions' token, and no
secret value anywhere."""

from __future__ import annotations

import re
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from shiplane.actions.target import Target
from shiplane.dashboard.app import Settings, create
from shiplane.dashboard.sources import Stage
from shiplane.kube import Ref
from shiplane.releases.lock import LeaseLock
from tests.integration.deploying import SECRET_VALUE, cli, spec, write
from tests.integration.test_dry_run import bare

pytestmark = pytest.mark.integration


def two_stages(namespace: str, *, tag: str) -> dict:
    """The shop app with a second stage, qa, that runs one web replica."""
    data = spec(namespace, tag=tag)
    data["stages"]["qa"] = {"namespace": f"{namespace}-qa", "overrides": {"services": {"web": {"replicas": 1}}}}
    return data


def deploy(tmp_path, namespace, kubeconfig, *, tag: str, stage: str = "dev") -> None:
    path = write(tmp_path, two_stages(namespace, tag=tag))
    out = cli("deploy", "-f", str(path), "--stage", stage, "--plain", kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stdout + out.stderr


def client(kube, namespace: str, **settings) -> TestClient:
    stages = [Stage(Target(kube, "shop", "dev", namespace)), Stage(Target(kube, "shop", "qa", f"{namespace}-qa"))]
    return TestClient(create(Settings("shop", stages, **settings)), base_url="http://127.0.0.1")


def text(html: str) -> str:
    """A page's text as a user reads it (tags dropped, spaces collapsed)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&gt;", ">")


@pytest.fixture
def deployed(local_cluster, namespace, tmp_path):
    kc = local_cluster.kubeconfig
    deploy(tmp_path, namespace, kc, tag="1.27")
    deploy(tmp_path, namespace, kc, tag="1.28")
    deploy(tmp_path, namespace, kc, tag="1.27", stage="qa")
    yield tmp_path / "shiplane.yaml"
    local_cluster.kube.delete(Ref("v1", "Namespace", f"{namespace}-qa"), propagation="Background")


def test_every_page_shows_the_deploys_and_no_secret(local_cluster, namespace, deployed):
    kube = local_cluster.kube
    pages = {}
    with client(kube, namespace) as web:
        for path in (
            "/",
            "/stages/dev",
            "/stages/dev/releases/2",
            "/stages/dev/releases/2?against=1",
            "/compare?left=qa&right=dev",
            "/stages/dev/status",
            "/dora",
            "/metrics",
            "/static/htmx.min.js",
        ):
            got = web.get(path)
            assert got.status_code == 200, (path, got.text[:500])
            pages[path] = got.text
        data = {path: web.get(f"{path}{'&' if '?' in path else '?'}format=json").json() for path in list(pages)[:7]}
        missing = web.get("/stages/prod")
        assert missing.status_code == 404 and "no stage 'prod' here (stages: dev, qa)" in missing.text
        assert web.get("/stages/dev/releases/9").status_code == 404
        assert web.get("/", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding

    overview = text(pages["/"])
    assert re.search(r"dev\b.*healthy revision 2 age \d+[smh]", overview), overview
    assert re.search(r"qa\b.*healthy revision 1 age", overview), overview

    timeline = text(pages["/stages/dev"])
    assert re.search(r"\b2 running deployed .* nginx:1\.28", timeline), timeline
    assert re.search(r"\b1 superseded .* nginx:1\.27", timeline), timeline

    release = text(pages["/stages/dev/releases/2"])
    assert "diff: revision 1 → revision 2" in release
    assert "Deployment/web/web nginx:1.27 nginx:1.28" in release  # the images table
    assert "~ spec.template.spec.containers[0].image: nginx:1.27 -> nginx:1.28" in release
    assert pages["/stages/dev/releases/2?against=1"] == pages["/stages/dev/releases/2"]

    stages = text(pages["/compare?left=qa&right=dev"])
    assert "qa revision 1 → dev revision 2" in stages
    assert "~ spec.replicas: 1 -> 2" in stages and "nginx:1.27 -> nginx:1.28" in stages

    status = text(pages["/stages/dev/status"])
    assert "revision 2 : healthy (2 of 2 workloads current) · no drift" in status, status
    assert re.search(r"Deployment web Current 2/2 ready · restarts 0", status), status
    assert re.search(r"StatefulSet db Current 1/1 ready", status)
    # The revision level (observing.tree): the current ReplicaSet holds both pods; the first release's
    # ReplicaSet, scaled to zero, gets no row.
    rows = re.findall(r"ReplicaSet (web-[a-z0-9]+) \(revision (\d), current\) 2/2 ready", status)
    assert len(rows) == 1 and rows[0][1] == "2" and "(revision 1" not in status.split("StatefulSet")[0], status
    pods = re.findall(rf"({rows[0][0]}-[a-z0-9]{{5}}) Running · 1/1 ready · restarts 0", status)
    assert len(pods) == 2, status
    assert status.count("web: nginx:1.28 · running") == 2, status  # each pod's container, its image and state
    assert re.search(r"ControllerRevision db-[a-z0-9]+ \(revision \d, current\) 1/1 ready db-0 Running", status), status

    dora = pages["/dora"]
    assert dora.count("<svg") == 6 and "deployment frequency" in dora
    assert re.search(r"change failure rate\s*</div>\s*<div class=\"value\">0%", dora)

    # The same data as JSON (`?format=json`), for scripts.
    assert [(c["stage"], c["revision"], c["health"]) for c in data["/"]] == [
        ("dev", 2, "healthy"),
        ("qa", 1, "healthy"),
    ]
    assert [(r["revision"], r["outcome"]) for r in data["/stages/dev"]["rows"]] == [(2, "deployed"), (1, "superseded")]
    images = data["/stages/dev/releases/2"]["diff"]["images"]
    assert images == [{"container": "Deployment/web/web", "left": "nginx:1.27", "right": "nginx:1.28"}]
    assert data["/stages/dev/status"]["healthy"] is True
    workloads = {w["name"]: w for w in data["/stages/dev/status"]["workloads"]}
    assert {name: sum(len(r["pods"]) for r in w["revisions"]) for name, w in workloads.items()} == {"web": 2, "db": 1}
    newest = workloads["web"]["revisions"][0]
    assert (newest["kind"], newest["name"], newest["revision"]) == ("ReplicaSet", rows[0][0], 2) and newest["current"]
    assert {c["image"] for p in newest["pods"] for c in p["containers"]} == {"nginx:1.28"}
    assert workloads["web"]["state"] == "Current" and workloads["web"]["drifted"] is False
    assert data["/dora"][0]["stage"] == "dev" and data["/dora"][0]["change_failure_rate"] == 0
    assert SECRET_VALUE not in str(data)

    assert pages["/static/htmx.min.js"].startswith("/*! htmx.org 2.0.11")
    for path, body in pages.items():
        assert SECRET_VALUE not in body, path


def test_metrics_is_the_metrics_command(local_cluster, namespace, deployed):
    with client(local_cluster.kube, namespace) as web:
        served = web.get("/metrics")
    assert served.headers["content-type"].startswith("text/plain; version=0.0.4")
    kc = local_cluster.kubeconfig
    printed = bare("metrics", "-f", str(deployed), "--stage", "dev", "--stage", "qa", kubeconfig=kc)
    assert printed.returncode == 0, printed.stderr

    def samples(exposition: str) -> dict:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(exposition)
            for s in family.samples
        }

    mine = samples(served.text)
    assert mine == samples(printed.stdout)
    assert mine[("shiplane_current_revision", (("app", "shop"), ("stage", "dev")))] == 2
    assert mine[("shiplane_current_revision", (("app", "shop"), ("stage", "qa")))] == 1
    assert mine[("shiplane_releases_total", (("app", "shop"), ("outcome", "superseded"), ("stage", "dev")))] == 1


def test_actions_need_the_flag_and_the_token(local_cluster, namespace, deployed):
    kube = local_cluster.kube
    with client(kube, namespace) as web:
        refused = web.post("/stages/dev/unlock", data={"token": ""})
        assert refused.status_code == 403 and "start the dashboard with --allow-actions" in refused.text
        assert "roll back to" not in web.get("/stages/dev").text  # no buttons in read-only mode

    with client(kube, namespace, allow_actions=True, token="s3cret-token") as web:
        timeline = web.get("/stages/dev").text
        assert "roll back to 1" in timeline and "s3cret-token" not in timeline  # the token is never in a page
        for bad in ({"revision": "1"}, {"revision": "1", "token": "guess"}):
            refused = web.post("/stages/dev/rollback", data=bad)
            assert refused.status_code == 403 and "wrong or missing token" in refused.text
        # A held deploy lock: shown, a rollback refused while it is held, removed only with the token.
        alice = "alice@laptop pid:1 run:x"
        assert LeaseLock(kube, namespace=namespace, app="shop", holder=alice, duration=600).try_acquire() is None
        timeline = text(web.get("/stages/dev").text)
        assert f"deploy lock held by {alice}" in timeline and "unlock" in timeline
        busy = web.post("/stages/dev/rollback", data={"revision": "1", "token": "s3cret-token"})
        assert busy.status_code == 409 and alice in busy.text
        assert web.post("/stages/dev/unlock", data={"token": "guess"}).status_code == 403
        assert "deploy lock held by" in web.get("/stages/dev").text
        freed = web.post("/stages/dev/unlock", headers={"x-shiplane-token": "s3cret-token"})
        assert freed.status_code == 200 and f"removed the lock held by {alice}" in text(freed.text)
        assert "deploy lock held by" not in web.get("/stages/dev").text

        done = web.post("/stages/dev/rollback", data={"revision": "1", "token": "s3cret-token"})
        assert done.status_code == 200, done.text
        assert "rolled back shop/dev to revision 1: revision 3, deployed" in text(done.text)
        timeline = text(web.get("/stages/dev").text)
        assert re.search(r"\b3 running deployed rollback to 1", timeline), timeline
        assert re.search(r"\b2 superseded", timeline), timeline  # a record rewritten since: read again
    deployment = kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_the_status_page_shows_a_crashing_revision_and_the_drift(local_cluster, namespace, deployed):
    """A pod template changed outside a deploy to one that crashes (kwok's fault stage: CrashLoopBackOff,
    last terminated Error exit 1): the new ReplicaSet's row, its pod's container's last termination,
    and the Deployment flagged as drifted, on the page and in its JSON."""
    from shiplane.localcluster.stages import FAULT

    kube = local_cluster.kube
    template = {"spec": {"template": {"metadata": {"annotations": {FAULT: "fail"}}}}}
    kube.resource("apps/v1", "Deployment").patch(
        name="web", namespace=namespace, body=template, content_type="application/merge-patch+json"
    )
    with client(kube, namespace) as web:
        deadline = time.monotonic() + 60
        while True:
            data = web.get("/stages/dev/status?format=json").json()
            found = {w["name"]: w for w in data["workloads"]}["web"]
            crashing = [p for r in found["revisions"] for p in r["pods"] if p["containers"][0]["last_termination"]]
            if crashing or time.monotonic() > deadline:
                break
            time.sleep(1)
        page = text(web.get("/stages/dev/status").text)
    assert crashing, found
    assert data["healthy"] is False and found["state"] != "Current" and found["drifted"] is True, found
    newest = found["revisions"][0]
    assert (newest["kind"], newest["revision"], newest["current"]) == ("ReplicaSet", 3, True), newest
    (container,) = crashing[0]["containers"]
    assert (container["last_termination"], container["state"]) == ("Error (exit 1)", "waiting: CrashLoopBackOff")
    assert "revision 2 : degraded (1 of 2 workloads current) · 1 of" in page, page
    assert re.search(r"Deployment web \w+ \d/2 ready · restarts \d+ drifted", page), page
    assert "drifted: spec.template.metadata.annotations" in page, page
    assert re.search(rf"ReplicaSet {newest['name']} \(revision 3, current\) 0/\d ready", page), page
    assert "web: nginx:1.28 · waiting: CrashLoopBackOff · last Error (exit 1)" in page, page
