"""Spec gaps the import found, now fields: each compose key reaches the rendered pod."""

from __future__ import annotations

from pathlib import Path

from shiplane import rendering, spec
from shiplane.importing import import_compose, writing
from shiplane.spec.inputs import gather


def test_stop_grace_period_becomes_termination_grace_period(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    stop_grace_period: 1m30s\n"
        "  bad:\n    image: postgres:16\n    stop_grace_period: soon\n"
    )
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={})
    assert imported.spec["services"]["db"]["terminationGracePeriodSeconds"] == 90
    report = imported.report.to_text()
    assert "stop_grace_period 1m30s → terminationGracePeriodSeconds" in report
    assert "stop_grace_period: invalid duration 'soon'" in report
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, {}))
    pods = {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] == "Deployment"}
    assert pods["db"]["terminationGracePeriodSeconds"] == 90
    assert "terminationGracePeriodSeconds" not in pods["bad"]


GAPS = """\
services:
  vpn:
    image: example/vpn:1.0
    privileged: true
    cap_drop: [NET_RAW, MKNOD]
    sysctls: [net.ipv4.ip_forward=1]
    ports: ["51820:51820/udp"]
    pre_stop:
      - command: ["/bin/drain", "--wait"]
"""


def test_privileged_caps_sysctls_pre_stop_and_load_balancer_reach_the_pod_and_the_policy(tmp_path: Path) -> None:
    from shiplane import policy

    (tmp_path / "compose.yaml").write_text(GAPS)
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={})
    vpn = imported.spec["services"]["vpn"]
    assert vpn["security"]["privileged"] is True and vpn["security"]["allowPrivilegeEscalation"] is True
    assert vpn["security"]["dropCapabilities"] == ["NET_RAW", "MKNOD"]
    assert vpn["sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert vpn["preStop"] == ["/bin/drain", "--wait"]
    assert vpn["serviceType"] == "LoadBalancer"
    report = imported.report.to_text()
    assert "privileged: full access to the host; kept as security.privileged" in report
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, {}))
    pod = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["securityContext"]["privileged"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["NET_RAW", "MKNOD"]}
    assert c["lifecycle"] == {"preStop": {"exec": {"command": ["/bin/drain", "--wait"]}}}
    assert pod["securityContext"]["sysctls"] == [{"name": "net.ipv4.ip_forward", "value": "1"}]
    svc = next(o for o in objects if o["kind"] == "Service")
    assert svc["spec"]["type"] == "LoadBalancer"
    findings = {f.rule for f in policy.evaluate(objects).findings}
    assert {"security-privileged", "security-sysctls-unsafe"} <= findings  # still flagged


def test_manifest_service_type_and_traffic_policy_are_kept(tmp_path: Path) -> None:
    import json

    from shiplane.importing import manifests

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "dns"},
        "spec": {
            "selector": {"matchLabels": {"app": "dns"}},
            "template": {
                "metadata": {"labels": {"app": "dns"}},
                "spec": {
                    "containers": [{"name": "dns", "image": "coredns/coredns:1.11.1", "ports": [{"containerPort": 53}]}]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "dns"},
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "selector": {"app": "dns"},
            "ports": [{"port": 53}],
        },
    }
    (tmp_path / "all.yaml").write_text(json.dumps(deployment) + "\n---\n" + json.dumps(service) + "\n")
    docs, names = manifests.load([tmp_path / "all.yaml"])
    imported, _ = manifests.convert(docs, "dns", names)
    dns = imported.spec["services"]["dns"]
    assert (dns["serviceType"], dns["externalTrafficPolicy"]) == ("LoadBalancer", "Local")
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    svc = next(o for o in rendering.render(stage, gather(stage, {})) if o["kind"] == "Service")
    assert svc["spec"]["type"] == "LoadBalancer" and svc["spec"]["externalTrafficPolicy"] == "Local"


SHARED = """\
services:
  store:
    image: acme/store:1.0
    volumes: [media:/srv/media]
  thumbs:
    image: acme/thumbs:1.0
    volumes: [media:/data/in]
volumes:
  media: {driver_opts: {size: 5g}}
"""


def test_a_volume_shared_between_services_becomes_one_read_write_many_claim(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(SHARED)
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={})
    for name in ("store", "thumbs"):
        svc = imported.spec["services"][name]
        assert svc["volumes"]["media"] == {"shared": {"claim": "media", "size": "5Gi"}}
        assert "kind" not in svc  # a Deployment: the claim is not per replica
    assert imported.report.blocker_count == 0
    assert "one ReadWriteMany claim 'media'" in imported.report.to_text()
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, {}))
    claims = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    assert [c["metadata"]["name"] for c in claims] == ["media"]
    assert claims[0]["spec"] == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "5Gi"}}}
    for o in (o for o in objects if o["kind"] == "Deployment"):
        vols = o["spec"]["template"]["spec"]["volumes"]
        assert {"name": "media", "persistentVolumeClaim": {"claimName": "media"}} in vols


def test_manifest_pod_fields_the_spec_now_has(tmp_path: Path) -> None:
    import json

    from shiplane.importing import manifests

    container = {
        "name": "vpn",
        "image": "example/vpn:1.0",
        "securityContext": {"privileged": True, "capabilities": {"drop": ["NET_RAW"], "add": ["NET_ADMIN"]}},
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/drain"]}}},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "vpn"},
        "spec": {
            "selector": {"matchLabels": {"app": "vpn"}},
            "template": {
                "metadata": {"labels": {"app": "vpn"}},
                "spec": {
                    "terminationGracePeriodSeconds": 45,
                    "securityContext": {"sysctls": [{"name": "net.ipv4.ip_forward", "value": "1"}]},
                    "containers": [container],
                },
            },
        },
    }
    (tmp_path / "vpn.yaml").write_text(json.dumps(deployment))
    docs, names = manifests.load([tmp_path / "vpn.yaml"])
    imported, _ = manifests.convert(docs, "vpn", names)
    vpn = imported.spec["services"]["vpn"]
    assert vpn["security"]["privileged"] is True
    assert vpn["security"]["dropCapabilities"] == ["NET_RAW"] and vpn["security"]["addCapabilities"] == ["NET_ADMIN"]
    assert vpn["sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert vpn["terminationGracePeriodSeconds"] == 45 and vpn["preStop"] == ["/bin/drain"]
    assert "privileged: kept as security.privileged" in imported.report.to_text()
