"""What units share and where they differ: the decisions every export is built from."""

from __future__ import annotations

from shiplane.exporting.merge import MISSING, Map, Same, Seq, Varies, merge, varying


def test_equal_everywhere_is_one_shared_value() -> None:
    assert merge([{"a": [1, {"b": "x"}]}, {"a": [1, {"b": "x"}]}]) == Same({"a": [1, {"b": "x"}]})


def test_types_count_as_yaml_reads_them() -> None:
    """1, 1.0, True and "1" are different values in an object; a template must not merge them."""
    for a, b in [(1, True), (1, 1.0), (1, "1"), (0, False), (None, "")]:
        assert merge([a, b]) == Varies((a, b))


def test_maps_merge_per_key_and_missing_keys_are_marked() -> None:
    node = merge([{"spec": {"replicas": 2, "x": 1}}, {"spec": {"x": 1}}, {"spec": {"replicas": 3, "x": 1}}])
    assert node == Map({"spec": Map({"replicas": Varies((2, MISSING, 3)), "x": Same(1)})})
    assert varying(node) == [(("spec", "replicas"), Varies((2, MISSING, 3)))]
    assert varying(node)[0][1].optional


def test_lists_merge_by_position_only_when_lengths_agree() -> None:
    same_len = merge([[{"name": "a", "image": "1"}], [{"name": "a", "image": "2"}]])
    assert same_len == Seq([Map({"name": Same("a"), "image": Varies(("1", "2"))})])
    assert varying(same_len) == [((0, "image"), Varies(("1", "2")))]
    # One more env variable: the whole list differs (positions would pair unrelated items).
    assert merge([["A"], ["A", "B"]]) == Varies((["A"], ["A", "B"]))
