from shiplane.kube import Ref
from shiplane.planning import Action, Probe, diff, make, pruning
from shiplane.releases import Outcome, Release


def obj(kind, name, api="v1", **body):
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "ns"}, **body}


def release(revision, objects, outcome=Outcome.DEPLOYED, retained=()):
    return Release("shop", "dev", revision, 0.0, outcome=outcome, objects=objects, retained=list(retained))


def test_secret_values_never_reach_the_diff():
    live = obj(
        "Secret", "s", data={"password": "b2xk"}, metadata={"name": "s", "namespace": "ns", "resourceVersion": "1"}
    )
    new = obj("Secret", "s", data={"password": "bmV3"})
    changes = diff(live, new)
    assert [c.path for c in changes] == ["data.password"]
    text = changes[0].render()
    assert "b2xk" not in text and "bmV3" not in text and "***" in text


def test_server_noise_is_not_a_change():
    live = obj("ConfigMap", "c", data={"a": "1"})
    live["metadata"].update(resourceVersion="9", uid="u", managedFields=[{}], creationTimestamp="t")
    live["status"] = {"x": 1}
    assert diff(live, obj("ConfigMap", "c", data={"a": "1"})) == []


def test_plan_actions_from_probes():
    a, b, c, d = (obj("ConfigMap", n, data={"k": n}) for n in "abcd")
    probes = {
        Ref.of(a): Probe(None, a),
        Ref.of(b): Probe(b, b),
        Ref.of(c): Probe(obj("ConfigMap", "c", data={"k": "old"}), c),
        Ref.of(d): Probe(d, None, immutable="field is immutable"),
    }
    plan = make([a, b, c, d], probes)
    assert {ch.ref.name: ch.action for ch in plan.changes} == {
        "a": Action.CREATE,
        "b": Action.UNCHANGED,
        "c": Action.UPDATE,
        "d": Action.REPLACE,
    }
    assert plan.has_changes
    assert make([b], {Ref.of(b): Probe(b, b)}).has_changes is False


def test_pruning_deletes_dropped_objects_retains_config_and_keeps_volumes():
    web, cache = obj("Deployment", "web", "apps/v1"), obj("Deployment", "cache", "apps/v1")
    cfg_old, cfg_new = obj("ConfigMap", "cfg-1"), obj("ConfigMap", "cfg-2")
    pvc = obj("PersistentVolumeClaim", "uploads")
    kept = obj(
        "Service", "legacy", metadata={"name": "legacy", "namespace": "ns", "annotations": {"shiplane.io/keep": "true"}}
    )
    history = [release(1, [web, cache, cfg_old, pvc, kept])]
    result = pruning([web, cfg_new], history)
    assert [r["name"] for r in result.prune] == ["cache"]
    assert {r["name"] for r in result.retain} == {"cfg-1", "uploads", "legacy"}
    assert {r["name"] for r, _ in result.kept} == {"uploads", "legacy"}
    # next release: the retained config goes; the volume only with prune_volumes
    history.append(release(2, [web, cfg_new], retained=result.retain))
    second = pruning([web, cfg_new], history)
    assert [r["name"] for r in second.prune] == ["cfg-1"]
    assert {r["name"] for r, _ in second.kept} == {"uploads", "legacy"}
    assert "uploads" in [r["name"] for r in pruning([web, cfg_new], history, prune_volumes=True).prune]


def test_objects_of_a_failed_release_are_pruned_too():
    web, extra = obj("Deployment", "web", "apps/v1"), obj("Deployment", "extra", "apps/v1")
    history = [release(1, [web]), release(2, [web, extra], outcome=Outcome.FAILED)]
    assert [r["name"] for r in pruning([web], history).prune] == ["extra"]
