"""A layer blob as a verified stream of tar members: compression sniffed, digests and caps checked.

Layers are read as streams (never seeked, never written to disk). The compressed bytes are hashed
for the manifest's digest, the decompressed bytes for the config's `diff_id`, and both are counted
so a decompression bomb stops at the cap instead of filling memory.
"""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from isal import igzip, isal_zlib

from shiplane.images.errors import ImageError

# ISA-L's gzip reader (python-isal): the same stream semantics as the standard library's, ~2.5x less
# CPU on the largest cost of reading an image. Its own error class joins zlib's where those are caught.
DECOMPRESS_ERRORS = (zlib.error, isal_zlib.error)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _Meter:
    """A forward-only reader that hashes and counts what passes and enforces caps."""

    def __init__(
        self,
        raw: IO[bytes],
        what: str,
        limit: int | None = None,
        *,
        source: _Meter | None = None,
        ratio: int | None = None,
        ratio_floor: int = 0,
    ) -> None:
        self.raw = raw
        self.what = what
        self.limit = limit
        self.source = source
        self.ratio = ratio
        self.ratio_floor = ratio_floor
        self.count = 0
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        self.sha.update(data)
        if self.limit is not None and self.count > self.limit:
            raise ImageError(
                f"{self.what}: more than {self.limit} bytes uncompressed (the per-layer cap); "
                "a decompression bomb or an image too large to audit"
            )
        if (
            self.ratio
            and self.source is not None
            and self.count > self.ratio_floor
            and self.count > self.ratio * max(self.source.count, 1)
        ):
            raise ImageError(
                f"{self.what}: expands more than {self.ratio}x ({self.source.count} compressed bytes "
                f"gave {self.count}); refusing a likely decompression bomb"
            )
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


class _Sniffed:
    """Puts the sniffed magic bytes back in front of the stream."""

    def __init__(self, head: bytes, rest: _Meter) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.rest.read(n - len(data))
            return data
        return self.rest.read(n)

    def readinto(self, buffer) -> int:  # python-isal's gzip reader fills buffers
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _Zstd:
    """zstd frames decompressed one after the other; input ending inside a frame is an EOFError
    (zstandard's own stream reader just stops, which would pass for a short tar). Input is fed 1 KiB
    at a time, so one call can expand to at most ~32 MiB (RLE blocks) before the caps see it."""

    CHUNK = 1024

    def __init__(self, source: _Sniffed) -> None:
        import zstandard

        self.error = zstandard.ZstdError
        self.new = zstandard.ZstdDecompressor().decompressobj
        self.source = source
        self.dobj = self.new()
        self.buffer = b""
        self.pos = 0
        self.done = False

    def _fill(self) -> None:
        chunk = self.source.read(self.CHUNK)
        if not chunk:
            if not self.dobj.eof:
                raise EOFError("zstd stream ended before the end of its frame")
            self.done = True
            return
        out = []
        try:
            while chunk:
                if self.dobj.eof:  # the next frame
                    self.dobj = self.new()
                out.append(self.dobj.decompress(chunk))
                chunk = self.dobj.unused_data if self.dobj.eof else b""
        except self.error as err:
            raise ValueError(f"corrupt zstd data: {err}") from None
        self.buffer = self.buffer[self.pos :] + b"".join(out)
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        while not self.done and (n < 0 or len(self.buffer) - self.pos < n):
            self._fill()
        end = len(self.buffer) if n < 0 else self.pos + n
        data = self.buffer[self.pos : end]
        self.pos += len(data)
        return data

    def readable(self) -> bool:
        return True


def compression(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


@contextmanager
def members(
    blob: IO[bytes],
    what: str,
    *,
    digest: str | None,
    diff_id: str | None,
    max_layer: int,
    max_ratio: int,
    verify: bool = True,
) -> Iterator[Iterator[tuple[int, tarfile.TarInfo, tarfile.TarFile]]]:
    """Yields an iterator of (ordinal, member, tarfile); on a clean exit checks both digests."""
    compressed = _Meter(blob, what)
    head = compressed.read(4)
    kind = compression(head)
    source = _Sniffed(head, compressed)
    if kind == "gzip":
        inner: IO[bytes] = igzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[arg-type]
    elif kind == "zstd":
        inner = _Zstd(source)  # type: ignore[assignment]
    else:
        inner = source  # type: ignore[assignment]
    plain = _Meter(
        inner, what, max_layer, source=compressed if kind != "none" else None, ratio=max_ratio, ratio_floor=64 << 20
    )
    try:
        tf = tarfile.open(fileobj=plain, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115 - closed below
    except (tarfile.TarError, EOFError, OSError, *DECOMPRESS_ERRORS) as err:
        raise _broken(what, kind, err) from None
    state = {"last_end": 0}

    def walk() -> Iterator[tuple[int, tarfile.TarInfo, tarfile.TarFile]]:
        try:
            for ordinal, member in enumerate(tf):
                state["last_end"] = member.offset_data + (member.size if member.isreg() else 0)
                yield ordinal, member, tf
                # A streamed TarFile keeps every TarInfo it has read; iteration does not need them.
                tf.members.clear()
        except ImageError:
            raise
        except (tarfile.TarError, EOFError, OSError, ValueError, *DECOMPRESS_ERRORS) as err:
            raise _broken(what, kind, err) from None

    try:
        yield walk()
        if not verify:
            return
        try:
            plain.drain()
            compressed.drain()
        except (EOFError, OSError, *DECOMPRESS_ERRORS) as err:
            raise _broken(what, kind, err) from None
        # tarfile treats a short read while skipping member data as the end of the archive.
        if plain.count < state["last_end"]:
            raise ImageError(
                f"{what}: truncated: the tar ends at byte {plain.count} inside a member that ends at "
                f"{state['last_end']}"
            )
        if digest is not None and compressed.digest() != digest:
            raise ImageError(f"{what}: blob does not match its digest: expected {digest}, found {compressed.digest()}")
        if diff_id is not None and plain.digest() != diff_id:
            raise ImageError(
                f"{what}: uncompressed content does not match the config's diff_id: expected {diff_id}, "
                f"found {plain.digest()} (truncated or altered layer)"
            )
    finally:
        tf.close()


def _broken(what: str, kind: str, err: BaseException) -> ImageError:
    text = str(err) or type(err).__name__
    if isinstance(err, EOFError) or "unexpected end" in text or "ended before" in text:
        return ImageError(f"{what}: truncated ({kind} layer ended early: {text})")
    return ImageError(f"{what}: not a readable {'tar' if kind == 'none' else kind + '-compressed tar'} ({text})")
