"""The one duration parser (`shiplane.durations`): the spec's rotation fields and `logs --since`."""

from __future__ import annotations

import pytest

from shiplane import durations
from shiplane.secrets import timing


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("2h", 7200), ("1h30m", 5400), ("30d", 2592000), ("1d12h", 129600), (" 45s ", 45)],
)
def test_durations_parse_to_seconds(text, seconds):
    assert durations.parse(text) == seconds
    assert timing.seconds(text.strip()) == seconds  # rotation arithmetic uses the same parser


@pytest.mark.parametrize("text", ["", " ", "5x", "m", "1.5h", "-3s", "5", "1h 30m", "PT5M", "5 minutes"])
def test_what_does_not_parse_names_what_was_expected_and_found(text):
    with pytest.raises(durations.DurationError) as err:
        durations.parse(text)
    assert err.value.expected == "expected a duration like 30s, 5m, 2h, 30d or combined like 1h30m"
    assert str(err.value) == f"{err.value.expected} (found {text!r})"


def test_zero_is_refused_only_where_asked():
    assert durations.parse("0s") == 0
    with pytest.raises(durations.DurationError, match=r"longer than zero \(found '0m'\)"):
        durations.parse("0m", positive=True)


def test_a_duration_past_a_century_is_refused_not_an_overflow():
    assert durations.parse("36500d") == durations.LIMIT
    with pytest.raises(durations.DurationError, match="at most 100 years"):
        durations.parse("99999999999999999999d")
