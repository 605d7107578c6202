"""`shiplane images push --stage S`: copy every image a stage uses into the stage's own registry, by digest.

Each distinct image is resolved at its source once, then copied (every platform of an index,
blobs the target has skipped, mounts within one registry) to `host/prefix/<repository>` under
the same tag, so the deploy of that stage resolves and pins it there. Only the spec's structure
is read: no secret value is needed. A dry run resolves and looks, and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from shiplane import rendering, spec
from shiplane.actions import pinning
from shiplane.errors import ImageNotFound, InputError
from shiplane.events import Event, Note, Step
from shiplane.registry import Client, Reference
from shiplane.spec.inputs import gather


@dataclass(frozen=True)
class Moved:
    image: str  # as the spec writes it
    users: tuple[str, ...]  # kind/name/container
    source: str  # pinned source reference
    target: str  # pinned reference in the stage's registry
    digest: str
    action: str  # copied | present | would-copy
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "image": self.image,
            "users": list(self.users),
            "source": self.source,
            "target": self.target,
            "digest": self.digest,
            "action": self.action,
            "seconds": round(self.seconds, 3),
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


def push(
    files: list[Path], stage: str, *, dry_run: bool = False, client: Client | None = None
) -> Generator[Event, None, list[Moved]]:
    stage_spec, by_image = stage_images(files, stage)
    registry = stage_spec.stage.registry
    assert registry is not None  # stage_images refused a stage without one
    own = client or pinning.client_for(registry, by_image)
    moved: list[Moved] = []
    try:
        for n, (image, users) in enumerate(by_image.items(), 1):
            src = Reference.parse(image)
            dst = pinning.relocated(src, registry)
            label = f"[{n}/{len(by_image)}] {image} → {dst.name}"
            started = time.monotonic()
            yield Step(label)
            digest = own.resolve(src)
            pinned_dst = Reference(dst.registry, dst.repository, dst.tag, digest)
            present = own.has_manifest(pinned_dst) and (not dst.tag or _tagged(own, dst) == digest)
            if present:
                action = "present"
            elif dry_run:
                action = "would-copy"
            else:
                yield from own.copying(Reference(src.registry, src.repository, src.tag, digest), dst)
                action = "copied"
            seconds = time.monotonic() - started
            yield Step(label, done=True, seconds=seconds)
            if present:
                yield Note(f"{image}: already in {dst.registry} at {digest[:19]}")
            moved.append(
                Moved(image, tuple(users), pinning.pinned(image, digest), str(pinned_dst), digest, action, seconds)
            )
    finally:
        if client is None:
            own.close()
    return moved
