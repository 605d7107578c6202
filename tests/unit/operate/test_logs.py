"""Pure parts of `logs`: a timestamped line split, and --since durations."""

from __future__ import annotations

import click
import pytest

from shiplane.actions.logs import LogLine, split
from shiplane.cli.live import duration


def test_split_keeps_the_time_and_the_text():
    assert split("2026-11-29T23:00:00.123456789Z GET / 200") == ("2026-11-29T23:00:00.123456789Z", "GET / 200")
    assert split("no timestamp here") == (None, "no timestamp here")
    assert split("") == (None, "")


def test_prefix_names_the_container_only_for_several():
    assert LogLine("web-1", "web", None, "x").prefix == "web-1"
    assert LogLine("web-1", "sidecar", None, "x", containers=2).prefix == "web-1/sidecar"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), ("1h30m", 5400)])
def test_durations(text, seconds):
    assert duration(None, None, text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m", "1.5h", "-3s"])
def test_bad_durations_are_input_errors(text):
    with pytest.raises(click.BadParameter, match="expected a duration"):
        duration(None, None, text)
