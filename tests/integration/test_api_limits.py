"""What the spec check refuses, the API server rejects; what it lets through, the API server accepts.

Each limit in `shiplane.spec.limits` is put to the local control plane at and around its
boundary (server-side dry-run apply, so nothing is scheduled), and shiplane's own verdict
must agree with the API server's. The 1 MiB ConfigMap is rendered from a spec and applied.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from shiplane import rendering, spec
from shiplane.errors import InputError, KubeError, Retryable
from shiplane.spec import limits
from shiplane.spec.inputs import gather
from tests.unit.spec.test_limits import BAD_CRON, GOOD_CRON

pytestmark = pytest.mark.integration


def accepted(kube, obj: dict, *, dry_run: bool = True) -> bool:
    try:
        kube.apply(obj, dry_run=dry_run)
    except Retryable:
        raise
    except KubeError as err:
        print(f"refused: {err}")
        return False
    return True


def cronjob(ns: str, schedule: str) -> dict:
    pod = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "cron", "namespace": ns},
        "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": pod}}}},
    }


def network_policy(ns: str, cidr: str) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "egress", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": cidr}}]}]},
    }


def test_cron_verdicts_match_the_api_server(local_cluster, namespace):
    kube = local_cluster.kube
    schedules = [s for s in [*GOOD_CRON, *BAD_CRON] if s]  # an empty schedule is refused as missing
    disagree = [s for s in schedules if (limits.cron(s) is None) != accepted(kube, cronjob(namespace, s))]
    assert disagree == []


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0", "10.0.0.300/8", "10.0.0.0", "db/8"])
def test_cidr_verdicts_match_the_api_server(local_cluster, namespace, cidr):
    assert (limits.cidr(cidr) is None) == accepted(local_cluster.kube, network_policy(namespace, cidr))


@pytest.mark.parametrize("name", ["kata", "kata.example.com", "Kata_Containers", "a" * 253, "a" * 254])
def test_runtime_class_names_match_the_api_server(local_cluster, name):
    obj = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": name}, "handler": "runc"}
    assert (limits.dns_subdomain(name) is None) == accepted(local_cluster.kube, obj)


@pytest.mark.parametrize("name", ["a" * 63, "a" * 64, "Bad_NS", "ok-ns"])
def test_namespace_names_match_the_api_server(local_cluster, name):
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    assert (limits.dns_label(name) is None) == accepted(local_cluster.kube, obj)


@pytest.mark.parametrize("replicas", [limits.INT32_MAX, limits.INT32_MAX + 1])
def test_int32_boundary_matches_the_api_server(local_cluster, namespace, replicas):
    labels = {"app": "w"}
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}},
        },
    }
    assert (replicas <= limits.INT32_MAX) == accepted(local_cluster.kube, obj)


@pytest.mark.parametrize("extra", [0, 1])
def test_annotation_total_boundary_matches_the_api_server(local_cluster, namespace, extra):
    annotations = {"example.com/a": "x" * (limits.MAX_ANNOTATION_BYTES - len("example.com/a") + extra)}
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "notes", "namespace": namespace, "annotations": annotations},
    }
    assert (limits.annotations(annotations) is None) == accepted(local_cluster.kube, obj) == (extra == 0)


SPEC = """\
app: {name: big}
defaults:
  resources:
    limits: {cpu: 100m, memory: 64Mi}
services:
  web:
    image: ghcr.io/acme/web:1.0
    files:
      /etc/big.dat: {fromFile: big.dat}
      /etc/small.conf: {content: "x = 1"}
stages:
  dev: {namespace: big-dev}
"""


def test_rendered_configmap_at_1mib_is_applied_and_one_byte_more_is_refused_by_both(
    local_cluster, namespace, tmp_path: Path
):
    kube = local_cluster.kube
    (tmp_path / "shiplane.yaml").write_text(SPEC)
    (tmp_path / "big.dat").write_text("a" * (limits.MAX_CONFIG_BYTES - len("x = 1")))
    stage = spec.load([tmp_path / "shiplane.yaml"]).stage("dev")
    objects = rendering.render(stage, gather(stage), namespace=namespace)
    cm = next(o for o in objects if o["kind"] == "ConfigMap")
    assert sum(len(v) for v in cm["data"].values()) == limits.MAX_CONFIG_BYTES
    assert accepted(kube, cm, dry_run=False)  # really stored
    for o in objects:
        assert accepted(kube, o), o["kind"]

    over = copy.deepcopy(cm)
    over["metadata"]["name"] += "-over"
    over["data"]["etc_big.dat"] += "a"
    assert not accepted(kube, over)
    (tmp_path / "big.dat").write_text("a" * (limits.MAX_CONFIG_BYTES - len("x = 1") + 1))
    with pytest.raises(InputError, match="would hold 1 MiB"):
        rendering.render(stage, gather(stage), namespace=namespace)


def test_capability_names_pass_the_api_server_so_shiplane_checks_them(local_cluster, namespace):
    """The API server stores any capability name; the container runtime then fails the container
    at start (CreateContainerError). shiplane refuses unknown names at spec check instead."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "caps", "namespace": namespace},
        "spec": {
            "containers": [{"name": "c", "image": "x:1", "securityContext": {"capabilities": {"add": ["NET_ADMINN"]}}}]
        },
    }
    assert limits.capability("NET_ADMINN") is not None
    assert accepted(local_cluster.kube, pod)


@pytest.mark.parametrize(
    ("field", "sub_path"),
    [
        ("metadata.name", "data"),
        ("status.podIP", "a/b"),
        ("metadata.labels['team']", "x"),
        ("spec.nodeNam", "data"),
        ("metadata.name", "../escape"),
        ("metadata.name", "/abs"),
    ],
)
def test_env_field_and_sub_path_verdicts_match_the_api_server(local_cluster, namespace, field, sub_path):
    container = {
        "name": "c",
        "image": "x:1",
        "env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": field}}}],
        "volumeMounts": [{"name": "scratch", "mountPath": "/work", "subPath": sub_path}],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": {"containers": [container], "volumes": [{"name": "scratch", "emptyDir": {}}]},
    }
    ours = limits.field_path(field) is None and limits.sub_path(sub_path) is None
    assert ours == accepted(local_cluster.kube, pod)
