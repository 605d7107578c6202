"""Open an image from a local path: recognise the layout, then read and verify every layer once."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shiplane import events
from shiplane.images import layout
from shiplane.images.errors import ImageError
from shiplane.images.filesystem import Builder, FileSystem, Inspect, LayerInfo, Limits, Wanted, from_directory


@dataclass
class Image:
    source: layout.ImageSource
    fs: FileSystem

    @property
    def label(self) -> str:
        return self.source.label

    def close(self) -> None:
        if self.source.store is not None:
            self.source.store.close()


def _nothing(path: str, size: int) -> bool:
    return False


def read(
    path: str | Path,
    *,
    limits: Limits | None = None,
    wanted: Wanted = _nothing,
    platform: str | None = None,
    source: layout.ImageSource | None = None,
    insecure: frozenset[str] = frozenset(),
    inspect: Inspect | None = None,
) -> Generator[events.Event, None, Image]:
    """Event stream (one Progress per layer) returning the Image; ImageError on bad or hostile input.

    `source` is what `layout.find(path)` returned, when the caller already looked (to check a cache)."""
    limits = limits or Limits()
    source = source or layout.find(path, platform, insecure)
    if source.kind == "rootfs":
        assert source.root is not None
        yield events.Step(f"index root filesystem {source.label}")
        fs = from_directory(source.root, limits, wanted)
        for entry in fs.files():
            if entry.size <= limits.max_file and wanted(entry.path, entry.size):
                try:
                    fs.cache[entry.path] = fs._read_disk(entry)
                except ImageError:
                    continue  # unreadable here; reading it later reports why
        yield events.Step(f"index root filesystem {source.label}", done=True)
        return Image(source, fs)
    store = source.store
    assert store is not None
    try:
        builder = Builder(source.label, limits, wanted, inspect) if inspect else Builder(source.label, limits, wanted)
        total = len(source.layers)
        for ref in source.layers:
            yield events.Progress("read layers", ref.index, total, item=ref.digest or ref.path, unit="layers")
            what = f"{source.label}: layer {ref.index} ({ref.path})"
            with store.open(ref.path) as blob, _members(blob, what, ref, limits, verify=True) as stream:
                builder.apply(LayerInfo(ref.index, ref.digest, ref.diff_id), stream)
        yield events.Progress("read layers", total, total, unit="layers")
    except BaseException:
        store.close()
        raise

    def reopen(index: int) -> Iterator:
        ref = source.layers[index]
        return _reopen(store, f"{source.label}: layer {index} ({ref.path})", ref, limits)

    fs = FileSystem(
        source.label,
        builder.entries,
        limits,
        builder.layers,
        reopen,
        cache=builder.cache,
        wasted=builder.wasted,
        inspected=builder.inspected,
    )
    return Image(source, fs)


def _members(blob, what: str, ref: layout.LayerRef, limits: Limits, verify: bool):
    from shiplane.images.layers import members

    return members(
        blob,
        what,
        digest=ref.digest,
        diff_id=ref.diff_id,
        max_layer=limits.max_layer,
        max_ratio=limits.max_ratio,
        verify=verify,
    )


@contextmanager
def _reopen(store: layout.Store, what: str, ref: layout.LayerRef, limits: Limits) -> Iterator:
    with store.open(ref.path) as blob, _members(blob, what, ref, limits, verify=False) as stream:
        yield stream


def open_image(
    path: str | Path,
    *,
    limits: Limits | None = None,
    wanted: Wanted = _nothing,
    platform: str | None = None,
    on_event: Callable[[events.Event], None] | None = None,
    insecure: frozenset[str] = frozenset(),
    inspect: Inspect | None = None,
) -> Image:
    return events.result(
        read(path, limits=limits, wanted=wanted, platform=platform, insecure=insecure, inspect=inspect), on_event
    )
