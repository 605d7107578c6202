"""`shiplane promote`: deploy to one stage exactly the images another stage runs."""

from __future__ import annotations

from shiplane.actions import pinning
from shiplane.actions.target import Target
from shiplane.errors import ImageNotFound, InputError, InputErrors, RegistryError, RegistryUnreachable
from shiplane.registry import Client, Reference
from shiplane.releases.history import last_good
from shiplane.spec.app import StageRegistry


def _repository(image: str) -> str:
    """registry/name without tag or digest (a ':' after the last '/' is a tag, before it a port)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def running_images(source: Target) -> tuple[dict[str, str], list[str]]:
    """workload/container → image the source stage runs, pinned to digests: the digests its release
    record pinned (`images.pin`, relocation) first, else those its pods report.

    Returns the images and notes for those that could only be taken by tag (not pinned, and the
    runtime reported no digest, e.g. on the simulated local cluster).
    """
    current = last_good(source.store().list())
    if current is None:
        raise InputError(f"nothing is deployed in stage {source.stage!r} ({source.namespace}) to promote")
    images = dict(current.images)
    for key, pin in current.pins.items():  # what the record pinned is what ran: the same bytes, by digest
        if key in images and pin.get("reference"):
            images[key] = pin["reference"]
    pods = source.kube.list(
        "v1", "Pod", namespace=source.namespace, label_selector=f"app.kubernetes.io/part-of={source.app}"
    )
    notes = []
    for obj in current.objects:
        selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")
        if not selector:
            continue
        for pod in pods:
            labels = pod["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in selector.items()):
                continue
            for cs in pod.get("status", {}).get("containerStatuses") or []:
                key = f"{obj['kind']}/{obj['metadata']['name']}/{cs['name']}"
                digest = (cs.get("imageID") or "").rpartition("@")[2]
                if key in images and key not in current.pins and digest.startswith("sha256:"):
                    images[key] = f"{_repository(images[key])}@{digest}"
    for key, image in sorted(images.items()):
        if "@sha256:" not in image:
            notes.append(f"{key}: {image} is not pinned to a digest (the source stage's runtime reported none)")
    return images, notes


def promoted(
    images: dict[str, str],
    *,
    stage: str,
    registry: StageRegistry | None,
    pin: bool,
    client: Client | None,
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The images to deploy in the destination stage and their pins for its record.

    Digests come from the source (its record or pods); an image the source ran by tag only is
    resolved now when the destination pins. A destination with its own registry gets the same
    digest from there, which `shiplane images push --stage <destination>` must have copied.
    """
    out, pins, problems = dict(images), {}, []
    for key, image in sorted(images.items()):
        ref = Reference.parse(image)
        try:
            digest = ref.digest
            if digest is None and (pin or registry) and client is not None:
                digest = client.resolve(pinning.relocated(ref, registry) if registry else ref)
            if digest is None:
                continue
            source = pinning.pinned(image, digest)
            reference = source
            if registry:
                target = pinning.relocated(ref, registry)
                moved = Reference(target.registry, target.repository, target.tag, digest)
                if client is not None and not client.has_manifest(moved):
                    raise ImageNotFound(f"{moved}: not found in registry {target.registry}")
                reference = str(moved)
            out[key] = reference
            pins[key] = {"image": image.split("@", 1)[0], "digest": digest, "reference": reference}
            if registry:
                pins[key]["source"] = source
        except RegistryUnreachable:
            raise
        except RegistryError as err:
            hint = f" (relocate it first: shiplane images push --stage {stage})" if registry else ""
            problems.append(f"{key}: image {image!r}: {err.message}{hint}")
    if problems:
        raise InputErrors(
            [f"{len(problems)} image(s) cannot be promoted, nothing was applied:", *(f"  {p}" for p in problems)],
            hint="push the image, fix its reference, or check the registry credentials (`docker login`)",
        )
    return out, pins
