"""Resource arithmetic as the scheduler counts it (shiplane.status.capacity)."""

from __future__ import annotations

from decimal import Decimal

from shiplane.status import capacity


def test_pod_request_falls_back_to_limits_and_takes_the_largest_init_container():
    spec = {
        "containers": [
            {"resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m"}}},
            {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
        ],
        "initContainers": [{"resources": {"requests": {"cpu": "2"}}}],
        "overhead": {"memory": "10Mi"},
    }
    req = capacity.pod_resources(spec)
    assert req["cpu"] == Decimal(2)  # the init container's 2 beats 0.35
    assert req["memory"] == (256 + 64 + 10) * 2**20
    assert capacity.pod_resources(spec, "limits") == {"cpu": Decimal("0.5"), "memory": (256 + 10) * 2**20}


def test_rooms_subtract_bound_pods_except_finished_deleted_and_leaving():
    nodes = [{"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "pods": "10"}}}]

    def p(uid, phase="Running", deleting=False):
        meta = {"uid": uid, **({"deletionTimestamp": "x"} if deleting else {})}
        spec = {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "1"}}}]}
        return {"metadata": meta, "spec": spec, "status": {"phase": phase}}

    pods = [p("a"), p("b", "Succeeded"), p("c", deleting=True), p("d")]
    (room,) = capacity.rooms(nodes, pods, leaving=frozenset({"d"}))
    assert room.free == {"cpu": Decimal(3), "pods": Decimal(9)}


def test_usable_nodes_respect_cordons_taints_tolerations_and_selectors():
    tainted = {"metadata": {"name": "t", "labels": {"gpu": "yes"}},
               "spec": {"taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]}}  # fmt: skip
    assert not capacity.usable(tainted, {})
    assert capacity.usable(tainted, {"tolerations": [{"key": "gpu", "operator": "Exists"}]})
    assert capacity.usable(tainted, {"tolerations": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]})
    assert not capacity.usable({"metadata": {"name": "c"}, "spec": {"unschedulable": True}}, {})
    plain = {"metadata": {"name": "p", "labels": {"zone": "a"}}, "spec": {}}
    assert capacity.usable(plain, {"nodeSelector": {"zone": "a"}})
    assert not capacity.usable(plain, {"nodeSelector": {"zone": "b"}})


def test_short_and_its_description():
    missing = capacity.short(
        {"cpu": Decimal(40), "memory": Decimal(2**30)}, {"cpu": Decimal(32), "memory": Decimal(2**31)}
    )
    assert missing == {"cpu": (Decimal(40), Decimal(32))}
    assert capacity.describe_short(missing) == "cpu 40 wanted, 32 available"
    assert capacity.fmt(Decimal(3 * 2**30 // 2), "memory") == "1.5Gi"
    assert capacity.fmt(Decimal("0.25"), "cpu") == "0.25"


def test_a_starting_nodes_lifecycle_taints_do_not_make_it_unusable():
    """The node lifecycle controller taints a node not-ready for a moment after it registers;
    preflight must not refuse a deploy as "no schedulable node" in that moment."""
    starting = {"spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}}
    cordoned = {"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}
    assert capacity.usable(starting)
    assert not capacity.usable(cordoned)
