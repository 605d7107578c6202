"""Image references: an explicit tag that is not `latest`; digests where promotion must be exact."""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity
from shiplane.policy.pods import WORKLOADS, cname, containers


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry port is not a tag."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


@rule(
    "image-tag-missing",
    Group.IMAGES,
    Severity.HIGH,
    "image without a tag",
    why="An untagged image means `latest`: what runs changes whenever someone pushes, and rollbacks cannot go back.",
    fix="Pin an explicit version tag (and a digest in production).",
    kinds=WORKLOADS,
)
def tag_missing(obj, ctx):
    for path, c, _ in containers(obj):
        image = c.get("image")
        if isinstance(image, str):
            _, tag, digest = split_image(image)
            if tag is None and digest is None:
                yield Hit((*path, "image"), f"{cname(c)} image {image}")


@rule(
    "image-tag-latest",
    Group.IMAGES,
    Severity.HIGH,
    "image tag is latest",
    why="`latest` moves: two nodes can run different code under the same spec, and rollbacks cannot go back.",
    fix="Pin an explicit version tag (and a digest in production).",
    kinds=WORKLOADS,
)
def tag_latest(obj, ctx):
    for path, c, _ in containers(obj):
        image = c.get("image")
        if isinstance(image, str):
            _, tag, digest = split_image(image)
            if tag == "latest" and digest is None:
                yield Hit((*path, "image"), f"{cname(c)} image {image}")


@rule(
    "image-digest-missing",
    Group.IMAGES,
    Severity.MEDIUM,
    "image not pinned by digest",
    why="Tags can be re-pushed; only a digest guarantees that prod runs the bytes that were tested.",
    fix="Reference the image as name:tag@sha256:… (shiplane promote carries digests from stage to stage).",
    kinds=WORKLOADS,
    optional=True,
)
def digest_missing(obj, ctx):
    for path, c, _ in containers(obj):
        image = c.get("image")
        if isinstance(image, str) and split_image(image)[2] is None:
            yield Hit((*path, "image"), f"{cname(c)} image {image}")


RULES = [tag_missing, tag_latest, digest_missing]
