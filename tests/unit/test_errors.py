"""One exception tree: exit codes, old import names, and API errors classified from the Status payload.

The payloads are the shapes kube-apiserver returns (copied from real responses; the
integration test `test_api_errors.py` provokes the same refusals on the local control plane).
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from kubernetes.client.exceptions import ApiException

from shiplane import errors
from shiplane.events import Waiting
from shiplane.kube import client
from shiplane.kube.client import Kube, _translate

IMMUTABLE_SELECTOR = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
    'v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}'
    ": field is immutable",
    "reason": "Invalid",
    "details": {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, '
                "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
                "field": "spec.selector",
            }
        ],
    },
    "code": 422,
}

STATEFULSET_FORBIDDEN = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other '
    "than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    "reason": "Invalid",
    "details": {
        "name": "db",
        "group": "apps",
        "kind": "StatefulSet",
        "causes": [
            {
                "reason": "FieldValueForbidden",
                "message": "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                "'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                "'minReadySeconds' are forbidden",
                "field": "spec",
            }
        ],
    },
    "code": 422,
}

SERVICE_CLUSTER_IP = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.0.0.77"]: may not change once set',
    "reason": "Invalid",
    "details": {
        "name": "web",
        "kind": "Service",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: ["10.0.0.77"]: may not change once set',
                "field": "spec.clusterIPs[0]",
            }
        ],
    },
    "code": 422,
}

CONFIGMAP_IMMUTABLE = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'ConfigMap "c" is invalid: data: Forbidden: field is immutable when `immutable` is set',
    "reason": "Invalid",
    "details": {
        "name": "c",
        "kind": "ConfigMap",
        "causes": [
            {
                "reason": "FieldValueForbidden",
                "message": "Forbidden: field is immutable when `immutable` is set",
                "field": "data",
            }
        ],
    },
    "code": 422,
}

# A plain validation error: not immutability, so never a delete-and-recreate.
INVALID_PORT = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'Deployment.apps "web" is invalid: spec.template.spec.containers[0].ports[0].containerPort: '
    "Invalid value: 70000: must be between 1 and 65535, inclusive",
    "reason": "Invalid",
    "details": {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 70000: must be between 1 and 65535, inclusive",
                "field": "spec.template.spec.containers[0].ports[0].containerPort",
            }
        ],
    },
    "code": 422,
}

# The selector is immutable, but the same request also has a real error: replacing would not help.
IMMUTABLE_AND_INVALID = {
    **IMMUTABLE_SELECTOR,
    "details": {
        **IMMUTABLE_SELECTOR["details"],
        "causes": IMMUTABLE_SELECTOR["details"]["causes"] + INVALID_PORT["details"]["causes"],
    },
}

FIELD_MANAGER_CONFLICT = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas',
    "reason": "Conflict",
    "details": {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-edit" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    },
    "code": 409,
}

OPTIMISTIC_CONFLICT = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'Operation cannot be fulfilled on leases.coordination.k8s.io "shiplane-lock.shop": the object has '
    "been modified; please apply your changes to the latest version and try again",
    "reason": "Conflict",
    "details": {"name": "shiplane-lock.shop", "group": "coordination.k8s.io", "kind": "leases"},
    "code": 409,
}

ALREADY_EXISTS = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'leases.coordination.k8s.io "shiplane-lock.shop" already exists',
    "reason": "AlreadyExists",
    "details": {"name": "shiplane-lock.shop", "group": "coordination.k8s.io", "kind": "leases"},
    "code": 409,
}

NOT_FOUND = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'deployments.apps "web" not found',
    "reason": "NotFound",
    "details": {"name": "web", "group": "apps", "kind": "deployments"},
    "code": 404,
}

QUOTA_FORBIDDEN = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'pods "web-7d9c8b-x2x" is forbidden: exceeded quota: compute, requested: limits.cpu=200m, '
    "used: limits.cpu=1, limited: limits.cpu=1",
    "reason": "Forbidden",
    "details": {"name": "web-7d9c8b-x2x", "kind": "pods"},
    "code": 403,
}


def error(payload: dict, cls: type[errors.KubeError] = errors.KubeError) -> errors.KubeError:
    return cls(payload["message"], status=payload)


def test_immutable_fields_are_recognised_from_the_causes():
    for payload in (IMMUTABLE_SELECTOR, STATEFULSET_FORBIDDEN, SERVICE_CLUSTER_IP, CONFIGMAP_IMMUTABLE):
        err = error(payload)
        assert err.is_invalid and err.is_immutable, payload["message"]
    assert error(IMMUTABLE_SELECTOR).causes == [
        errors.Cause("FieldValueInvalid", "spec.selector", IMMUTABLE_SELECTOR["details"]["causes"][0]["message"])
    ]


def test_a_validation_error_is_not_immutability():
    assert not error(INVALID_PORT).is_immutable
    assert not error(IMMUTABLE_AND_INVALID).is_immutable
    assert not error(NOT_FOUND).is_immutable


def test_the_wording_of_the_message_is_not_what_classifies():
    # The same words in the top-level message, without the structured causes: not immutable.
    bare = {k: v for k, v in IMMUTABLE_SELECTOR.items() if k != "details"}
    assert not error(bare).is_immutable
    # A conflict is its reason, whatever the message says.
    assert not error({**NOT_FOUND, "message": "conflict conflict conflict"}).is_conflict


def test_conflicts_field_manager_and_optimistic():
    fm = error(FIELD_MANAGER_CONFLICT)
    assert fm.is_conflict and fm.is_field_conflict and fm.code == 409
    assert fm.causes[0].field == ".spec.replicas"
    oc = error(OPTIMISTIC_CONFLICT)
    assert oc.is_conflict and not oc.is_field_conflict


def test_already_exists_not_found_forbidden():
    assert error(ALREADY_EXISTS).is_already_exists and not error(ALREADY_EXISTS).is_conflict
    assert error(NOT_FOUND).is_not_found and error(NOT_FOUND).reason == "NotFound"
    quota = error(QUOTA_FORBIDDEN)
    assert quota.is_forbidden and quota.code == 403 and not quota.is_not_found


def test_translate_keeps_the_status_and_picks_the_class():
    def api(payload: dict) -> ApiException:
        exc = ApiException(status=payload["code"], reason="x")
        exc.body = json.dumps(payload).encode()
        return exc

    fm = _translate(api(FIELD_MANAGER_CONFLICT), "apply Deployment ns/web")
    assert isinstance(fm, errors.Conflict) and fm.is_field_conflict
    assert fm.message.startswith("apply Deployment ns/web: Apply failed with 1 conflict")
    assert _translate(api(IMMUTABLE_SELECTOR), "apply").is_immutable
    assert isinstance(
        _translate(api({**NOT_FOUND, "code": 503, "reason": "ServiceUnavailable"}), "x"), errors.Retryable
    )
    # A body that is not a Status still gives an error with the HTTP code, never a crash.
    odd = ApiException(status=500, reason="Internal Server Error")
    odd.body = b"<html>proxy error</html>"
    assert _translate(odd, "get").code == 500
    listy = ApiException(status=400, reason="Bad Request")
    listy.body = b"[1, 2]"
    assert _translate(listy, "get").reason == ""


def test_exit_codes_and_old_import_names():
    from shiplane.actions.deploy import MigrationFailed
    from shiplane.actions.gate import PolicyRefused
    from shiplane.actions.rollout import ApplyFailed, RolloutFailed
    from shiplane.kube import Conflict
    from shiplane.releases.lock import LockHeld
    from shiplane.releases.record import CorruptRecord

    assert (MigrationFailed, PolicyRefused, ApplyFailed, RolloutFailed, Conflict, LockHeld, CorruptRecord) == (
        errors.MigrationFailed,
        errors.PolicyRefused,
        errors.ApplyFailed,
        errors.RolloutFailed,
        errors.Conflict,
        errors.LockHeld,
        errors.CorruptRecord,
    )
    codes = {
        errors.ShiplaneError: 1,
        errors.RolloutFailed: 1,
        errors.MigrationFailed: 1,
        errors.ApplyFailed: 1,
        errors.KubeError: 1,
        errors.InputError: 2,
        errors.EnvironmentProblem: 3,
        errors.Unreachable: 3,
        errors.OutputFailed: 3,
        errors.LockHeld: 4,
        errors.PolicyRefused: 5,
    }
    assert {cls: cls.exit_code for cls in codes} == codes


def test_the_exit_code_table_in_the_docs_matches():
    import re
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "deploy.md").read_text()
    table = docs.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split(" | ")]
        if line.startswith("| ") and cells[0].strip("| ").isdigit():
            for name in re.findall(r"`(\w+)`", cells[-1]):
                documented[name] = int(cells[0].strip("| "))
    assert documented, "no classes in the exit-code table"
    assert {name: getattr(errors, name).exit_code for name in documented} == documented
    # Every user-visible exception class in shiplane.errors is in the table.
    classes = {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.ShiplaneError) and obj.__module__ == errors.__name__
    }
    assert classes - {"InputErrors", "Retryable", "Conflict", "CorruptRecord"} <= set(documented)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_api_server_is_a_shown_bounded_wait_then_exit_3(tmp_path):
    port = closed_port()
    config = tmp_path / "kubeconfig"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "contexts": [{"name": "closed-ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "closed-ctx",
                "users": [{"name": "u", "user": {"token": "t"}}],
            }
        )
    )
    kube = Kube.connect(config)
    seen = []
    started = time.monotonic()
    with pytest.raises(errors.Unreachable) as failure:
        for event in kube.wait_reachable(timeout=2.0):
            seen.append(event)
    took = time.monotonic() - started
    assert 2.0 <= took < 6.0
    assert failure.value.exit_code == 3
    assert f"https://127.0.0.1:{port}" in failure.value.message and "closed-ctx" in failure.value.message
    assert seen and all(isinstance(e, Waiting) for e in seen)
    assert "not reachable, retrying" in seen[0].detail and "of 2 s" in seen[0].detail
    # A request made directly (no wait first) is retried for a bounded time, then the same exit 3.
    client.RETRY_FOR, saved = 1.0, client.RETRY_FOR
    try:
        with pytest.raises(errors.Unreachable) as direct:
            kube.server_version()
    finally:
        client.RETRY_FOR = saved
    assert direct.value.exit_code == 3 and "closed-ctx" in direct.value.message
