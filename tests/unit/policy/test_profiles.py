"""Profiles: Pod Security Standards levels, their versions, and per-stage strictness."""

from __future__ import annotations

import pytest

from shiplane.errors import InputError
from shiplane.policy import evaluate
from shiplane.policy.findings import Severity


def pod(**spec):
    container = {"name": "app", "image": "nginx:1.27", **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container], **spec}}


def rules(report):
    return {f.rule for f in report.findings}


def test_pss_baseline_reports_only_baseline_controls():
    report = evaluate([pod(hostNetwork=True)], profile="pss-baseline")
    assert rules(report) == {"host-network"}


def test_pss_restricted_adds_the_restricted_controls():
    report = evaluate([pod()], profile="pss-restricted")
    assert rules(report) == {
        "security-privilege-escalation",
        "security-run-as-non-root",
        "security-seccomp-missing",
        "security-capabilities-not-dropped",
    }
    assert {f.severity for f in report.findings} == {Severity.HIGH}


def test_restricted_hardening_is_advice_in_baseline_and_fails_in_restricted():
    hardening = "security-run-as-non-root"
    assert {f.severity for f in evaluate([pod()]).findings if f.rule == hardening} == {Severity.MEDIUM}
    assert {f.severity for f in evaluate([pod()], profile="restricted").findings if f.rule == hardening} == {
        Severity.HIGH
    }


def test_pss_version_pins_the_safe_sysctls():
    keepalive = pod(securityContext={"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "600"}]})
    assert "security-sysctls-unsafe" not in rules(evaluate([keepalive], profile="pss-baseline"))
    assert "security-sysctls-unsafe" in rules(evaluate([keepalive], profile="pss-baseline@1.28"))


def test_digest_pinning_only_in_restricted():
    assert "image-digest-missing" not in rules(evaluate([pod()]))
    assert "image-digest-missing" in rules(evaluate([pod()], profile="restricted"))


def test_lenient_drops_availability_and_hardening_but_keeps_security():
    single = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 1, "template": {"spec": pod(hostPID=True)["spec"]}},
    }
    found = rules(evaluate([single], profile="lenient"))
    assert "host-pid" in found and "resources-memory-limit" in found
    assert not found & {"availability-replicas", "network-policy-missing", "security-run-as-non-root"}


def test_unknown_profile_is_an_input_error():
    with pytest.raises(InputError, match="unknown profile 'strict'"):
        evaluate([pod()], profile="strict")
