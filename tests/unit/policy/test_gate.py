"""The gate API the deploy engine calls: pure evaluate over dicts, thresholds, recorded overrides."""

from __future__ import annotations

import pytest

from shiplane.errors import InputError
from shiplane.policy import ObjectRef, Override, Severity, evaluate


def deployment(name: str, image: str = "shop/web:1.0", annotations: dict | None = None) -> dict:
    meta = {"name": name, "namespace": "shop", **({"annotations": annotations} if annotations else {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}},
    }


def test_failing_lists_findings_at_or_above_the_threshold():
    report = evaluate([deployment("web", image="shop/web")])
    high = report.failing("high")
    assert {f.rule for f in high} == {"image-tag-missing", "resources-memory-limit"}
    assert all(f.severity >= Severity.HIGH for f in high)
    assert len(report.failing(Severity.LOW)) > len(high)
    assert report.failing("critical") == []


def test_overrides_accept_findings_with_their_reason_and_are_reported():
    override = Override(
        "image-tag-missing", "hotfix image, tagged after the incident", ObjectRef("Deployment", "web", "shop")
    )
    report = evaluate([deployment("web", image="shop/web"), deployment("api", image="shop/api")], overrides=[override])
    remaining = [(f.rule, f.object.name) for f in report.failing("high") if f.rule == "image-tag-missing"]
    assert remaining == [("image-tag-missing", "api")]
    [s] = report.suppressed
    assert (s.finding.object.name, s.reason, s.source) == ("web", "hotfix image, tagged after the incident", "override")


def test_override_needs_a_reason():
    with pytest.raises(InputError, match="needs a reason"):
        Override("image-tag-missing", "  ")


def test_annotation_suppresses_with_reason_and_a_missing_reason_is_a_finding():
    ok = deployment("web", annotations={"check.shiplane.io/ignore": "availability-replicas: leader-elected singleton"})
    bare = deployment("api", annotations={"check.shiplane.io/ignore": "availability-replicas"})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "all", "namespace": "shop"}}
    service["spec"] = {"selector": {"app": "x"}}
    for d in (ok, bare):
        d["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    report = evaluate([ok, bare, service])
    replicas = [f.object.name for f in report.findings if f.rule == "availability-replicas"]
    assert replicas == ["api"]  # no reason: not suppressed
    assert [(s.finding.object.name, s.reason) for s in report.suppressed] == [("web", "leader-elected singleton")]
    [missing] = [f for f in report.findings if f.rule == "suppression-reason-missing"]
    assert missing.object.name == "api" and missing.path == 'metadata.annotations["check.shiplane.io/ignore"]'


def test_removed_api_depends_on_the_target_version():
    cron = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {}}
    assert [f.rule for f in evaluate([cron], kubernetes_version="1.24").findings if f.rule.startswith("api-")] == [
        "api-deprecated"
    ]
    assert [f.rule for f in evaluate([cron], kubernetes_version="1.25").findings if f.rule.startswith("api-")] == [
        "api-removed"
    ]
