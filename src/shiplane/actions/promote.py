"""`shiplane promote`: deploy to one stage exactly the images another stage runs."""

from __future__ import annotations

from shiplane.actions.target import Target
from shiplane.errors import InputError
from shiplane.releases.history import last_good


def _repository(image: str) -> str:
    """registry/name without tag or digest (a ':' after the last '/' is a tag, before it a port)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def running_images(source: Target) -> tuple[dict[str, str], list[str]]:
    """workload/container → image the source stage runs, pinned to digests where pods report them.

    Returns the images and notes for those that could only be taken by tag (the runtime
    reported no digest, e.g. on the simulated local cluster).
    """
    current = last_good(source.store().list())
    if current is None:
        raise InputError(f"nothing is deployed in stage {source.stage!r} ({source.namespace}) to promote")
    images = dict(current.images)
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
                if key in images and digest.startswith("sha256:"):
                    images[key] = f"{_repository(images[key])}@{digest}"
    for key, image in sorted(images.items()):
        if "@sha256:" not in image:
            notes.append(f"{key}: {image} is not pinned to a digest (the source stage's runtime reported none)")
    return images, notes
