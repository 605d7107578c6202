"""`check -o json` writes exactly what `json.dumps(doc, indent=2)` would (its faster emitter is only faster)."""

from __future__ import annotations

import json
from enum import StrEnum

from hypothesis import given, settings
from hypothesis import strategies as st

from shiplane.policy.formats import dumps_indented


class Level(StrEnum):
    LOW = "low"


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.just(Level.LOW)
keys = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False) | st.just(Level.LOW)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=30,
)


@given(values)
@settings(max_examples=400, deadline=None)
def test_byte_for_byte_what_json_dumps_with_indent_2_writes(value):
    assert dumps_indented(value) == json.dumps(value, indent=2)


def test_non_ascii_and_control_characters_are_escaped_as_json_does():
    value = {"é": ['ü\n\t"\\', "\u2028", "😀"], "": {}, "x": []}
    assert dumps_indented(value) == json.dumps(value, indent=2)
