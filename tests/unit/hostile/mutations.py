"""Breaking a plausible input: hostile values, field mutations, and YAML broken at the text level
(anchors, merge keys, duplicate keys, deep nesting, truncation, non-UTF-8 bytes, a BOM, tabs)."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

# Values a field should never see.
odd_unicode = st.sampled_from(
    [
        "web\u200b",  # zero-width space
        "\u202eevil",  # right-to-left override
        "\uff57\uff45\uff42",  # fullwidth "web"
        "İstanbul",  # lower() changes the length
        "ß",
        "e\u0301",  # combining accent
        "😀",
        "\ufeffbom",
        "a\tb",
        "line\nbreak",
        "\x7f",
        "",
        " ",
        "-",
        ".",
        "..",
        "../../etc",
        "a/b",
        "null",
        "~",
        "0o777",
        "1e400",
        "${UNSET}",
        "$$",
        "${X:?boom}",
        "*",
    ]
)
huge = st.sampled_from([2**31, 2**63, 10**30, -(2**63), 1e308, float("inf"), float("-inf"), float("nan"), -1, 0])
long_text = st.integers(min_value=256, max_value=20_000).map(lambda n: "x" * n)
hostile_scalar = st.one_of(
    odd_unicode,
    huge,
    long_text,
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=True),
)
hostile_value = st.one_of(
    hostile_scalar,
    st.lists(hostile_scalar, max_size=3),
    st.dictionaries(st.text(max_size=6), hostile_scalar, max_size=3),
    st.just([]),
    st.just({}),
)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple) -> Any:
    if not path:
        return doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return doc


@st.composite
def mutated(draw, doc: Any, max_mutations: int = 3, protect=lambda doc, path: False) -> Any:
    """The document with a few fields replaced by hostile values or removed. `protect(doc, path)` keeps
    fields whose change would make a planted secret legitimately public (a Secret's kind, an env name)."""
    for _ in range(draw(st.integers(0, max_mutations))):
        paths = [p for p in _paths(doc) if not protect(doc, p)]
        path = draw(st.sampled_from(paths))
        doc = _delete(doc, path) if path and draw(st.booleans()) else _set(doc, path, draw(hostile_value))
    return doc


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000)


@st.composite
def yaml_text(draw, doc: Any) -> bytes:
    """YAML for `doc`, then broken at the text level now and then."""
    text = _dump(doc)
    how = draw(
        st.sampled_from(
            ["plain"] * 6 + ["anchors", "duplicate-key", "deep", "truncate", "non-utf8", "bom", "tabs", "merge-key"]
        )
    )
    if how == "anchors":
        width = draw(st.integers(2, 6))
        depth = draw(st.integers(1, 4))  # at most 6**4 = 1296 leaves: a small laugh, not a bomb
        lines = [f"x-l0: &l0 [{', '.join(['lol'] * width)}]"]
        for i in range(1, depth + 1):
            lines.append(f"x-l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
        text = "\n".join(lines) + "\n" + text
        if draw(st.booleans()) and isinstance(doc, dict) and doc:
            key = draw(st.sampled_from(list(doc)))
            text += f"{_dump({str(key): None}).split(':')[0]}: *l{depth}\n"
    elif how == "duplicate-key" and isinstance(doc, dict) and doc:
        key = draw(st.sampled_from(list(doc)))
        text += _dump({key: draw(hostile_value)})
    elif how == "deep":
        depth = draw(st.integers(20, 3000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
        text += f"x-deep: {opener * depth}1{closer * depth}\n"
    elif how == "truncate" and text:
        text = text[: draw(st.integers(0, len(text)))]
    elif how == "tabs":
        text = text.replace("  ", "\t", 1)
    elif how == "merge-key":
        text = "x-base: &base {image: nginx:1.27}\n" + text + "x-merged: {<<: *base, <<: [*base, 5]}\n"
    data = text.encode("utf-8")
    if how == "non-utf8":
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x00"])) + data[pos:]
    elif how == "bom":
        data = b"\xef\xbb\xbf" + data
    return data
