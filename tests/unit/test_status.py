import pytest

from shiplane.status import State, compute


def deploy(replicas=3, generation=2, observed=2, updated=3, ready=3, available=3, total=3, conditions=()):
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": list(conditions),
        },
    }


@pytest.mark.parametrize(
    ("obj", "state", "message"),
    [
        (deploy(), State.CURRENT, "3/3 updated, 3 ready, 3 available"),
        (deploy(observed=1), State.IN_PROGRESS, "the controller has not seen the latest change yet"),
        (deploy(updated=1, total=4), State.IN_PROGRESS, "1/3 updated, 3 ready, 3 available"),
        (deploy(total=4), State.IN_PROGRESS, "1 old replicas pending termination; 3/3 updated, 3 ready, 3 available"),
        (deploy(available=2), State.IN_PROGRESS, "3/3 updated, 3 ready, 2 available"),
        (
            deploy(
                updated=1, conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
            ),
            State.FAILED,
            "progress deadline exceeded: 1/3 updated, 3 ready, 3 available",
        ),
    ],
)
def test_deployment(obj, state, message):
    result = compute(obj)
    assert (result.state, result.message) == (state, message)


def test_job_complete_failed_running():
    def job(conditions, **st):
        return {"kind": "Job", "metadata": {}, "status": {"conditions": conditions, **st}}

    assert compute(job([{"type": "Complete", "status": "True"}])).ready
    failed = compute(job([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]))
    assert failed.state is State.FAILED and "BackoffLimitExceeded" in failed.message
    assert compute(job([], active=1)).message == "1 active, 0 succeeded, 0 failed"


def test_statefulset_waits_for_revision_and_ready_replicas():
    def sts(ready, update="r2", current="r2", updated=2):
        return {
            "kind": "StatefulSet",
            "metadata": {"generation": 1},
            "spec": {"replicas": 2},
            "status": {
                "observedGeneration": 1,
                "replicas": 2,
                "readyReplicas": ready,
                "updatedReplicas": updated,
                "updateRevision": update,
                "currentRevision": current,
            },
        }

    assert compute(sts(2)).ready
    assert compute(sts(1)).state is State.IN_PROGRESS
    assert "rolling out" in compute(sts(2, current="r1")).message
    assert compute(sts(2, updated=1)).message == "1/2 updated, 2/2 ready"


def test_pod_crash_loop_is_a_failure_and_pvc_binding():
    pod = {
        "kind": "Pod",
        "metadata": {},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
        },
    }
    assert compute(pod).message == "container app: CrashLoopBackOff"
    assert compute({"kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Bound"}}).ready
    assert compute(None).state is State.NOT_FOUND
    assert compute({"kind": "Pod", "metadata": {"deletionTimestamp": "x"}}).state is State.TERMINATING
