"""`shiplane images push --stage S`: copy every image a stage uses into the stage's own registry, by digest.

Each distinct image is resolved at its source once, then copied (every platform of an index,
blobs the target has skipped, mounts within one registry) to `host/prefix/<repository>` under
the same tag, so the deploy of that stage resolves and pins it there. Only the spec's structure
is read: no secret value is needed. A dry run resolves and looks, and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from shiplane import rendering, spec
from shiplane.actions import pinning
from shiplane.errors import ImageNotFound, InputError
from shiplane.events import Event, Progress, Step
from shiplane.registry import Client, Reference
from shiplane.spec.inputs import gather

JOBS = 4  # images relocated at once (each copies up to the client's `jobs` blobs at once)


@dataclass(frozen=True)
class Moved:
    image: str  # as the spec writes it
    users: tuple[str, ...]  # kind/name/container
    source: str  # pinned source reference
    target: str  # pinned reference in the stage's registry
    digest: str
    action: str  # copied | present | would-copy
    seconds: float = 0.0
    referrers: tuple[str, ...] = ()  # signatures, attestations, SBOMs copied along (digests)

    def to_json(self) -> dict:
        return {
            "image": self.image,
            "users": list(self.users),
            "source": self.source,
            "target": self.target,
            "digest": self.digest,
            "action": self.action,
            "seconds": round(self.seconds, 3),
            "referrers": list(self.referrers),
        }


def stage_images(files: list[Path], stage: str) -> tuple[spec.StageSpec, dict[str, list[str]]]:
    """The stage and image → its users, from the spec's structure (Secret values are not read)."""
    stage_spec = spec.load(files or [Path("shiplane.yaml")]).stage(stage)
    if stage_spec.stage.registry is None:
        raise InputError(
            f"stage {stage!r} has no registry to push to",
            hint=f"set stages.{stage}.registry.host (and prefix) in the spec",
        )
    objects = rendering.render(stage_spec, gather(stage_spec, read_secrets=False))
    return stage_spec, pinning.users(objects)


def _tagged(client: Client, ref: Reference) -> str | None:
    """The digest `ref`'s tag points at in its registry now, None when the tag is not there."""
    try:
        return client.resolve(Reference(ref.registry, ref.repository, ref.tag))
    except ImageNotFound:
        return None


def _relocate(client: Client, image: str, users: list[str], registry, dry_run: bool, referrers: bool) -> Moved:
    """One image: resolve at the source (the manifest is fetched once and reused by the copy), look in
    the target, copy when missing; then what refers to it (signatures), which may be newer than the copy."""
    started = time.monotonic()
    src = Reference.parse(image)
    dst = pinning.relocated(src, registry)
    digest = client.manifest(src, platform=None).digest
    pinned_dst = Reference(dst.registry, dst.repository, dst.tag, digest)
    present = _tagged(client, dst) == digest if dst.tag else client.has_manifest(pinned_dst)
    if present:
        action = "present"
    elif dry_run:
        action = "would-copy"
    else:
        client.copy(Reference(src.registry, src.repository, src.tag, digest), dst)
        action = "copied"
    extra = client.copy_referrers(src.with_digest(digest), dst) if referrers and not dry_run else []
    source = pinning.pinned(image, digest)
    seconds = time.monotonic() - started
    return Moved(image, tuple(users), source, str(pinned_dst), digest, action, seconds, tuple(extra))


def push(
    files: list[Path],
    stage: str,
    *,
    dry_run: bool = False,
    client: Client | None = None,
    jobs: int = JOBS,
    referrers: bool = True,
) -> Generator[Event, None, list[Moved]]:
    """Relocate every image of the stage, `jobs` at a time; a Step per image as each finishes."""
    stage_spec, by_image = stage_images(files, stage)
    registry = stage_spec.stage.registry
    assert registry is not None  # stage_images refused a stage without one
    own = client or pinning.client_for(registry, by_image)
    moved: dict[str, Moved] = {}
    total = len(by_image)
    try:
        yield Step(f"{'look for' if dry_run else 'relocate'} {total} image(s) in {registry.host}")
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {
                pool.submit(_relocate, own, image, users, registry, dry_run, referrers): image
                for image, users in by_image.items()
            }
            for future in as_completed(futures):
                m = future.result()  # the first failure ends the run (the rest are cancelled)
                moved[m.image] = m
                yield Progress("relocate images", len(moved), total, item=m.image, unit="images")
                yield Step(f"[{len(moved)}/{total}] {m.action} {m.image} → {m.target}", done=True, seconds=m.seconds)
    finally:
        if client is None:
            own.close()
    return [moved[image] for image in by_image]  # in the spec's order
