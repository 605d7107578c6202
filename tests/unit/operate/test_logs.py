"""Pure parts of `logs`: a timestamped line split, and --since durations."""

from __future__ import annotations

import click
import pytest

from shiplane.actions.logs import LogLine, fresh, split
from shiplane.cli.live import duration


def test_split_keeps_the_time_and_the_text():
    assert split("2026-11-29T23:00:00.123456789Z GET / 200") == ("2026-11-29T23:00:00.123456789Z", "GET / 200")
    assert split("no timestamp here") == (None, "no timestamp here")
    assert split("") == (None, "")


def test_prefix_names_the_container_only_for_several():
    assert LogLine("web-1", "web", None, "x").prefix == "web-1"
    assert LogLine("web-1", "sidecar", None, "x", containers=2).prefix == "web-1/sidecar"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), ("1h30m", 5400), ("1d", 86400)])
def test_durations(text, seconds):
    assert duration(None, None, text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m", "1.5h", "-3s"])
def test_bad_durations_are_input_errors(text):
    with pytest.raises(click.BadParameter, match="expected a duration") as err:
        duration(None, None, text)
    assert f"(found {text!r})" in str(err.value)


@pytest.mark.parametrize("text", ["0s", "0m", "0h0s"])
def test_since_zero_is_refused_not_no_limit(text):
    # 0 used to be sent as no sinceSeconds at all: `--since 0s` showed every line
    with pytest.raises(click.BadParameter, match="longer than zero"):
        duration(None, None, text)


def test_a_reopened_stream_repeats_nothing():
    t1, t2 = "2026-11-29T23:00:01.000000000Z", "2026-11-29T23:00:02.000000000Z"
    shown = (None, frozenset())
    shown = fresh(shown, LogLine("p", "c", t1, "a"))
    shown = fresh(shown, LogLine("p", "c", t2, "b"))
    # re-opened from t2: the server sends t2's line again, then the new container's lines
    assert fresh(shown, LogLine("p", "c", t1, "a")) is None
    assert fresh(shown, LogLine("p", "c", t2, "b")) is None
    same_second = fresh(shown, LogLine("p", "c", t2, "b2"))
    assert same_second == (t2, frozenset({"b", "b2"}))
    assert fresh(same_second, LogLine("p", "c", "2026-11-29T23:00:03.000000000Z", "c")) is not None
    assert fresh(shown, LogLine("p", "c", None, "untimed")) == shown  # shown, changes nothing
