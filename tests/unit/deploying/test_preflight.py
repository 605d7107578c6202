"""Preflight (shiplane.planning.preflight): every gap kind, and what is not a gap."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from shiplane.planning.preflight import Facts, check, needs


def deployment(name="web", replicas=2, cpu="200m", memory="128Mi", **pod):
    container = {"name": name, "image": "nginx", "resources": {"limits": {"cpu": cpu, "memory": memory}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [container], **pod}}},
    }


def statefulset(name="db", size="1Gi", storage_class=None, replicas=1):
    claim = {"resources": {"requests": {"storage": size}}}
    if storage_class:
        claim["storageClassName"] = storage_class
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": name, "resources": {"limits": {"cpu": "1"}}}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}],
        },
    }


def node(name="n1", cpu="32", **spec):
    return {
        "metadata": {"name": name, "labels": {}},
        "spec": spec,
        "status": {"allocatable": {"cpu": cpu, "memory": "128Gi", "pods": "110"}},
    }


NODES = (node("n1"), node("n2"))
FACTS = Facts(
    runtime_classes=frozenset({"gvisor"}),
    priority_classes=frozenset({"high"}),
    storage_classes=frozenset({"standard"}),
    ingress_classes=frozenset({"nginx"}),
    quotas=(),
    limit_ranges=(),
    nodes=NODES,
)


def gaps(objects, **facts):
    return check(objects, replace(FACTS, **facts))


def test_a_fitting_app_has_no_gaps():
    assert gaps([deployment(), statefulset(storage_class="standard")]) == []


@pytest.mark.parametrize(
    ("obj", "check_id", "says"),
    [
        (deployment(runtimeClassName="wasmedge"), "runtime-class", 'RuntimeClass "wasmedge" does not exist'),
        (deployment(priorityClassName="urgent"), "priority-class", 'PriorityClass "urgent" does not exist'),
        (statefulset(storage_class="fast-ssd"), "storage-class", 'StorageClass "fast-ssd" does not exist'),
        (
            {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
             "spec": {"ingressClassName": "traefik"}},
            "ingress-class",
            'IngressClass "traefik" does not exist in the cluster (it has: nginx)',
        ),
    ],
)  # fmt: skip
def test_a_missing_class_is_a_gap_naming_it_and_its_users(obj, check_id, says):
    (gap,) = gaps([obj])
    assert gap.check == check_id and says in gap.message
    assert gap.objects == (f"{obj['kind']} {obj['metadata']['name']}",)
    assert gap.fix


def test_classes_not_read_are_not_checked():
    assert gaps([deployment(runtimeClassName="wasmedge")], runtime_classes=None) == []


def test_users_of_one_missing_class_are_one_gap():
    (gap,) = gaps([deployment("a", runtimeClassName="x"), deployment("b", runtimeClassName="x")])
    assert gap.objects == ("Deployment a", "Deployment b")


def test_a_pod_larger_than_any_node():
    (gap,) = gaps([deployment(cpu="40", replicas=1)])
    assert gap.check == "capacity" and gap.objects == ("Deployment web",)
    assert "cpu 40 wanted, 32 available" in gap.message


def test_the_sum_of_requests_beyond_all_nodes():
    (gap,) = gaps([deployment(cpu="1", replicas=100)])  # 100 cores on 2 nodes of 32
    assert gap.check == "capacity" and gap.objects == ()
    assert "all 2 schedulable node(s)" in gap.message and "cpu 100 wanted, 64 available" in gap.message


def test_cordoned_and_tainted_nodes_do_not_count_unless_tolerated():
    nodes = (node("n1", unschedulable=True), node("n2", taints=[{"key": "gpu", "effect": "NoSchedule"}]))
    (gap,) = gaps([deployment()], nodes=nodes)
    assert gap.message == "no schedulable node in the cluster"
    tolerant = deployment(tolerations=[{"key": "gpu", "operator": "Exists"}])
    assert gaps([tolerant], nodes=(node("n2", taints=[{"key": "gpu", "effect": "NoSchedule"}]), node("n3"))) == []


def test_an_autoscaled_cluster_skips_the_capacity_checks():
    scaled = node()
    scaled["metadata"]["labels"] = {"karpenter.sh/nodepool": "default"}
    assert gaps([deployment(cpu="40")], nodes=(scaled,)) == []


def test_quota_compute_leaves_room_for_what_this_app_already_uses():
    quota = {
        "metadata": {"name": "small"},
        "spec": {"hard": {"requests.cpu": "1", "limits.memory": "1Gi", "pods": "4"}},
        "status": {"used": {"requests.cpu": "800m", "limits.memory": "256Mi", "pods": "2"}},
    }
    web = deployment(replicas=2)  # needs requests.cpu 400m, limits.memory 256Mi, 2 pods
    # all that usage is this app's own (its pods are replaced): fits
    mine = {"requests.cpu": 0.8, "limits.memory": 256 * 2**20, "pods": 2}
    assert gaps([web], quotas=(quota,), app_usage={k: Decimal(str(v)) for k, v in mine.items()}) == []
    # all of it is someone else's: requests.cpu leaves 200m
    (gap,) = gaps([web], quotas=(quota,))
    assert gap.check == "quota"
    assert gap.message == "ResourceQuota small: the app needs requests.cpu=0.4, the quota leaves 0.2 (hard 1)"


def test_quota_on_a_resource_a_container_does_not_set():
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"requests.ephemeral-storage": "10Gi"}}}
    (gap,) = gaps([deployment()], quotas=(quota,))
    assert "tracks requests.ephemeral-storage, so every container must set it; container web does not" in gap.message


def test_quota_counts_objects_and_storage():
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"count/deployments.apps": "1", "requests.storage": "5Gi"}}}
    found = gaps([deployment("a"), deployment("b"), statefulset(size="2Gi", replicas=3)], quotas=(quota,))
    assert [g.message for g in found] == [
        "ResourceQuota q: the app needs count/deployments.apps=2, the quota leaves 1 (hard 1)",
        "ResourceQuota q: the app needs requests.storage=6Gi, the quota leaves 5Gi (hard 5Gi)",
    ]


def test_scoped_quotas_are_not_judged():
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "0"}, "scopes": ["BestEffort"]}}
    assert gaps([deployment()], quotas=(quota,)) == []


def test_limit_range_bounds_and_defaults():
    lr = {
        "metadata": {"name": "bounds"},
        "spec": {
            "limits": [
                {"type": "Container", "max": {"cpu": "500m"}, "min": {"memory": "256Mi"}},
                {"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}},
            ]
        },
    }
    found = gaps([deployment(cpu="1"), statefulset(size="20Gi")], limit_ranges=(lr,))
    messages = [g.message for g in found]
    assert "LimitRange bounds (Container): container web limits cpu to 1, above the maximum 0.5" in messages
    assert "LimitRange bounds (Container): container web requests memory 128Mi, below the minimum 256Mi" in messages
    assert "LimitRange bounds (PersistentVolumeClaim): a volume claim of 20Gi is outside 0 to 10Gi" in messages
    # a LimitRange default fills an unset limit, for the quota's "must set" check too
    default = {"type": "Container", "default": {"ephemeral-storage": "1Gi"}}
    defaults = {"metadata": {"name": "d"}, "spec": {"limits": [default]}}
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"limits.ephemeral-storage": "10Gi"}}}
    assert gaps([deployment()], quotas=(quota,), limit_ranges=(defaults,)) == []


def test_unserved_apis_and_missing_crds():
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "tls"}}
    pdb = {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"}}
    widget = {"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w"}}
    unserved = frozenset({("cert-manager.io/v1", "Certificate"), ("policy/v1beta1", "PodDisruptionBudget"),
                          ("example.com/v2", "Widget")})  # fmt: skip
    found = gaps(
        [cert, pdb, widget],
        unserved=unserved,
        served_versions={"PodDisruptionBudget": ("policy/v1",)},
        crds={("example.com", "Widget"): ("v1",)},
    )
    by_check = {(g.check, g.objects): g for g in found}
    crd = by_check[("crd", ("Certificate tls",))]
    assert crd.message == "no CustomResourceDefinition for Certificate in group cert-manager.io"
    old = by_check[("api", ("PodDisruptionBudget web",))]
    assert "does not serve PodDisruptionBudget in policy/v1beta1 (it serves it in policy/v1)" in old.message
    assert old.fix == "use policy/v1"
    assert by_check[("api", ("Widget w",))].message == "the Widget CRD serves v1, not v2"


def test_a_crd_shipped_with_the_objects_is_not_a_gap():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "w"},
           "spec": {"group": "example.com", "names": {"kind": "Widget"}}}  # fmt: skip
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert gaps([crd, widget], unserved=frozenset({("example.com/v1", "Widget")}), crds={}) == []


def test_needs_counts_hpa_minimum_and_daemonsets_per_node():
    web = deployment()
    del web["spec"]["replicas"]
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 3}}  # fmt: skip
    daemon = {**deployment("agent"), "kind": "DaemonSet"}
    total, _ = needs([web, hpa, daemon], FACTS)
    assert total["pods"] == 3 + 2  # three web replicas, one agent on each of two nodes


def test_an_autoscaler_annotation_on_the_pod_template_skips_its_capacity_check():
    big = deployment(cpu="40")
    big["spec"]["template"]["metadata"] = {"annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}}
    assert gaps([big]) == []


def test_quota_storage_used_by_the_apps_own_claims_is_not_counted_twice():
    quota = {
        "metadata": {"name": "q"},
        "spec": {"hard": {"requests.storage": "30Gi"}},
        "status": {"used": {"requests.storage": "20Gi"}},  # the app's own claim, from its last deploy
    }
    assert gaps([statefulset(size="20Gi")], quotas=(quota,)) == []


def test_quota_needs_count_init_containers_as_the_scheduler_does():
    web = deployment(replicas=1, cpu="100m")
    web["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "resources": {"limits": {"cpu": "2"}}}]
    total, _ = needs([web], FACTS)
    assert total["requests.cpu"] == Decimal(2)
