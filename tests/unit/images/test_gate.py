"""The image-audit gate deploy and promote run (actions.imageaudit) on real images and advisories:
off by default, refusing with PolicyRefused (exit 5) on findings at or above images.failOn, an
unreadable image never clean, exceptions and reasoned overrides let a deploy through, inventories
cached by digest. The deploy path itself is tested against the local cluster in
tests/integration/test_image_gate.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shiplane import events
from shiplane.actions.imageaudit import ImageGate, enforce
from shiplane.errors import InputError, PolicyRefused
from shiplane.images.database import Database, run_import

DATA = Path(__file__).parents[2] / "data"
FUTURE = (dt.date.today() + dt.timedelta(days=30)).isoformat()


@pytest.fixture(scope="module")
def db_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "advisories.db"
    run_import(Database(path), [DATA / "advisories"])
    return path


def _deployment(*images: str) -> list[dict]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": containers}}},
        }
    ]


def _run(objects, gate: ImageGate) -> tuple[dict, list[events.Event]]:
    seen: list[events.Event] = []
    return events.result(enforce(objects, gate), seen.append), seen


def test_the_gate_is_off_unless_the_stage_opts_in(real_image, db_file, tmp_path):
    summary, seen = _run(_deployment(str(real_image)), ImageGate(db=db_file, cache=tmp_path / "c"))
    assert summary == {} and seen == [] and not (tmp_path / "c").exists()


def test_findings_at_or_above_fail_on_refuse_with_exit_5(real_image, db_file, tmp_path):
    gate = ImageGate(fail_on="high", db=db_file, cache=tmp_path / "c")
    with pytest.raises(PolicyRefused) as err:
        _run(_deployment(str(real_image)), gate)
    assert err.value.exit_code == 5
    message = err.value.message
    assert "image audit refuses this deploy: 4 problem(s) at or above high" in message
    # Unscored advisories count as high (docs/images.md): an unscored advisory is not harmless.
    assert f"{real_image}: [unknown] GO-2021-0113 in golang.org/x/text v0.3.5 (fixed in 0.3.7)" in message
    assert f"{real_image}: [high] PYSEC-2023-192 in urllib3 1.24.1 (fixed in 1.26.17)" in message
    # critical: nothing in this image reaches it.
    summary, _ = _run(_deployment(str(real_image)), ImageGate(fail_on="critical", db=db_file, cache=tmp_path / "c"))
    (image,) = summary["images"]
    assert image["scanned"] and image["digest"].startswith("sha256:") and image["findings"] == {"high": 1, "unknown": 3}


def test_an_exceptions_file_and_reasoned_overrides_let_the_deploy_through(real_image, db_file, tmp_path):
    accepted = tmp_path / "exceptions.yaml"
    accepted.write_text(
        f"exceptions:\n- id: GO-2021-0113\n  package: golang.org/x/text\n  reason: tags are ours\n  expires: {FUTURE}\n"
    )
    gate = ImageGate(
        fail_on="high",
        db=db_file,
        cache=tmp_path / "c",
        exceptions=accepted,
        allow=(f"*:{real_image}=urllib3 is replaced next sprint",),
    )
    summary, _ = _run(_deployment(str(real_image)), gate)
    assert summary["images"][0]["excepted"] == [
        {"id": "GO-2021-0113", "package": "golang.org/x/text", "reason": "tags are ours"}
    ]
    assert summary["overrides"] == [
        {"rule": "images:*", "object": str(real_image), "reason": "urllib3 is replaced next sprint"}
    ]
    assert summary["failing"] == []


def test_an_image_that_cannot_be_read_is_never_clean(real_image, db_file, tmp_path):
    missing = str(tmp_path / "gone" / "image.tar")
    gate = ImageGate(fail_on="critical", db=db_file, cache=tmp_path / "c")
    with pytest.raises(PolicyRefused) as err:
        _run(_deployment(str(real_image), missing), gate)
    assert f"{missing}: not scanned: " in err.value.message
    summary, _ = _run(
        _deployment(str(real_image), missing),
        ImageGate(fail_on="critical", db=db_file, cache=tmp_path / "c", allow=("unreadable=built in the next step",)),
    )
    assert {"image": missing, "scanned": False} == {k: v for k, v in summary["images"][1].items() if k != "error"}
    assert summary["overrides"][0]["rule"] == "images:unreadable"


def test_inventories_are_cached_by_digest_and_matched_afresh(real_image, db_file, tmp_path):
    gate = ImageGate(fail_on="critical", db=db_file, cache=tmp_path / "cache")
    first, seen = _run(_deployment(str(real_image)), gate)
    assert any(isinstance(e, events.Progress) for e in seen)  # the layers were read
    (cached,) = (tmp_path / "cache").iterdir()
    assert cached.name == first["images"][0]["digest"].replace(":", "-") + ".json"
    second, seen = _run(_deployment(str(real_image)), gate)
    assert not any(isinstance(e, events.Progress) for e in seen)  # not read again
    assert any(isinstance(e, events.Note) and "from the cache" in e.message for e in seen)
    assert second["images"] == first["images"]


def test_an_override_without_a_reason_is_an_input_error(real_image, db_file, tmp_path):
    with pytest.raises(InputError, match="a reason is required"):
        _run(_deployment(str(real_image)), ImageGate(fail_on="high", db=db_file, allow=("GO-2021-0113=",)))


def test_a_dry_run_reads_the_cache_but_writes_nothing(real_image, db_file, tmp_path):
    gate = ImageGate(fail_on="critical", db=db_file, cache=tmp_path / "cache", write_cache=False)
    summary, _ = _run(_deployment(str(real_image)), gate)
    assert summary["images"][0]["scanned"] and not (tmp_path / "cache").exists()
