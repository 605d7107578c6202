from pathlib import Path

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
    assert set(by_name) == {"shiplane-pod-never-ready", "shiplane-pod-fail-exit", "shiplane-pod-fail-crashloop"}
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
    assert len(all_stages) == len(stages.KWOK_STAGES) + 4
