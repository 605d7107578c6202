import pytest

from shiplane.errors import InputError
from shiplane.planning import rules, waves


def obj(kind, name, *, depends=None, annotations=None, api="v1"):
    ann = dict(annotations or {})
    if depends:
        ann["shiplane.io/depends-on"] = ",".join(depends)
    meta = {"name": name, "namespace": "ns", "labels": {"app.kubernetes.io/name": name}}
    if ann:
        meta["annotations"] = ann
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def names(ws):
    return [(w.name, sorted(o["metadata"]["name"] for o in w.objects)) for w in ws]


def test_default_waves_follow_the_documented_order():
    objects = [
        obj("NetworkPolicy", "np"),
        obj("Service", "web"),
        obj("Deployment", "web", depends=["db"]),
        obj("StatefulSet", "db"),
        obj("Job", "web-migrate-1", annotations={"shiplane.io/compatibility": "expand"}),
        obj("ConfigMap", "cfg"),
        obj("ServiceAccount", "sa"),
        obj("Namespace", "ns"),
        obj("Secret", "s"),
        obj("PodDisruptionBudget", "pdb"),
        obj("Ingress", "web-in"),
        obj("Widget", "custom"),
    ]
    assert names(waves(objects)) == [
        ("namespace", ["ns"]),
        ("identity", ["sa"]),
        ("config", ["cfg", "s"]),
        ("migrations", ["web-migrate-1"]),
        ("stateful", ["db"]),
        ("stateless", ["web"]),
        ("network", ["web", "web-in"]),
        ("policies", ["np", "pdb"]),
        ("other", ["custom"]),
    ]
    assert [w.wait for w in waves(objects)][3:6] == [True, True, True]


def test_stateless_workloads_are_split_by_depends_on():
    objects = [
        obj("Deployment", "seed", depends=["vote"]),
        obj("Deployment", "vote", depends=["redis"]),
        obj("Deployment", "redis"),
        obj("Deployment", "worker", depends=["redis", "db"]),
        obj("Job", "report"),
    ]
    assert names(waves(objects)) == [
        ("stateless-1", ["redis", "report"]),
        ("stateless-2", ["vote", "worker"]),
        ("stateless-3", ["seed"]),
    ]


def test_a_dependency_cycle_is_an_input_error():
    with pytest.raises(InputError, match="cycle: a -> b -> a"):
        waves([obj("Deployment", "a", depends=["b"]), obj("Deployment", "b", depends=["a"])])


def test_user_rules_come_first_and_objects_can_name_their_wave():
    custom = rules([{"wave": "crds", "kinds": ["CustomResourceDefinition"]}])
    ws = waves(
        [obj("Widget", "w", annotations={"shiplane.io/wave": "config"}), obj("CustomResourceDefinition", "widgets")],
        custom,
    )
    assert names(ws) == [("crds", ["widgets"]), ("config", ["w"])]
    with pytest.raises(InputError, match="unknown wave 'nope'"):
        waves([obj("Widget", "w", annotations={"shiplane.io/wave": "nope"})])
    with pytest.raises(InputError, match="expected keys"):
        rules([{"kinds": ["X"]}])
