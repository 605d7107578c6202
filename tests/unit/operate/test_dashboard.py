"""The dashboard's pure parts: timeline pages, release and stage comparisons (Secret values never in
them), the status tree, the SVG charts; and the command's refusals before it serves anything."""

from __future__ import annotations

import base64
import json
import re
import socket

from shiplane.cli import main
from shiplane.dashboard import charts, views
from shiplane.releases import Outcome, Release
from shiplane.releases.record import strip_secret

NOW = 1_800_000_000.0
PLAIN = "hunter2-plaintext"


def rel(revision: int, outcome=Outcome.SUPERSEDED, *, objects=(), images=None, stage="dev") -> Release:
    return Release(
        "shop",
        stage,
        revision,
        started=NOW - 1000 + revision,
        finished=NOW - 990 + revision,
        outcome=outcome,
        objects=list(objects),
        images=images or {},
    )


def deployment(replicas: int, image: str, namespace: str = "shop-dev") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace, "labels": {"shiplane.io/stage": namespace[5:]}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "web", "image": image}]}},
        },
    }


def secret(name: str, value: str, namespace: str = "shop-dev") -> dict:
    data = {"API_KEY": base64.b64encode(value.encode()).decode()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data}


def test_timeline_pages_newest_first():
    history = [rel(n) for n in range(1, 46)]
    history[-1] = history[-1].with_(outcome=Outcome.DEPLOYED)
    first = views.timeline(history, page=1)
    assert (first.page, first.pages, first.total) == (1, 3, 45)
    assert [r.revision for r in first.rows] == list(range(45, 25, -1))
    assert first.rows[0].running and not any(r.running for r in first.rows[1:])
    assert [r.revision for r in views.timeline(history, page=3).rows] == [5, 4, 3, 2, 1]
    assert views.timeline(history, page=99).page == 3 and views.timeline([], page=2).rows == []


def test_release_diff_names_fields_and_never_a_secret_value():
    old = rel(1, objects=[deployment(2, "nginx:1.27"), strip_secret(secret("api-key-0123456789", PLAIN), b"k" * 32)])
    new = rel(
        2,
        Outcome.DEPLOYED,
        objects=[deployment(3, "nginx:1.28"), strip_secret(secret("api-key-0123456789", "other"), b"k" * 32)],
        images={"Deployment/web/web": "nginx:1.28"},
    )
    found = views.compare(old, new)
    by_name = {(o.kind, o.name): o for o in found.objects}
    assert by_name[("Deployment", "web")].lines == [
        "~ spec.replicas: 2 -> 3",
        "~ spec.template.spec.containers[0].image: nginx:1.27 -> nginx:1.28",
    ]
    (digest,) = by_name[("Secret", "api-key-0123456789")].lines
    assert digest.startswith("~ metadata.annotations.shiplane.io/data-digest: ")
    assert found.images == [("Deployment/web/web", "-", "nginx:1.28")]
    # Even a record holding raw Secret data (an older writer) shows only masked digests.
    raw = views.compare(rel(1, objects=[secret("s", PLAIN)]), rel(2, objects=[secret("s", "other")]))
    dumped = json.dumps(raw.to_json())
    assert "***" in dumped
    for hidden in (PLAIN, base64.b64encode(PLAIN.encode()).decode(), "other", "b3RoZXI="):
        assert hidden not in dumped


def test_stage_diff_leaves_namespaces_out_and_matches_hash_named_config():
    config = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"LEVEL": "debug"}}
    dev = rel(4, objects=[deployment(1, "nginx:1.27", "shop-dev"), {**config, "metadata": {"name": "cfg-0123456789"}}])
    prod_config = {**config, "data": {"LEVEL": "info"}, "metadata": {"name": "cfg-abcdef0123"}}
    prod = rel(9, objects=[deployment(3, "nginx:1.27", "shop-prod"), prod_config], stage="prod")
    found = views.compare(dev, prod, across_stages=True)
    assert (found.left, found.right) == ("dev revision 4", "prod revision 9")
    by_name = {(o.kind, o.name): o.lines for o in found.objects}
    assert by_name[("Deployment", "web")] == ["~ spec.replicas: 1 -> 3"]
    assert by_name[("ConfigMap", "cfg")] == [
        "~ data.LEVEL: debug -> info",
        "~ metadata.name: cfg-0123456789 -> cfg-abcdef0123",
    ]
    assert views.compare(dev, dev, across_stages=True).same


