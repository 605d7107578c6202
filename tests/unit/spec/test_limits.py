"""The API server's limits as pure checks: cron grammar, CIDRs, capabilities, names, sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane.cli import main
from shiplane.spec import limits

GOOD_CRON = [
    "0 3 * * *",
    "*/15 9-17 1,15 jan-jun,DEC ?",
    "5/10 * * * *",
    "0 0 1-31/2 * MON-FRI",
    "0 0 * * 0",
    "59 23 31 12 6",
    "@daily",
    "@midnight",
    "@every 1h30m",
    "@every 0",
    "1,,2 * * * *",  # the API server's parser skips empty list items
]
BAD_CRON = {
    "every day at 3": "expected 5 fields",
    "0 3 * * * *": "expected 5 fields",
    "": "expected 5 fields",
    "60 * * * *": "minute: 60 is above 59",
    "0 24 * * *": "hour: 24 is above 23",
    "0 0 0 * *": "day of month: 0 is below 1",
    "0 0 * 13 *": "month: 13 is above 12",
    "0 0 * * 7": "day of week: 7 is above 6",
    "*/0 * * * *": "must be a positive number",
    "5-1 * * * *": "starts after it ends",
    "1-2-3 * * * *": "too many '-'",
    "1/2/3 * * * *": "too many '/'",
    "0 0 * foo *": "'foo' is not a number or a name",
    "0 0 L * *": "'L' is not a number",
    "0 0 * * 1#2": "is not a number",
    "@fortnightly": "unknown macro",
    "@every often": "unknown macro",
    "TZ=UTC 0 3 * * *": "time zone",
}


@pytest.mark.parametrize("schedule", GOOD_CRON)
def test_cron_accepts(schedule: str) -> None:
    assert limits.cron(schedule) is None


@pytest.mark.parametrize(("schedule", "why"), BAD_CRON.items())
def test_cron_refuses(schedule: str, why: str) -> None:
    problem = limits.cron(schedule)
    assert problem is not None and why in problem


@pytest.mark.parametrize("value", ["10.0.0.0/8", "2001:db8::/32", "10.0.0.1/24", "0.0.0.0/0"])
def test_cidr_accepts(value: str) -> None:
    assert limits.cidr(value) is None


@pytest.mark.parametrize("value", ["10.0.0.300/8", "10.0.0.0", "db/8", "10.0.0.0/33", "", "010.0.0.0/8"])
def test_cidr_refuses(value: str) -> None:
    assert limits.cidr(value) is not None


def test_capabilities() -> None:
    assert limits.capability("NET_ADMIN") is None
    assert limits.capability("cap_sys_time") is None
    assert limits.capability("ALL") is None
    assert limits.capability("NET_ADMINN") is not None
    assert limits.capability("") is not None


def test_names() -> None:
    assert limits.dns_label("a" * 63) is None
    assert "at most 63" in (limits.dns_label("a" * 64) or "")
    assert limits.dns_label("Bad_NS") is not None
    assert limits.dns_subdomain("kata.example.com") is None
    assert limits.dns_subdomain("Kata") is not None
    assert limits.dns_subdomain(".".join(["a" * 60] * 5)) is not None  # 304 characters
    assert limits.qualified_name("example.com/x") is None
    assert limits.qualified_name("bad key") is not None
    assert limits.qualified_name("/x") is not None
    assert "at most 63" in (limits.qualified_name("a" * 64) or "")


def test_annotation_size_counts_keys_and_values() -> None:
    at_limit = {"a": "x" * (limits.MAX_ANNOTATION_BYTES - 1)}
    assert limits.annotations(at_limit) is None
    over = {"ab": "x" * (limits.MAX_ANNOTATION_BYTES - 1)}
    assert "256 KiB per object" in (limits.annotations(over) or "")


SPEC = """\
app: {{name: big}}
defaults:
  resources:
    limits: {{cpu: 100m, memory: 64Mi}}
services:
  web:
    image: ghcr.io/acme/web:1.0
    annotations: {{example.com/notes: {notes}}}
stages:
  dev: {{namespace: big-dev}}
"""


def test_oversized_annotations_refused_at_spec_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("shiplane.yaml").write_text(SPEC.format(notes="n" * 300_000))
    assert main(["render", "-s", "dev"]) == 2
    err = capsys.readouterr().err
    assert "shiplane.yaml:8:5: services.web.annotations: annotations total 292.99 KiB; Kubernetes allows 256 KiB" in err
    assert "nnnnnnnn" not in err
