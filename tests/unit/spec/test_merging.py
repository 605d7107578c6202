"""Properties of the overlay merge (RFC 7386 merge patch) that stage overrides rely on."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shiplane.spec.merging import merge_patch

# The machine is shared with long builds: judge properties, not generation speed.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

keys = st.sampled_from(["a", "b", "c", "replicas", "env", "image"])
scalars = st.one_of(st.integers(), st.text(max_size=5), st.booleans())
# Documents never hold nulls (merge patch uses null to mean "delete").
docs = st.recursive(
    scalars | st.lists(scalars, max_size=3), lambda c: st.dictionaries(keys, c, max_size=4), max_leaves=8
)
patches = st.recursive(
    scalars | st.none() | st.lists(scalars, max_size=3), lambda c: st.dictionaries(keys, c, max_size=4), max_leaves=8
)
doc_maps = st.dictionaries(keys, docs, max_size=4)
patch_maps = st.dictionaries(keys, patches, max_size=4)


@relaxed
@given(doc_maps)
def test_empty_patch_is_identity(doc: dict) -> None:
    assert merge_patch(doc, {}) == doc


@relaxed
@given(doc_maps, patch_maps)
def test_applying_an_overlay_twice_changes_nothing(doc: dict, patch: dict) -> None:
    once = merge_patch(doc, patch)
    assert merge_patch(once, patch) == once


@relaxed
@given(doc_maps, patch_maps)
def test_inputs_are_never_mutated(doc: dict, patch: dict) -> None:
    before_doc, before_patch = copy.deepcopy(doc), copy.deepcopy(patch)
    merge_patch(doc, patch)
    assert doc == before_doc and patch == before_patch


def _leaves(d: dict, path: tuple = ()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, (*path, k))
        else:
            yield (*path, k), v


def _get(d, path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return KeyError
        d = d[p]
    return d


@relaxed
@given(doc_maps, patch_maps)
def test_overlay_wins_and_null_deletes(doc: dict, patch: dict) -> None:
    merged = merge_patch(doc, patch)
    for path, value in _leaves(patch):
        if value is None:
            assert _get(merged, path) is KeyError
        else:
            assert _get(merged, path) == value


@relaxed
@given(doc_maps, patch_maps)
def test_what_the_overlay_does_not_mention_is_kept(doc: dict, patch: dict) -> None:
    merged = merge_patch(doc, patch)
    for key, value in doc.items():
        if key not in patch:
            assert merged[key] == value


@relaxed
@given(doc_maps, patch_maps, patch_maps)
def test_later_overlays_take_precedence(doc: dict, first: dict, second: dict) -> None:
    merged = merge_patch(merge_patch(doc, first), second)
    for path, value in _leaves(second):
        if value is not None:
            assert _get(merged, path) == value
