"""What a stage should run: load the spec, render the stage, validate offline."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from shiplane import rendering, schemas, spec
from shiplane.actions import pinning
from shiplane.actions.gate import Policy
from shiplane.actions.imageaudit import ImageGate
from shiplane.registry import Client
from shiplane.releases.record import strip_secret
from shiplane.spec.app import StageRegistry
from shiplane.spec.inputs import gather


@dataclass(frozen=True)
class Desired:
    app: str
    stage: str
    namespace: str
    context: str | None
    objects: list[dict]
    spec_digest: str
    kubernetes_version: str
    policy_profile: str = "baseline"
    policy_fail_on: str = "high"
    commit: str = ""  # the spec's git commit (HEAD of its repository), if it is in one
    committed: float | None = None  # that commit's time: where DORA's lead time starts
    images: ImageGate = field(default_factory=ImageGate)  # the stage's image gate (images.failOn …)
    # kind/name/container → its image's pin (`images.pin` or a stage registry), for the release record
    pins: dict[str, dict[str, str]] = field(default_factory=dict)
    pin: bool = False  # the stage's `images.pin`
    registry: StageRegistry | None = None  # the stage's own registry (relocation)

    def policy(self, *, profile: str | None = None, fail_on: str | None = None, overrides=()) -> Policy:
        """The stage's gate settings; flags given override them."""
        return Policy(
            profile or self.policy_profile, fail_on or self.policy_fail_on, tuple(overrides), self.kubernetes_version
        )

    def image_gate(self, *, allow=()) -> ImageGate:
        """The stage's image gate with the command line's reasoned overrides."""
        return replace(self.images, allow=tuple(allow))


@dataclass(frozen=True)
class Where:
    """Where a stage deploys, from the spec's structure alone (no secret value is read)."""

    app: str
    stage: str
    namespace: str
    context: str | None


def digest(objects: list[dict]) -> str:
    """sha256 of the rendered objects with Secret values left out (a digest must not leak them)."""
    canonical = json.dumps([strip_secret(o) for o in objects], sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def with_images(objects: list[dict], images: dict[str, str]) -> list[dict]:
    """Replace container images by `kind/name/container` keys (promotion pins what ran elsewhere)."""
    out = []
    for obj in objects:
        obj = json.loads(json.dumps(obj))
        spec_ = obj.get("spec", {})
        pod = (spec_.get("jobTemplate", {}).get("spec", {}) if obj["kind"] == "CronJob" else spec_).get("template")
        for c in ((pod or {}).get("spec") or {}).get("containers", []):
            key = f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}"
            if key in images:
                c["image"] = images[key]
        out.append(obj)
    return out


def load(
    files: list[Path], stage: str, *, namespace: str | None = None, pin: bool = True, client: Client | None = None
) -> Desired:
    """Render and validate the stage. With `images.pin` or a stage `registry`, every image is first
    resolved to a digest (through `client`, else one made for the stage) and rendered pinned;
    `pin=False` renders the images as written (promotion takes its digests from a record)."""
    stage_spec = spec.load(files or [Path("shiplane.yaml")]).stage(stage)
    ns = namespace or stage_spec.namespace
    inputs = gather(stage_spec)
    objects = rendering.render(stage_spec, inputs, namespace=ns)
    pins: dict[str, dict[str, str]] = {}
    if pin and pinning.wanted(stage_spec.stage):
        own = client or pinning.client_for(stage_spec.stage.registry, pinning.users(objects))
        try:
            found = pinning.resolve(objects, stage_spec.stage, own, stage_name=stage)
        finally:
            if client is None:
                own.close()
        pins = pinning.record(objects, found)
        mapping = {image: p.reference for image, p in found.items()}
        objects = rendering.render(stage_spec, inputs, namespace=ns, images=mapping)
    schemas.validate(objects, stage_spec.kubernetes_version)
    return Desired(
        stage_spec.doc.app.name,
        stage,
        ns,
        stage_spec.stage.context,
        objects,
        digest(objects),
        stage_spec.kubernetes_version,
        stage_spec.stage.policy.profile,
        stage_spec.stage.policy.fail_on,
        *commit_of(files or [Path("shiplane.yaml")]),
        images=image_gate_of(stage_spec),
        pins=pins,
        pin=stage_spec.stage.images.pin,
        registry=stage_spec.stage.registry,
    )


def image_gate_of(stage_spec) -> ImageGate:
    """The stage's images.failOn and exceptions file (relative to the spec); insecure registry hosts."""
    settings = stage_spec.stage.images
    registry = stage_spec.stage.registry
    return ImageGate(
        fail_on=settings.fail_on,
        exceptions=Path(stage_spec.base_dir, settings.exceptions) if settings.exceptions else None,
        insecure=frozenset({registry.host}) if registry is not None and registry.insecure else frozenset(),
    )


def commit_of(files: list[Path]) -> tuple[str, float | None]:
    """(commit id, commit time) of HEAD in the git repository holding the first spec file;
    ("", None) outside a repository or without git (the release then has no lead time)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(files[0].resolve().parent), "log", "-1", "--format=%H %ct"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "", None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2 or not parts[1].isdigit():
        return "", None
    return parts[0], float(parts[1])


def locate(files: list[Path], stage: str, *, namespace: str | None = None) -> Where:
    """The stage's app, namespace and context: enough for history, status, unlock and rollback,
    which read the cluster's records and never need the secret values."""
    stage_spec = spec.load(files or [Path("shiplane.yaml")]).stage(stage)
    return Where(stage_spec.doc.app.name, stage, namespace or stage_spec.namespace, stage_spec.stage.context)


def structure(files: list[Path], stage: str, *, namespace: str | None = None) -> list[dict]:
    """The stage's objects rendered without reading any secret value: each Secret gets an empty
    placeholder, so Secret names (which carry a hash of the value) are not the real ones."""
    stage_spec = spec.load(files or [Path("shiplane.yaml")]).stage(stage)
    ns = namespace or stage_spec.namespace
    objects = rendering.render(stage_spec, gather(stage_spec, read_secrets=False), namespace=ns)
    return objects
