"""One lock serialises every Go build shiplane starts: a second `cluster up` (or test run) on a cold
machine waits for the first one's build instead of racing it on the same output file."""

from __future__ import annotations

import pytest

from shiplane.events import Note
from shiplane.localcluster import binaries


def test_a_second_build_waits_while_the_lock_is_held(tmp_path, monkeypatch):
    monkeypatch.setattr(binaries, "cache_root", lambda: tmp_path)

    class Waited(Exception):
        pass

    def no_sleep(_seconds):
        raise Waited

    monkeypatch.setattr(binaries.time, "sleep", no_sleep)
    monkeypatch.setattr(binaries, "_go", lambda: "go")
    with binaries.build_lock() as held:
        assert held
        with binaries.build_lock() as other:
            assert other is False  # another process (or open) holding it: not ours
        stream = binaries.build()
        first = next(stream)
        assert isinstance(first, Note) and "another shiplane Go build is running" in first.message
        with pytest.raises(Waited):
            next(stream)
    with binaries.build_lock() as again:
        assert again  # released
