"""Where an image's blobs are: OCI image layouts and `docker save` archives, as a directory or a tar.

`find(path)` returns an `ImageSource`: the store holding the blobs, the parsed config and the layer
list with the digests the manifest and config promise (verified later, while the layers are read).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from shiplane.errors import InputError
from shiplane.images.errors import ImageError

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
MAX_METADATA = 16 << 20  # index, manifest and config documents are small; refuse giant ones


class Store:
    """Read-only access to the files of a layout, by relative path."""

    label: str

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    def open(self, rel: str) -> IO[bytes]:
        raise NotImplementedError

    def size(self, rel: str) -> int:
        raise NotImplementedError

    def read(self, rel: str, limit: int = MAX_METADATA) -> bytes:
        if self.size(rel) > limit:
            raise ImageError(f"{self.label}: {rel} is larger than {limit} bytes; refusing to read it")
        with self.open(rel) as fh:
            return fh.read()

    def close(self) -> None:
        pass


def _safe_rel(label: str, rel: str) -> str:
    norm = posixpath.normpath(rel.lstrip("/"))
    if norm == ".." or norm.startswith("../") or "\x00" in norm:
        raise ImageError(f"{label}: the path {rel!r} named by the image escapes the archive")
    return norm


class DirStore(Store):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def _path(self, rel: str) -> Path:
        return self.root / _safe_rel(self.label, rel)

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def open(self, rel: str) -> IO[bytes]:
        path = self._path(rel)
        try:
            return path.open("rb")
        except OSError as err:
            raise ImageError(f"{self.label}: cannot read {rel}: {err.strerror}") from None

    def size(self, rel: str) -> int:
        try:
            return self._path(rel).stat().st_size
        except OSError as err:
            raise ImageError(f"{self.label}: cannot read {rel}: {err.strerror}") from None


class TarStore(Store):
    """An uncompressed tar (what `docker save` and `skopeo copy oci-archive:` write): random access."""

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        try:
            self.tar = tarfile.open(path, mode="r:")  # noqa: SIM115 - closed by close()
            members = self.tar.getmembers()
        except (tarfile.TarError, EOFError, OSError) as err:
            with open(path, "rb") as fh:
                magic = fh.read(4)
            tool = "gunzip" if magic[:2] == b"\x1f\x8b" else "unzstd" if magic == b"\x28\xb5\x2f\xfd" else ""
            if tool:
                raise ImageError(
                    f"{path}: a compressed archive; shiplane reads image archives uncompressed (random access)",
                    hint=f"decompress it first, e.g. `{tool} {path}`",
                ) from None
            raise ImageError(f"{path}: not a readable tar archive ({err})") from None
        self.members = {_safe_rel(self.label, m.name): m for m in members if m.isfile() or m.islnk()}

    def _member(self, rel: str) -> tarfile.TarInfo:
        member = self.members.get(_safe_rel(self.label, rel))
        if member is None:
            raise ImageError(f"{self.label}: {rel} is missing from the archive")
        return member

    def exists(self, rel: str) -> bool:
        return _safe_rel(self.label, rel) in self.members

    def open(self, rel: str) -> IO[bytes]:
        member = self._member(rel)
        if member.islnk():
            member = self._member(member.linkname)
        fh = self.tar.extractfile(member)
        if fh is None:  # pragma: no cover - only regular members are indexed
            raise ImageError(f"{self.label}: {rel} is not a file")
        return fh

    def size(self, rel: str) -> int:
        member = self._member(rel)
        return self._member(member.linkname).size if member.islnk() else member.size

    def close(self) -> None:
        self.tar.close()


@dataclass(frozen=True)
class LayerRef:
    """One layer as the manifest names it; `digest` (of the blob) and `diff_id` are checked on read."""

    index: int
    path: str
    digest: str | None
    diff_id: str | None
    media_type: str = ""


@dataclass
class ImageSource:
    label: str
    kind: str  # oci-dir, oci-tar, docker-archive (archives and dirs), rootfs, registry
    store: Store | None
    config: dict[str, Any] = field(default_factory=dict)
    config_digest: str | None = None
    manifest_digest: str | None = None
    layers: list[LayerRef] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    root: Path | None = None  # for a rootfs directory


def _json(store: Store, rel: str, expect_digest: str | None = None) -> Any:
    data = store.read(rel)
    if expect_digest is not None:
        _check_digest(store.label, rel, data, expect_digest)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise ImageError(f"{store.label}: {rel} is not valid JSON ({err})") from None


def _check_digest(label: str, what: str, data: bytes, digest: str) -> None:
    algo, _, hexpart = digest.partition(":")
    if algo not in ("sha256", "sha512") or not hexpart:
        raise ImageError(f"{label}: {what}: unsupported digest {digest!r} (expected sha256:<hex>)")
    found = hashlib.new(algo, data).hexdigest()
    if found != hexpart:
        raise ImageError(f"{label}: {what} does not match its digest: expected {digest}, found {algo}:{found}")


def blob_path(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if not algo.isalnum() or not hexpart.isalnum():
        raise ImageError(f"malformed digest {digest!r} (expected sha256:<hex>)")
    return f"blobs/{algo}/{hexpart}"


def _pick_manifest(store: Store, index: dict, platform: str | None, depth: int = 0) -> dict:
    """Follow an index (possibly nested, possibly multi-platform) down to one image manifest."""
    if depth > 4:
        raise ImageError(f"{store.label}: image indexes nested more than 4 deep")
    manifests = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    if not manifests:
        raise ImageError(f"{store.label}: the image index lists no manifests")
    # Attestation manifests (buildx) are not images.
    images = [m for m in manifests if (m.get("annotations") or {}).get("vnd.docker.reference.type") is None]
    want = platform or "linux/amd64"
    if len(images) > 1:

        def plat(m: dict) -> str:
            p = m.get("platform") or {}
            return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)

        chosen = [m for m in images if plat(m) == want or plat(m).startswith(want + "/")]
        if not chosen and not any(m.get("platform") for m in images):
            names = [
                (m.get("annotations") or {}).get("org.opencontainers.image.ref.name", m.get("digest")) for m in images
            ]
            raise ImageError(
                f"{store.label}: holds {len(images)} images ({', '.join(map(str, names))}); "
                "shiplane reads one per archive"
            )
        if not chosen:
            raise ImageError(
                f"{store.label}: no image for platform {want}; found {', '.join(plat(m) for m in images)}",
                hint="choose one with --platform OS/ARCH",
            )
        images = chosen
    desc = images[0]
    digest = desc.get("digest")
    if not isinstance(digest, str):
        raise ImageError(f"{store.label}: a manifest descriptor has no digest")
    doc = _json(store, blob_path(digest), digest)
    media = doc.get("mediaType") or desc.get("mediaType") or ""
    if media in INDEX_TYPES or "manifests" in doc:
        return _pick_manifest(store, doc, platform, depth + 1)
    doc["_digest"] = digest
    return doc


def _from_oci(store: Store, kind: str, platform: str | None) -> ImageSource:
    index = _json(store, "index.json")
    manifest = _pick_manifest(store, index, platform)
    if manifest.get("mediaType", "") not in MANIFEST_TYPES and "layers" not in manifest:
        raise ImageError(f"{store.label}: manifest {manifest['_digest']} is not an image manifest")
    cfg_desc = manifest.get("config") or {}
    cfg_digest = cfg_desc.get("digest")
    if not isinstance(cfg_digest, str):
        raise ImageError(f"{store.label}: manifest {manifest['_digest']} has no config digest")
    config = _json(store, blob_path(cfg_digest), cfg_digest)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    layers_desc = manifest.get("layers") or []
    if len(diff_ids) != len(layers_desc):
        raise ImageError(
            f"{store.label}: the config lists {len(diff_ids)} diff_ids but the manifest {len(layers_desc)} layers"
        )
    layers = [
        LayerRef(i, blob_path(d["digest"]), d["digest"], diff_ids[i], d.get("mediaType", ""))
        for i, d in enumerate(layers_desc)
    ]
    tags = [
        n
        for m in index.get("manifests") or []
        if (n := (m.get("annotations") or {}).get("org.opencontainers.image.ref.name"))
    ]
    return ImageSource(store.label, kind, store, config, cfg_digest, manifest["_digest"], layers, tags)


def _from_docker(store: Store, kind: str) -> ImageSource:
    entries = _json(store, "manifest.json")
    if not isinstance(entries, list) or not entries:
        raise ImageError(f"{store.label}: manifest.json lists no images")
    if len(entries) > 1:
        tags = [", ".join(e.get("RepoTags") or ["<untagged>"]) for e in entries]
        raise ImageError(
            f"{store.label}: holds {len(entries)} images ({'; '.join(tags)}); shiplane reads one per archive"
        )
    entry = entries[0]
    cfg_path = entry.get("Config")
    if not isinstance(cfg_path, str):
        raise ImageError(f"{store.label}: manifest.json: the image has no Config")
    # Docker names the config by its digest ("<hex>.json" before v25, "blobs/sha256/<hex>" after).
    stem = posixpath.basename(cfg_path).removesuffix(".json")
    cfg_digest = f"sha256:{stem}" if len(stem) == 64 else None
    config = _json(store, cfg_path, cfg_digest)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    paths = entry.get("Layers") or []
    if len(diff_ids) != len(paths):
        raise ImageError(
            f"{store.label}: the config lists {len(diff_ids)} diff_ids but manifest.json {len(paths)} layers"
        )
    layers = []
    for i, rel in enumerate(paths):
        # In v25+ archives layers are blobs/sha256/<digest of the blob>; legacy ones are <id>/layer.tar.
        digest = None
        if rel.startswith("blobs/sha256/"):
            digest = "sha256:" + rel.rsplit("/", 1)[1]
        layers.append(LayerRef(i, rel, digest, diff_ids[i]))
    return ImageSource(store.label, kind, store, config, cfg_digest, None, layers, list(entry.get("RepoTags") or []))


def find(path: str | os.PathLike, platform: str | None = None, insecure: frozenset[str] = frozenset()) -> ImageSource:
    """Recognise what `path` is and read its manifest and config (not yet the layers). A name that is
    no local file and reads as an image reference (`host/repo:tag`, `@sha256:…`) is pulled from its registry."""
    p = Path(path)
    if not p.exists() and looks_like_reference(str(path)):
        return from_registry(str(path), platform, insecure)
    if not p.exists():
        raise ImageError(f"{p}: no such file or directory", hint="give an OCI layout, a `docker save` tar or a rootfs")
    if p.is_dir():
        store: Store = DirStore(p)
        if (p / "oci-layout").is_file() and (p / "index.json").is_file():
            return _from_oci(store, "oci-dir", platform)
        if (p / "manifest.json").is_file():
            return _from_docker(store, "docker-archive")
        return ImageSource(str(p), "rootfs", None, root=p)
    store = TarStore(p)
    try:
        if store.exists("index.json") and store.exists("oci-layout"):
            # Docker >= 25 writes both; the OCI index is the richer description.
            return _from_oci(store, "oci-tar", platform)
        if store.exists("manifest.json"):
            return _from_docker(store, "docker-archive")
    except BaseException:
        store.close()
        raise
    store.close()
    raise ImageError(
        f"{p}: a tar archive but neither an OCI layout (oci-layout, index.json) nor a `docker save` archive"
    )


# -- registry references ---------------------------------------------------------------------------
def looks_like_reference(text: str) -> bool:
    """Not a local path (absolute, ./, ../, ~, *.tar) and shaped like `[host/]repo[:tag][@digest]`."""
    if text.startswith(("/", "./", "../", "~")) or text.endswith(".tar"):
        return False
    from shiplane.registry import Reference

    try:
        Reference.parse(text)
    except InputError:
        return False
    return True


class _Chunks(io.RawIOBase):
    """A file object over the registry client's verified chunk stream (forward-only)."""

    def __init__(self, chunks) -> None:
        self.chunks = iter(chunks)
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self.buffer:
            try:
                self.buffer = next(self.chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self.buffer))
        b[:n] = self.buffer[:n]
        self.buffer = self.buffer[n:]
        return n


