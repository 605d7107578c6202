"""The one YAML loader: alias bombs, recursion, depth and size fail fast with file:line:col;
ordinary anchors and every caller's line numbers still work."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from shiplane.errors import InputError, InputErrors
from shiplane.fileio import yamlload
from shiplane.importing import yamlfile
from shiplane.policy import manifests
from shiplane.spec import marks

RECURSIVE = "x: &a [*a]\n"
# Under 1 KB: 9 levels of 9 aliases each, 9**9 (387 million) strings if built.
LAUGHS = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
MERGE_LOOP = "a: &a {<<: *a}\n"


def _fails_fast(fn) -> str:
    start = time.monotonic()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError) as err:
        fn()
    assert time.monotonic() - start < 10  # unbounded, these ran for minutes; bounded, well under a second
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 100_000  # KiB: under 100 MB more
    return err.value.message


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (RECURSIVE, "f.yaml:1:4: an alias refers to the anchor that contains it"),
        (LAUGHS, "aliases expand this document"),
    ],
)
def test_every_loader_refuses_alias_bombs(text: str, expect: str) -> None:
    assert len(LAUGHS) < 1024
    assert expect in _fails_fast(lambda: yamlload.load(text, "f.yaml"))
    assert expect in _fails_fast(lambda: marks.single(text, "f.yaml"))  # spec loader, compose importer
    assert expect in _fails_fast(lambda: list(marks.documents(text, "f.yaml")))  # import manifests
    assert expect in _fails_fast(lambda: manifests.parse(text, "f.yaml"))  # check


def test_a_mapping_merging_itself_ends() -> None:
    assert "refers to the anchor" in _fails_fast(lambda: yamlload.load(MERGE_LOOP, "f.yaml"))
    assert marks.single(MERGE_LOOP, "f.yaml")[0] == {"a": {}}  # PyYAML drops the merge key before following it


def test_alias_bomb_in_a_later_document_of_a_stream_names_its_line() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" + RECURSIVE
    with pytest.raises(InputErrors) as err:
        manifests.parse(text, "m.yaml")
    assert err.value.problems == [
        "m.yaml:5:4: an alias refers to the anchor that contains it (a recursive structure, which shiplane "
        "does not accept)"
    ]


def test_ordinary_anchors_and_merge_keys_still_load_with_their_lines() -> None:
    text = "x-base: &base\n  image: nginx\n  restart: always\nservices:\n  web:\n    <<: *base\n    ports: [80]\n"
    data, where = marks.single(text, "compose.yaml")
    assert data["services"]["web"] == {"image": "nginx", "restart": "always", "ports": [80]}
    assert str(where[("services", "web", "ports")]) == "compose.yaml:7:5"


def test_many_legitimate_aliases_fit_the_budget() -> None:
    base = "base: &b {" + ", ".join(f"k{i}: v" for i in range(50)) + "}\n"
    text = base + "".join(f"s{i}: *b\n" for i in range(500))  # 50,500 nodes (keys and values) added by aliases
    assert len(yamlload.load(text, "f.yaml")) == 501


def test_depth_limit_with_and_without_aliases() -> None:
    deep = "[" * (yamlload.MAX_DEPTH + 5) + "]" * (yamlload.MAX_DEPTH + 5)
    assert "nested deeper than 200 levels" in _fails_fast(lambda: marks.single(deep, "d.yaml"))
    assert "nested deeper than 200 levels" in _fails_fast(lambda: manifests.parse(deep, "d.yaml"))
    assert "nesting depth" in _fails_fast(lambda: marks.single("[" * 5000, "d.yaml"))  # libyaml's own limit
    chain = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 250))
    assert "nested deeper than 200 levels" in _fails_fast(lambda: yamlload.load(chain, "d.yaml"))


def test_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlload, "MAX_BYTES", 100)
    with pytest.raises(InputError, match=r"big.yaml: larger than the 100 bytes limit"):
        yamlload.load("a: " + "x" * 200, "big.yaml")


def test_control_characters_are_located() -> None:
    with pytest.raises(InputError, match=r"^c.yaml:2:4: invalid YAML: control characters are not allowed"):
        marks.single("a: 1\nb: \x01\n", "c.yaml")


def test_spec_file_that_is_not_utf8_names_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "shiplane.yaml"
    path.write_bytes(b"app:\n  name: caf\xe9\n")
    with pytest.raises(InputError) as err:
        marks.read_text(path, "shiplane.yaml")
    assert err.value.message == "shiplane.yaml:2:12: not UTF-8 text (byte 0xe9 at offset 16)"
    path.write_bytes("app: x\n".encode("utf-16"))
    with pytest.raises(InputError, match="is UTF-16 text"):
        marks.read_text(path, "shiplane.yaml")


def test_complex_keys_are_refused_without_being_built() -> None:
    deep_key = "? " + "[" * 990 + "]" * 990 + "\n: x\n"
    alias_key = "a: &a [1, [2]]\n? *a\n: x\n"
    for text in (deep_key, alias_key):
        with pytest.raises(InputError, match="keys must be plain scalars"):
            marks.single(text, "k.yaml")
        with pytest.raises(InputError, match="keys must be plain scalars"):
            yamlfile.parse(text, "k.yaml")
