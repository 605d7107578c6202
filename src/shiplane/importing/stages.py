"""What every import writes last: the dev/test/prod stages, and what its images still need.

`dev` deploys to the local plane as imported (its policy gate fails only on critical findings,
like examples/voting's dev stage); `test` and `prod` keep the strict default gate and pin every
image to a digest, so an image still to be built or pinned stops them, not dev.
"""

from __future__ import annotations

from typing import Any

from shiplane.importing.report import Report
from shiplane.spec.fields import PLACEHOLDER_REGISTRY


def placeholder(name: str) -> str:
    """An image reference that loads and renders for dev (kwok never pulls it) and can never be
    pulled anywhere (`.invalid` is reserved, RFC 2606); render refuses it where images are pinned."""
    return f"{PLACEHOLDER_REGISTRY}/{name}:todo"


def is_placeholder(image: str) -> bool:
    return image.startswith(PLACEHOLDER_REGISTRY + "/")


def _tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def image_notes(name: str, svc: dict[str, Any], report: Report) -> None:
    """One line per image that is not ready for test/prod: to build, or to pin, each with its fix."""
    image = str(svc.get("image", ""))
    build = svc.get("build")
    if build:
        where = build.get("context", ".")
        opts = (f" -f {where}/{build['dockerfile']}" if build.get("dockerfile") else "") + (
            f" --target {build['target']}" if build.get("target") else ""
        )
        ref = f"REGISTRY/{image.split('/')[-1].rsplit(':', 1)[0]}:VERSION" if is_placeholder(image) else image
        until = f" (until then: placeholder {image}, which only dev renders)" if is_placeholder(image) else ""
        report.images.append(
            f"{name}: to build from {where}: `docker build{opts} -t {ref} {where}` (or `shiplane build`), "
            f"push it, then set services.{name}.image to that reference with a version{until}"
        )
    elif is_placeholder(image):
        report.images.append(
            f"{name}: image to fill in (placeholder {image}, which only dev renders): build one and set "
            f"services.{name}.image"
        )
    elif image and "@" not in image and _tag(image) in (None, "latest"):
        base = image.rsplit(":", 1)[0] if _tag(image) else image
        report.images.append(
            f"{name}: {image} {'has no tag (latest)' if _tag(image) is None else 'is tagged latest'}: pin a "
            f"version (services.{name}.image: {base}:<version>); test/prod resolve it to a digest (images.pin)"
        )


def standard(app: str, services: dict[str, dict[str, Any]], report: Report) -> dict:
    """The stages of an imported spec, the image lines of the report, and the next user step."""
    for name, svc in services.items():
        image_notes(name, svc, report)
        for side in (svc.get("migration") or {},):
            if side.get("image") and is_placeholder(str(side["image"])):
                report.images.append(f"{name}: its migration's image is a placeholder too")
    stages = {
        "dev": {"namespace": app, "policy": {"failOn": "critical"}},
        "test": {"namespace": f"{app}-test", "images": {"pin": True}},
        "prod": {"namespace": f"{app}-prod", "images": {"pin": True}},
    }
    report.notes.append(
        "stages: dev (the local plane, as imported; its policy gate fails only on critical findings), "
        "test and prod (the strict default gate; images pinned to digests)"
    )
    steps = ["next: `shiplane cluster up`, then `shiplane deploy -f shiplane.yaml --stage dev`"]
    if report.images:
        steps.append(f"then, before test/prod: the {len(report.images)} image(s) under Images")
    if report.blocker_count:
        steps.append(f"and resolve the {report.blocker_count} blocker(s) for a faithful run")
    report.next_step = "; ".join(steps)
    return stages
