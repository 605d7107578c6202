"""Digest pinning and relocation: every image a stage uses, resolved once, before anything is applied.

`images.pin: true` resolves each distinct image of the stage to a digest (one request per image,
cached on the run's registry client) and deploys `repo:tag@sha256:…`. A stage `registry:`
relocates: images are expected at `host/prefix/<repository>` (copied there by
`shiplane images push`), resolved there, and deployed as `host/prefix/<repository>:tag@sha256:…`.
Failures are found before the first write: an image that does not exist (or may not be read)
is a preflight error naming the workload and image (exit 2); a registry that cannot be reached
is exit 3. Nothing is applied in either case.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from shiplane.errors import (
    ImageNotFound,
    InputErrors,
    RegistryDenied,
    RegistryError,
    RegistryUnreachable,
    ShiplaneError,
)
from shiplane.registry import Client, DockerConfig, Reference
from shiplane.spec.app import Stage, StageRegistry


@dataclass(frozen=True)
class Pin:
    image: str  # as the spec writes it
    digest: str
    reference: str  # what is deployed
    source: str = ""  # a relocated image: where it came from (the spec's registry), pinned

    def to_json(self) -> dict[str, str]:
        out = {"image": self.image, "digest": self.digest, "reference": self.reference}
        if self.source:
            out["source"] = self.source
        return out


def wanted(stage: Stage) -> bool:
    """Does this stage resolve images before deploying? (`images.pin`, or relocation to a registry.)"""
    return bool(stage.images.pin or stage.registry)


def users(objects: list[dict]) -> dict[str, list[str]]:
    """image → the `kind/name/container` keys using it (containers and init containers), in object order."""
    found: dict[str, list[str]] = {}
    for obj in objects:
        spec = obj.get("spec") or {}
        pod = (spec.get("jobTemplate", {}).get("spec", {}) if obj.get("kind") == "CronJob" else spec).get("template")
        pod_spec = (pod or {}).get("spec") or {}
        for c in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]:
            key = f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}"
            found.setdefault(c["image"], []).append(key)
    return found


def _written_without_digest(image: str) -> str:
    return image.split("@", 1)[0]


def pinned(image: str, digest: str) -> str:
    """`repo:tag` → `repo:tag@sha256:…`: the digest decides, the tag stays readable."""
    return f"{_written_without_digest(image)}@{digest}"


def relocated(ref: Reference, registry: StageRegistry) -> Reference:
    """Where `ref` lives in the stage's registry: `host/prefix/<repository>` with the same tag and digest."""
    prefix = registry.prefix.strip("/")
    if ref.registry == registry.host and (not prefix or ref.repository.startswith(prefix + "/")):
        return ref  # already there (built and pushed to the stage's registry)
    repository = f"{prefix}/{ref.repository}" if prefix else ref.repository
    return Reference.parse(str(Reference(registry.host, repository, ref.tag, ref.digest)))


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if not host.endswith("]") else host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def client_for(registry: StageRegistry | None, images: Iterable[str] = ()) -> Client:
    """A registry client for a stage: credentials from the Docker config, plain HTTP for the stage
    registry when it says `insecure`, for loopback registries (as Docker treats 127.0.0.0/8), and
    for hosts in $SHIPLANE_INSECURE_REGISTRIES."""
    insecure = set()
    if registry and registry.insecure:
        insecure.add(registry.host)
    for image in images:
        try:
            host = Reference.parse(image).registry
        except ShiplaneError:
            continue
        if _loopback(host):
            insecure.add(host)
    if registry and _loopback(registry.host):
        insecure.add(registry.host)
    return Client(insecure=insecure, config=DockerConfig.load())


def resolve(objects: list[dict], stage: Stage, client: Client, *, stage_name: str = "") -> dict[str, Pin]:
    """image as written → Pin, for every image the objects use; one request per distinct image.

    Every failure is collected first, so one run names all unresolvable images.
    """
    by_image = users(objects)
    pins: dict[str, Pin] = {}
    problems: list[str] = []
    unreachable: list[str] = []
    denied: list[str] = []
    for image, keys in by_image.items():
        where = f"{', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}: image {image!r}"
        try:
            ref = Reference.parse(image)
            if stage.registry:
                target = relocated(ref, stage.registry)
                if target.digest and not client.has_manifest(target):
                    raise ImageNotFound(f"{target}: not found in registry {target.registry}")
                digest = client.resolve(target)  # the tag as `images push` copied it
                reference = pinned(str(Reference(target.registry, target.repository, target.tag)), digest)
                pins[image] = Pin(image, digest, reference, source=pinned(image, digest))
            else:
                digest = client.resolve(ref)
                pins[image] = Pin(image, digest, pinned(image, digest))
        except RegistryUnreachable as err:
            unreachable.append(f"{where}: {err.message}")
        except ImageNotFound as err:
            hint = f" (relocate it first: shiplane images push --stage {stage_name or 'S'})" if stage.registry else ""
            problems.append(f"{where}: cannot be resolved to a digest: {err.message}{hint}")
        except RegistryDenied as err:
            denied.append(f"{where}: {err.message}")
        except RegistryError as err:
            problems.append(f"{where}: cannot be resolved to a digest: {err.message}")
        except ShiplaneError as err:  # a bad reference
            problems.append(f"{where}: {err.message}")
    if unreachable:
        raise RegistryUnreachable(
            "images cannot be pinned, nothing was applied:\n  " + "\n  ".join(unreachable),
            hint="start the registry or check the network; offline rehearsals set `images.pin: false`",
        )
    if denied:
        raise RegistryDenied(
            "images cannot be pinned, nothing was applied:\n  " + "\n  ".join(denied),
            hint="`docker login` to the registry (shiplane reads ~/.docker/config.json or $DOCKER_CONFIG)",
        )
    if problems:
        raise InputErrors(
            [f"{len(problems)} image(s) cannot be pinned, nothing was applied:", *(f"  {p}" for p in problems)],
            hint="push the image, fix its reference, or check the registry credentials (`docker login`)",
        )
    return pins


def record(objects: list[dict], pins: dict[str, Pin]) -> dict[str, dict[str, str]]:
    """kind/name/container → its pin, for the release record (`objects` rendered before pinning)."""
    return {key: pins[image].to_json() for image, keys in users(objects).items() if image in pins for key in keys}
