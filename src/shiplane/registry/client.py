"""The registry client (OCI distribution API v2): resolve, read, push, copy, referrers.

One `Client` per run: tag → digest answers and manifests (content-addressed, so always valid)
are cached on it. Blobs are streamed and checked against their digest as they arrive.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from shiplane.errors import DigestMismatch, ImageNotFound, RegistryError, RegistryUnreachable
from shiplane.events import Event, Progress, result
from shiplane.registry.auth import DockerConfig
from shiplane.registry.manifest import ACCEPT, OCI_INDEX, Manifest, platform_of, sha256
from shiplane.registry.reference import Reference, check_digest, check_digest_ok
from shiplane.registry.transport import Call, Transport

MAX_MANIFEST = 4 * 1024 * 1024  # the distribution spec's limit; larger is refused, not buffered
CHUNK = 1024 * 1024
UPLOAD_ATTEMPTS = 3  # a streamed blob upload that fails in transit starts again from its source
COPY_JOBS = 4  # blobs of one image copied at once (crane's default is 4 too)
INSECURE_ENV = "SHIPLANE_INSECURE_REGISTRIES"
COSIGN_SUFFIXES = (".sig", ".att", ".sbom")  # cosign's tag layout beside an image: sha256-<hex>.sig


def insecure_from_env() -> set[str]:
    """Hosts named in $SHIPLANE_INSECURE_REGISTRIES (comma-separated host:port): plain HTTP for them."""
    return {h.strip() for h in os.environ.get(INSECURE_ENV, "").split(",") if h.strip()}


def _fallback_tag(digest: str) -> str:
    """The referrers tag schema: `sha256:abc…` → `sha256-abc…`."""
    return digest.replace(":", "-", 1)


def _digest(descriptor: dict, ref: Reference) -> str:
    """A descriptor's digest, checked before it becomes part of a URL (a registry's data is input too)."""
    digest = descriptor.get("digest")
    if not isinstance(digest, str) or not check_digest_ok(digest):
        raise RegistryError(f"{ref}: the registry sent a descriptor with an invalid digest {str(digest)[:80]!r}")
    return digest


def _foreign(descriptor: dict) -> bool:
    """Non-distributable layers (Windows base layers) are never copied; they are pulled from their URLs."""
    media_type = str(descriptor.get("mediaType", ""))
    return "nondistributable" in media_type or "foreign" in media_type


class Client:
    """A registry client for one run; see the module docstring. Use as a context manager or `close()`."""

    def __init__(
        self,
        *,
        insecure: Iterable[str] = (),
        config: DockerConfig | None = None,
        retries: int = 4,
        backoff: float = 0.25,
        timeout: float = 30.0,
        jobs: int = COPY_JOBS,
    ) -> None:
        self.transport = Transport(
            insecure=set(insecure) | insecure_from_env(),
            config=config,
            retries=retries,
            backoff=backoff,
            timeout=timeout,
        )
        self.jobs = max(1, jobs)
        self._digests: dict[str, str] = {}  # `registry/repo:tag` → digest, for this client's lifetime
        self._manifests: dict[str, Manifest] = {}  # digest → manifest (immutable by definition)
        # blobs this client saw or put in a repository (host, repository, digest), and one repository
        # per (host, digest) holding it: later copies skip the HEAD, or mount instead of uploading
        self._present: set[tuple[str, str, str]] = set()
        self._holders: dict[tuple[str, str], str] = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    @property
    def insecure(self) -> frozenset[str]:
        return self.transport.insecure

    # --- reading ---------------------------------------------------------------------------------

    @staticmethod
    def _call(ref: Reference, what: str, *, push: bool = False, also_pull: tuple[str, ...] = ()) -> Call:
        return Call(ref.api_host, ref.repository, f"{what} {ref}", push=push, also_pull=also_pull)

    def resolve(self, ref: Reference) -> str:
        """The digest a reference points at now (its own digest when it has one), cached per Client."""
        if ref.digest:
            return ref.digest
        key = str(ref)
        if key in self._digests:
            return self._digests[key]
        call = self._call(ref, "resolve")
        try:
            resp = self.transport.request(
                "HEAD", call, f"/v2/{ref.repository}/manifests/{ref.identifier}", headers={"Accept": ACCEPT}
            )
            digest = resp.headers.get("Docker-Content-Digest", "")
        except RegistryError as err:
            if err.status not in (400, 405, 406):  # a registry that does not answer HEAD: the GET decides
                raise
            digest = ""
        if not digest.startswith("sha256:"):  # the header is optional: hash what a GET sends
            digest = self._get_manifest(ref).digest
        self._digests[key] = check_digest(digest, what=f"the digest registry {ref.registry} sent for {ref}")
        return digest

    def _get_manifest(self, ref: Reference) -> Manifest:
        if ref.digest and ref.digest in self._manifests:
            return self._manifests[ref.digest]
        call = self._call(ref, "read the manifest of")
        resp = self.transport.request(
            "GET", call, f"/v2/{ref.repository}/manifests/{ref.identifier}", headers={"Accept": ACCEPT}, stream=True
        )
        with resp:
            raw = b""
            for chunk in resp.iter_content(CHUNK):
                raw += chunk
                if len(raw) > MAX_MANIFEST:
                    raise RegistryError(f"{call.what}: the manifest is larger than {MAX_MANIFEST} bytes")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        manifest = Manifest.of(raw, media_type if media_type != "application/json" else None, reference=str(ref))
        if ref.digest and manifest.digest != ref.digest:
            raise DigestMismatch(f"{call.what}: registry {ref.registry} sent a manifest with digest {manifest.digest}")
        if not ref.digest:
            self._digests[str(ref)] = manifest.digest
        self._manifests[manifest.digest] = manifest
        return manifest

    def index(self, ref: Reference) -> Manifest | None:
        """The index (multi-platform list) the reference points at, or None for a single-platform image."""
        top = self._get_manifest(ref)
        return top if top.is_index else None

    def manifest(self, ref: Reference, platform: str | None = "linux/amd64") -> Manifest:
        """The image manifest for `platform` (picked from an index); `platform=None`: whatever `ref` points at."""
        top = self._get_manifest(ref)
        if not top.is_index or platform is None:
            return top
        entry = pick_platform(top, platform)
        if entry is None:
            found = ", ".join(sorted({platform_of(e) for e in top.manifests if platform_of(e)})) or "none"
            raise ImageNotFound(f"{ref}: its index has no {platform} image (platforms: {found})")
        return self._get_manifest(Reference(ref.registry, ref.repository, ref.tag, _digest(entry, ref)))

    def tags(self, ref: Reference) -> list[str]:
        resp = self.transport.request("GET", self._call(ref, "list the tags of"), f"/v2/{ref.repository}/tags/list")
        return list(resp.json().get("tags") or [])

    # --- blobs -----------------------------------------------------------------------------------

    def has_blob(self, ref: Reference, digest: str) -> bool:
        call = self._call(ref, f"look for blob {digest[:19]} in")
        resp = self.transport.request("HEAD", call, f"/v2/{ref.repository}/blobs/{digest}", missing_ok=True)
        return resp.status_code == 200

    def open_blob(self, ref: Reference, digest: str) -> Iterator[bytes]:
        """The blob's bytes in chunks, hashed on the way; DigestMismatch after the last chunk if they differ."""
        check_digest(digest)
        call = self._call(ref, f"read blob {digest[:19]} of")
        resp = self.transport.request("GET", call, f"/v2/{ref.repository}/blobs/{digest}", stream=True)

        def chunks() -> Iterator[bytes]:
            hasher = hashlib.new(digest.split(":", 1)[0])
            with resp:
                for chunk in resp.iter_content(CHUNK):
                    hasher.update(chunk)
                    yield chunk
            got = f"{digest.split(':', 1)[0]}:{hasher.hexdigest()}"
            if got != digest:
                raise DigestMismatch(f"{call.what}: registry {ref.registry} sent content with digest {got}")

        return chunks()

    def blob(self, ref: Reference, digest: str) -> bytes:
        return b"".join(self.open_blob(ref, digest))

    def _start_upload(self, ref: Reference, *, mount: str | None = None, source: str | None = None) -> str | None:
        """Open an upload session; with `mount`, ask for a cross-repository mount (None when it happened)."""
        query = f"?{urlencode({'mount': mount, 'from': source})}" if mount and source else ""
        call = self._call(ref, "push to", push=True, also_pull=(source,) if source else ())
        resp = self.transport.request("POST", call, f"/v2/{ref.repository}/blobs/uploads/{query}", ok=(201, 202))
        if resp.status_code == 201:
            return None
        location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"{call.what}: registry {ref.registry} opened an upload without a Location")
        return location

    def put_blob(self, ref: Reference, data: bytes | Iterable[bytes], digest: str) -> None:
        """Upload a blob (bytes, or chunks streamed as they come) under `digest` into `ref`'s repository."""
        check_digest(digest)
        if isinstance(data, bytes) and sha256(data) != digest:
            raise DigestMismatch(f"push blob {digest[:19]} to {ref}: the data hashes to {sha256(data)}")
        self._upload(ref, self._start_upload(ref), data, digest)

    def _upload(self, ref: Reference, location: str | None, data: bytes | Iterable[bytes], digest: str) -> None:
        if location is None:
            return
        separator = "&" if "?" in location else "?"
        call = self._call(ref, f"push blob {digest[:19]} to", push=True)
        self.transport.request(
            "PUT",
            call,
            f"{location}{separator}{urlencode({'digest': digest})}",
            ok=(201, 204),
            headers={"Content-Type": "application/octet-stream"},
            data=data,
        ).close()

    def mount_blob(self, ref: Reference, digest: str, source: Reference) -> bool:
        """Mount a blob from another repository of the same registry; False when the registry declined."""
        location = self._start_upload(ref, mount=digest, source=source.repository)
        return location is None

    # --- manifests -------------------------------------------------------------------------------

    def put_manifest(self, ref: Reference, raw: bytes, media_type: str) -> str:
        """Push a manifest under `ref`'s tag (else its digest); returns the manifest's digest."""
        return self._put_manifest(ref, raw, media_type)[0]

    def _put_manifest(self, ref: Reference, raw: bytes, media_type: str) -> tuple[str, str]:
        """(digest, the `OCI-Subject` header: the subject's digest when the registry indexed a referrer)."""
        digest = sha256(raw)
        if ref.digest and not ref.tag and ref.digest != digest:
            raise DigestMismatch(f"push manifest {ref}: the manifest hashes to {digest}")
        identifier = ref.tag or digest
        call = self._call(ref, "push the manifest of", push=True)
        resp = self.transport.request(
            "PUT",
            call,
            f"/v2/{ref.repository}/manifests/{identifier}",
            ok=(201, 200, 202),
            headers={"Content-Type": media_type},
            data=raw,
        )
        sent = resp.headers.get("Docker-Content-Digest")
        if sent and sent != digest:
            raise DigestMismatch(f"{call.what}: registry {ref.registry} stored it as {sent}, not {digest}")
        self._manifests[digest] = Manifest.of(raw, media_type, reference=str(ref))
        if ref.tag:
            self._digests[str(Reference(ref.registry, ref.repository, ref.tag))] = digest
        return digest, resp.headers.get("OCI-Subject", "")

    def has_manifest(self, ref: Reference) -> bool:
        call = self._call(ref, "look for")
        resp = self.transport.request(
            "HEAD",
            call,
            f"/v2/{ref.repository}/manifests/{ref.identifier}",
            headers={"Accept": ACCEPT},
            missing_ok=True,
        )
        return resp.status_code == 200

    # --- copying ---------------------------------------------------------------------------------

    def copy(self, src: Reference, dst: Reference) -> str:
        """Copy an image or a whole index (every platform) from `src` to `dst`; returns the digest."""
        return result(self.copying(src, dst))

    def copying(self, src: Reference, dst: Reference) -> Generator[Event, None, str]:
        """`copy` with progress: a `Progress` per blob (unit "blobs"), skipped blobs counted as done."""
        top = self._get_manifest(src)
        images = [top] if not top.is_index else self._children(src, top)
        blobs: dict[str, dict] = {}
        for image in images:
            for desc in image.blobs:
                if not _foreign(desc):
                    blobs.setdefault(_digest(desc, src), desc)
        task = f"copy {src} → {dst}"
        done = 0
        yield Progress(task, done, len(blobs), unit="blobs")
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for digest in pool.map(lambda d: self._copy_blob(src, dst, d), list(blobs)):
                done += 1
                yield Progress(task, done, len(blobs), item=digest[:19], unit="blobs")
        if top.is_index:
            for child in images:
                target = Reference(dst.registry, dst.repository, None, child.digest)
                if not self.has_manifest(target):
                    self.put_manifest(target, child.raw, child.media_type)
        return self.put_manifest(
            Reference(dst.registry, dst.repository, dst.tag, None if dst.tag else top.digest), top.raw, top.media_type
        )

    def _children(self, src: Reference, index: Manifest) -> list[Manifest]:
        """Every manifest an index lists (nested indexes flattened after their own children)."""
        found: list[Manifest] = []
        for entry in index.manifests:
            child = self._get_manifest(Reference(src.registry, src.repository, src.tag, _digest(entry, src)))
            found.extend([*self._children(src, child), child] if child.is_index else [child])
        return found

    def _copy_blob(self, src: Reference, dst: Reference, digest: str) -> str:
        host = dst.api_host
        if (host, dst.repository, digest) in self._present:
            return digest
        if self.has_blob(dst, digest):
            self._present.add((host, dst.repository, digest))
            return digest
        # a repository of the target registry known to hold it (pushed earlier in this run), else the
        # source's own repository when both are one registry: mount instead of sending the bytes
        holder = self._holders.get((host, digest))
        if holder is None and src.api_host == host and src.repository != dst.repository:
            holder = src.repository
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            location = self._start_upload(dst, mount=digest, source=holder) if holder else self._start_upload(dst)
            if location is None:
                break
            try:  # a streamed body cannot be resent by the transport: the whole upload is retried here
                self._upload(dst, location, self.open_blob(src, digest), digest)
                break
            except RegistryUnreachable:
                if attempt == UPLOAD_ATTEMPTS:
                    raise
                time.sleep(self.transport.backoff * attempt)
        self._present.add((host, dst.repository, digest))
        self._holders.setdefault((host, digest), dst.repository)
        return digest

    # --- referrers -------------------------------------------------------------------------------

    def referrers(self, ref: Reference, artifact_type: str | None = None) -> list[dict]:
        """Descriptors of the manifests whose `subject` is `ref` (OCI 1.1 referrers API, else the tag schema)."""
        digest = self.resolve(ref)
        call = self._call(ref, "list the referrers of")
        params = {"artifactType": artifact_type} if artifact_type else None
        resp = self.transport.request(
            "GET",
            call,
            f"/v2/{ref.repository}/referrers/{digest}",
            params=params,
            headers={"Accept": OCI_INDEX},
            ok=(200,),
            missing_ok=True,
        )
        if resp.status_code == 200 and "json" in resp.headers.get("Content-Type", ""):
            entries = Manifest.of(resp.content, OCI_INDEX, reference=str(ref)).manifests
        else:
            resp.close()
            entries = self._fallback_index(ref, digest).manifests
        return [e for e in entries if not artifact_type or e.get("artifactType") == artifact_type]

    def _fallback_index(self, ref: Reference, digest: str) -> Manifest:
        tag_ref = Reference(ref.registry, ref.repository, _fallback_tag(digest))
        try:
            self._digests.pop(str(tag_ref), None)  # this tag moves as referrers are attached
            return self._get_manifest(tag_ref)
        except ImageNotFound:
            return Manifest.of(b'{"schemaVersion":2,"mediaType":"%s","manifests":[]}' % OCI_INDEX.encode(), OCI_INDEX)

    def attach(self, subject: Reference, raw: bytes, media_type: str) -> str:
        """Push a referrer (a manifest whose `subject` is `subject`) into the subject's repository.

        When the registry does not report indexing it (no `OCI-Subject` header), the
        `sha256-<hex>` tag index is updated too, so readers without the referrers API find it.
        """
        digest = self.resolve(subject)
        manifest = Manifest.of(raw, media_type, reference=str(subject))
        target = Reference(subject.registry, subject.repository, None, manifest.digest)
        pushed, indexed = self._put_manifest(target, raw, media_type)
        if indexed == digest:
            return pushed
        index = self._fallback_index(subject, digest)
        entries = [e for e in index.manifests if e.get("digest") != pushed]
        entries.append(manifest.descriptor())
        body = dict(index.json)
        body.update({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        raw_index = json.dumps(body, separators=(",", ":")).encode()
        self.put_manifest(Reference(subject.registry, subject.repository, _fallback_tag(digest)), raw_index, OCI_INDEX)
        return pushed

    def copy_referrers(self, src: Reference, dst: Reference) -> list[str]:
        """Copy what refers to `src`'s digest into `dst`'s repository: its referrers (signatures,
        attestations, SBOMs as OCI 1.1 artifacts, attached again at the target) and cosign's tags
        `sha256-<hex>.sig`/`.att`/`.sbom`. Returns the digests copied."""
        digest = self.resolve(src)
        copied: list[str] = []
        subject = Reference(dst.registry, dst.repository, None, digest)
        for desc in self.referrers(Reference(src.registry, src.repository, None, digest)):
            ref = Reference(src.registry, src.repository, None, _digest(desc, src))
            manifest = self._get_manifest(ref)
            for blob in manifest.blobs:
                self._copy_blob(src, dst, _digest(blob, src))
            copied.append(self.attach(subject, manifest.raw, manifest.media_type))
        for suffix in COSIGN_SUFFIXES:
            tagged = Reference(src.registry, src.repository, _fallback_tag(digest) + suffix)
            if self.has_manifest(tagged):
                self._digests.pop(str(tagged), None)  # these tags move as signatures are added
                copied.append(self.copy(tagged, Reference(dst.registry, dst.repository, tagged.tag)))
        return copied


def pick_platform(index: Manifest, platform: str) -> dict | None:
    """The index entry for `os/arch[/variant]`; an entry's variant may be more specific than asked."""
    want = platform.split("/")
    for entry in index.manifests:
        have = platform_of(entry).split("/")
        if have[:2] == want[:2] and (len(want) < 3 or have[2:3] == want[2:3]):
            return entry
    return None