def test_across_stages_secrets_are_matched_by_base_name_and_their_values_never_compared():
    # Each stage keys Secret names and digests with its own key: equal values look different, and
    # that two stages share a value must not show either. Neither side shows as changed.
    def stage_objects(stage: str, suffix: str, digest: str) -> list[dict]:
        stored = strip_secret(secret(f"api-key-{suffix}", "same-value", f"shop-{stage}"))
        stored["metadata"]["annotations"] = {"shiplane.io/data-digest": digest}
        web = deployment(2, "nginx:1.27", f"shop-{stage}")
        web["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": f"api-key-{suffix}", "key": "value"}}}
        ]
        return [web, stored]

    dev = rel(1, objects=stage_objects("dev", "0123456789", "hmac-sha256:aaaaaaaaaaaaaaaa"))
    prod = rel(2, objects=stage_objects("prod", "abcdef0123", "hmac-sha256:bbbbbbbbbbbbbbbb"), stage="prod")
    found = views.compare(dev, prod, across_stages=True)
    assert found.same, found.objects
    # within one stage the digest still tells a change
    other = rel(3, objects=stage_objects("dev", "0123456789", "hmac-sha256:cccccccccccccccc"))
    assert [o.lines for o in views.compare(dev, other).objects] == [
        ["~ metadata.annotations.shiplane.io/data-digest: hmac-sha256:aaaaaaaaaaaaaaaa -> hmac-sha256:cccccccccccccccc"]
    ]


def test_the_status_page_shows_revisions_terminations_digests_and_drift_trouble_first():
    from jinja2 import Environment, FileSystemLoader

    from shiplane.dashboard.app import HERE
    from shiplane.kube import Ref
    from shiplane.observing.drift import drift
    from tests.unit.operate.test_tree import DIGEST, applied_deployment, build, event, pod, replicaset
    from tests.unit.operate.test_tree import deployment as live_deployment

    live = live_deployment(replicas=3, ready=1)
    live["metadata"]["managedFields"] = [
        {"manager": "kubectl-scale", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    ]
    applied = {**applied_deployment(), "spec": {"replicas": 2}}
    db = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}}
    sts = {"kind": "StatefulSet", "metadata": {"name": "db", "uid": "sts-uid"}, "spec": {"replicas": 1}}
    oom = {"reason": "OOMKilled", "exitCode": 137}
    tree = build(
        [db, applied],
        {("Deployment", "web"): live, ("StatefulSet", "db"): sts},
        [replicaset("web-new", "rs-new", 2, 1), replicaset("web-old", "rs-old", 1, 0)],
        [pod("web-new-a", "rs-new", ready=False, last=oom, restarts=4)],
        [event("Pod", "web-new-a", "BackOff", "2027-01-15T07:59:00Z", count=3)],
        drift([applied], {Ref.of(applied): live}),
    )
    states = {("Deployment", "web"): ("InProgress", "1 of 3 ready"), ("StatefulSet", "db"): ("Current", "")}
    page = views.status_view(tree, states, now=NOW)
    assert not page.healthy and [w.node.name for w in page.workloads] == ["web", "db"]  # trouble first
    web = page.workloads[0]
    assert web.restarts == 4 and [r.name for r in web.shown()] == ["web-new"]  # an old one without pods: no row
    assert [(e.reason, e.name) for e in page.warnings()] == [("BackOff", "web-new-a")]
    data = json.loads(json.dumps(page.to_json()))
    assert data["healthy"] is False and data["drift_summary"] == "1 of 2 object(s) drifted"
    assert data["workloads"][0]["state"] == "InProgress" and data["workloads"][0]["drifted"] is True
    container = data["workloads"][0]["revisions"][0]["pods"][0]["containers"][0]
    assert (container["last_termination"], container["digest"]) == ("OOMKilled (exit 137)", DIGEST)

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True)
    env.filters["duration"] = views.age
    html = env.get_template("_tree.html").render(tree=page, expand=None, shown=views.PODS_SHOWN, stage="dev")
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "revision 7 : degraded (1 of 2 workloads current) · 1 of 2 object(s) drifted" in text, text
    assert "Deployment web InProgress 1/3 ready · restarts 4 drifted" in text, text
    assert "drifted: spec.replicas (by kubectl-scale (Update))" in text
    assert "ReplicaSet web-new (revision 2, current) 1/1 ready" in text, text
    assert "web-new-a Running · 0/1 ready · restarts 4" in text
    assert f"web: nginx:1.27 @{DIGEST[:19]} · waiting: CrashLoopBackOff · last OOMKilled (exit 137)" in text, text
    assert "! BackOff x3: BackOff happened" in text and "web-old" not in text

    # A big app: a revision lists PODS_SHOWN pods and links to the rest (no JavaScript needed).
    many = [pod(f"web-{i:03}", "rs-new") for i in range(views.PODS_SHOWN + 5)]
    big = views.status_view(build([applied], {("Deployment", "web"): live}, [replicaset("web-new", "rs-new", 2, 25)],
                                  many), states, now=NOW)  # fmt: skip
    folded = env.get_template("_tree.html").render(tree=big, expand=None, shown=views.PODS_SHOWN, stage="dev")
    assert folded.count('<li class="pod ') == views.PODS_SHOWN and '?all=Deployment/web">and 5 more pods' in folded
    opened = env.get_template("_tree.html").render(tree=big, expand="Deployment/web", shown=views.PODS_SHOWN)
    assert opened.count('<li class="pod ') == views.PODS_SHOWN + 5


