"""The YAML writer: whatever we render must read back as exactly the same data."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shiplane.rendering.exporting import to_stream, to_yaml

tricky = st.sampled_from(
    [
        "true",
        "no",
        "on",
        "null",
        "~",
        "1.0",
        "0x1F",
        "1e3",
        "2026-01-01",
        "-",
        "- a",
        "a: b",
        "#x",
        "'q'",
        '"q"',
        "",
        " lead",
        "trail ",
        "a\nb",
        "*ref",
        "&a",
        "!tag",
        "@at",
        "%p",
        "{x}",
        "[y]",
        "1:20",
        ".inf",
        "é",
        "\t",
        "=",
        "0.0.0.0:8080",
        "app.kubernetes.io/name",
        "/etc/x.conf",
        "-b",
    ]
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12), tricky)
data = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8) | tricky, c, max_size=4),
    max_leaves=20,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=8) | tricky, data, max_size=5))
def test_round_trips_through_a_yaml_parser(obj: dict) -> None:
    assert yaml.safe_load(to_yaml(obj)) == obj


def test_stream_reads_back_as_documents() -> None:
    objs = [{"kind": "A", "spec": {"ports": [{"name": "http", "port": 80}], "empty": {}}}, {"kind": "B", "x": []}]
    assert list(yaml.safe_load_all(to_stream(objs))) == objs


def test_plain_strings_stay_plain_and_ambiguous_ones_are_quoted() -> None:
    text = to_yaml({"name": "web", "replicas": "3", "enabled": "true", "cmd": ["-b", "0.0.0.0:8080"]})
    assert "name: web\n" in text
    assert 'replicas: "3"\n' in text and 'enabled: "true"\n' in text
    assert "- -b\n" in text and "- 0.0.0.0:8080" in text and to_yaml({"a": "x:"}) == 'a: "x:"\n'