class RegistryStore(Store):
    """Blobs of one image in a registry, streamed (verified by the client as they arrive); nothing on disk."""

    def __init__(self, ref, client) -> None:
        self.ref, self.client = ref, client
        self.label = str(ref)

    @staticmethod
    def _digest(rel: str) -> str:
        algo, _, hexpart = rel.removeprefix("blobs/").partition("/")
        return f"{algo}:{hexpart}"

    def exists(self, rel: str) -> bool:
        return self.client.has_blob(self.ref, self._digest(rel))

    def open(self, rel: str) -> IO[bytes]:
        return io.BufferedReader(_Chunks(self.client.open_blob(self.ref, self._digest(rel))), 1 << 20)

    def read(self, rel: str, limit: int = MAX_METADATA) -> bytes:
        data = b""
        for chunk in self.client.open_blob(self.ref, self._digest(rel)):
            data += chunk
            if len(data) > limit:
                raise ImageError(f"{self.label}: {rel} is larger than {limit} bytes; refusing to read it")
        return data

    def size(self, rel: str) -> int:  # pragma: no cover - read() is overridden, nothing else asks
        return 0

    def close(self) -> None:
        self.client.close()


def from_registry(text: str, platform: str | None, insecure: frozenset[str] = frozenset()) -> ImageSource:
    """An image in a registry over the OCI distribution API (auth from ~/.docker/config.json):
    the manifest for the platform and the config now; layers are streamed when they are read."""
    from shiplane.registry import Client, DockerConfig, Reference

    ref = Reference.parse(text)
    client = Client(insecure=insecure, config=DockerConfig.load())
    try:
        manifest = client.manifest(ref, platform=platform or "linux/amd64")
        doc = manifest.json
        if manifest.is_index or "layers" not in doc:
            raise ImageError(f"{ref}: {manifest.digest} is not an image manifest ({manifest.media_type})")
        store = RegistryStore(ref.with_digest(manifest.digest), client)
        cfg_digest = (doc.get("config") or {}).get("digest")
        if not isinstance(cfg_digest, str):
            raise ImageError(f"{ref}: manifest {manifest.digest} has no config digest")
        try:
            config = json.loads(store.read(blob_path(cfg_digest)))
        except ValueError as err:
            raise ImageError(f"{ref}: the config {cfg_digest} is not valid JSON ({err})") from None
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        layers_desc = doc.get("layers") or []
        if len(diff_ids) != len(layers_desc):
            raise ImageError(
                f"{ref}: the config lists {len(diff_ids)} diff_ids but the manifest {len(layers_desc)} layers"
            )
        layers = [
            LayerRef(i, blob_path(d["digest"]), d["digest"], diff_ids[i], d.get("mediaType", ""))
            for i, d in enumerate(layers_desc)
        ]
    except BaseException:
        client.close()
        raise
    return ImageSource(str(ref), "registry", store, config, cfg_digest, manifest.digest, layers, [str(ref)])
