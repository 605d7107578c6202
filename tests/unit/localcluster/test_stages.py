import itertools
from pathlib import Path

import pytest
import yaml

from shiplane.localcluster import stages

POD_READY = {
    "apiVersion": "kwok.x-k8s.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "pod-ready"},
    "spec": {
        "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
        "selector": {"matchExpressions": [{"key": ".status.phase", "operator": "In", "values": ["Pending"]}]},
        "next": {"statusTemplate": "phase: Running\n"},
    },
}


def _fake_kwok_tree(root: Path) -> Path:
    for rel in stages.KWOK_STAGES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = POD_READY if rel.endswith("pod-ready.yaml") else {**POD_READY, "metadata": {"name": Path(rel).stem}}
        path.write_text(yaml.safe_dump(doc))
    return root


def test_fault_stages_outweigh_kwok_defaults_and_select_by_annotation():
    by_name = {s["metadata"]["name"]: s for s in stages.fault_stages()}
    assert set(by_name) == {
        "shiplane-pod-never-ready",
        "shiplane-pod-fail-exit",
        "shiplane-pod-fail-crashloop",
        "shiplane-pod-image-pull",
        "shiplane-pod-image-pull-backoff",
        "shiplane-pod-image-pull-retry",
        "shiplane-pod-config-error",
        "shiplane-pod-config-error-hold",
    }
    for stage in by_name.values():
        assert stage["spec"]["weight"] > 0  # zero-weight kwok defaults then drop out
        keys = [e["key"] for e in stage["spec"]["selector"]["matchExpressions"]]
        assert f'.metadata.annotations["{stages.FAULT}"]' in keys
    exit_policy = by_name["shiplane-pod-fail-exit"]["spec"]["selector"]["matchExpressions"][-1]
    assert exit_policy == {"key": ".spec.restartPolicy", "operator": "In", "values": ["Never"]}
    assert "phase: Failed" in by_name["shiplane-pod-fail-exit"]["spec"]["next"]["statusTemplate"]
    assert "CrashLoopBackOff" in by_name["shiplane-pod-fail-crashloop"]["spec"]["next"]["statusTemplate"]


def test_ready_after_is_kwoks_pod_ready_with_a_delay_from_the_annotation(tmp_path):
    all_stages = stages.all_stages(_fake_kwok_tree(tmp_path))
    delayed = next(s for s in all_stages if s["metadata"]["name"] == "shiplane-pod-ready-after")
    assert delayed["spec"]["next"] == POD_READY["spec"]["next"]
    assert delayed["spec"]["delay"]["durationFrom"] == {
        "expressionFrom": f'.metadata.annotations["{stages.READY_AFTER}"]'
    }
    original = next(s for s in all_stages if s["metadata"]["name"] == "pod-ready")
    assert original == POD_READY  # kwok's own stage is left untouched
    assert len(all_stages) == len(stages.KWOK_STAGES) + 9


def _reason_selector(stage: dict) -> dict:
    return next(e for e in stage["spec"]["selector"]["matchExpressions"] if e["key"].endswith("state.waiting.reason"))


def _matches(selector: dict, reason: str | None) -> bool:
    # kwok: In needs one of the values; NotIn holds for a missing key too
    inside = reason in selector["values"]
    return inside if selector["operator"] == "In" else not inside


@pytest.mark.parametrize(
    ("fault", "cycle"),
    [
        ("image-pull", [None, "ErrImagePull", "ImagePullBackOff", "ErrImagePull"]),
        ("config-error", [None, "CreateContainerConfigError", "CreateContainerConfigError"]),
    ],
)
def test_waiting_faults_always_have_a_stage_so_kwok_never_makes_them_ready(fault, cycle):
    """Each state a waiting fault passes through is matched by exactly one positive-weight stage
    of that fault (kwok's zero-weight pod-ready stage would otherwise take the pod), which keeps it
    Pending and moves it to the next state of the cycle."""
    mine = [
        s
        for s in stages.fault_stages()
        if {"key": f'.metadata.annotations["{stages.FAULT}"]', "operator": "In", "values": [fault]}
        in s["spec"]["selector"]["matchExpressions"]
    ]
    for now, after in itertools.pairwise(cycle):
        matching = [s for s in mine if _matches(_reason_selector(s), now)]
        assert len(matching) == 1, (now, [s["metadata"]["name"] for s in matching])
        template = matching[0]["spec"]["next"]["statusTemplate"]
        assert "phase: Pending" in template
        assert f"reason: {after}," in template


def test_log_crds_next_to_the_stage_directory_or_a_clear_error(tmp_path):
    from shiplane.errors import EnvironmentProblem

    stage_dir = tmp_path / "kustomize" / "stage"
    stage_dir.mkdir(parents=True)
    with pytest.raises(EnvironmentProblem, match=r"kwok's log CRDs are not in .*crd/bases"):
        stages.log_crds(stage_dir)
    bases = tmp_path / "kustomize" / "crd" / "bases"
    bases.mkdir(parents=True)
    for name, kind in zip(stages.LOG_CRDS, stages.LOG_KINDS, strict=True):
        crd = {"kind": "CustomResourceDefinition", "spec": {"names": {"kind": kind}}}
        (bases / name).write_text(yaml.safe_dump(crd))
    assert [c["spec"]["names"]["kind"] for c in stages.log_crds(stage_dir)] == ["Logs", "ClusterLogs"]


def test_log_object_names_the_pod_and_a_file_per_container():
    obj = stages.log_object("ns", "web-1", {"web": "/tmp/web.log", "side": "/tmp/side.log"})
    assert (obj["kind"], obj["metadata"]) == ("Logs", {"name": "web-1", "namespace": "ns"})
    assert obj["spec"]["logs"] == [
        {"containers": ["web"], "logsFile": "/tmp/web.log", "follow": True},
        {"containers": ["side"], "logsFile": "/tmp/side.log", "follow": True},
    ]