def test_charts_are_svg_with_escaped_labels():
    weeks = [views.Week(NOW - (12 - i) * 7 * 86400, i % 3, i % 2) for i in range(12)]
    svg = str(charts.weekly(weeks))
    assert svg.startswith("<svg") and svg.count("<rect") == sum(bool(w.good) + bool(w.bad) for w in weeks)
    dots = str(charts.points([(1, 30.0, "deployed"), (2, 90.0, "<failed>")], "a <title>"))
    assert dots.count("<circle") == 2 and "<failed>" not in dots and "&lt;failed&gt;" in dots
    assert "no data yet" in str(charts.points([], "empty"))


def test_a_remote_host_needs_its_flag(capsys, tmp_path):
    assert main(["dashboard", "-f", str(tmp_path / "none.yaml"), "--host", "10.1.2.3"]) == 2
    err = capsys.readouterr().err
    assert "--host 10.1.2.3 is not a loopback address" in err and "--allow-remote" in err


def test_a_taken_port_is_exit_3(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", "-f", str(tmp_path / "none.yaml"), "--port", str(port)]) == 3
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_pods_are_picked_by_every_label_of_the_selector():
    from shiplane.actions.inspect import pods_by_label, selected

    def pod(name, **labels):
        return {"metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "shop", **labels}}}

    pods = [pod("web-1", app="web", tier="a"), pod("web-2", app="web", tier="b"), pod("db-0", app="db", tier="a")]
    index = pods_by_label(pods)
    names = lambda match: [p["metadata"]["name"] for p in selected(index, pods, match)]  # noqa: E731
    assert names({"app.kubernetes.io/part-of": "shop", "app": "web"}) == ["web-1", "web-2"]
    assert names({"app": "web", "tier": "a"}) == ["web-1"]
    assert names({"app": "cache"}) == []
    assert names({}) == ["web-1", "web-2", "db-0"]  # an empty selector selects all, as before


def test_recorded_findings_are_listed():
    audit = {
        "failOn": "high",
        "images": [
            {"image": "nginx:1.27", "scanned": True, "findings": {"low": 3, "critical": 1}, "excepted": [{"id": "X"}]},
            {"image": "private/app:1", "scanned": False, "error": "not in the cache"},
        ],
        "failing": ["CVE-2024-1 critical in openssl (nginx:1.27)"],
    }
    policy = [{"severity": "high", "rule": "no-latest", "object": "Deployment/web", "message": "pin the tag"}]
    release = rel(1).with_(extra={"image_audit": audit, "policy_findings": policy})
    assert views.findings_of(release) == [
        "image nginx:1.27: 1 critical, 3 low (1 excepted)",
        "image private/app:1: not scanned (not in the cache)",
        "image gate: CVE-2024-1 critical in openssl (nginx:1.27)",
        "policy_findings: high no-latest Deployment/web: pin the tag",
    ]
    assert views.findings_of(rel(2)) == []


def test_a_server_sent_event_carries_every_line():
    from shiplane.dashboard.app import sse

    assert sse("tree", "<ul>\n<li>a</li>\n</ul>") == "event: tree\ndata: <ul>\ndata: <li>a</li>\ndata: </ul>\n\n"
    assert sse("tree", "") == "event: tree\ndata: \n\n"
