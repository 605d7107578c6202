"""What a stage should run: load the spec, render the stage, validate offline."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from shiplane import rendering, schemas, spec
from shiplane.actions import pinning
from shiplane.actions.gate import Policy
from shiplane.actions.imageaudit import ImageGate
from shiplane.actions.signatures import SignatureGate
from shiplane.registry import Client
from shiplane.releases.record import strip_secret
from shiplane.secrets import etcd
from shiplane.spec import StageSpec
from shiplane.spec.app import StageRegistry
from shiplane.spec.inputs import gather, generated_secrets


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
    signatures: SignatureGate | None = None  # the stage's images.signatures (keys resolved against the spec)
    images: ImageGate = field(default_factory=ImageGate)  # the stage's image gate (images.failOn …)
    # kind/name/container → its image's pin (`images.pin` or a stage registry), for the release record
    pins: dict[str, dict[str, str]] = field(default_factory=dict)
    pin: bool = False  # the stage's `images.pin`
    registry: StageRegistry | None = None  # the stage's own registry (relocation)
    etcd: dict = field(default_factory=dict)  # per etcd source: the revision read and each key's mod revision
    target_id: str = ""  # with `targets:`: which target (keys its lock and release records)
    target_name: str = ""  # `prod/region=eu,tenant=acme`

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
    target_id: str = ""
    target_name: str = ""


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


# Given the stage and its namespace, the values of its generated secrets (read from the cluster).
Generated = Callable[[StageSpec, str], Mapping[str, bytes]]
# Given the stage, its namespace and the generated values rendered, the previous versions to keep.
Retained = Callable[[StageSpec, str, Mapping[str, bytes]], Mapping[str, bytes]]
# Given the stage and its namespace, the stage's digest key (read from the cluster, shiplane.digests).
DigestKey = Callable[[StageSpec, str], bytes]


def select(files: list[Path], stage: str | None, selector=None, *, all_targets: bool = False) -> list[spec.StageSpec]:
    """What --stage/--target/--all-targets name: the stage, or the matching targets (spec.select)."""
    return spec.load(files or [Path("shiplane.yaml")]).select(stage, selector, all_targets=all_targets)


def one(files: list[Path], stage: str, selector=None) -> spec.StageSpec:
    """The single stage or target a command works on (several matching targets: an input error)."""
    return select(files, stage, selector)[0]


def _ids(stage_spec: spec.StageSpec) -> dict[str, str]:
    t = stage_spec.target
    return {"target_id": t.id, "target_name": t.name} if t is not None else {}


def load(
    files: list[Path],
    stage: str,
    *,
    namespace: str | None = None,
    pin: bool = True,
    client: Client | None = None,
    images: dict[str, str] | None = None,
    generated: Generated | None = None,
    etcd_at: Mapping[str, int] | None = None,
    retained: Retained | None = None,
    selector=None,
    stage_spec: spec.StageSpec | None = None,
    digest_key: DigestKey | None = None,
) -> Desired:
    """Load, gather and render a stage. Values from the deploying machine are read (and any missing
    one reported) before etcd is read (`etcd_at` pins sources to the revisions a release recorded)
    and `generated` is called, which may connect to the cluster; without it, generated secrets
    render as a placeholder. With `images.pin` or a stage `registry`, every image is then resolved
    to a digest (through `client`, else one made for the stage) and rendered pinned; `pin=False`
    renders the images as written (promotion takes its digests from a record). `images` replaces
    images as the spec writes them before pinning (`deploy --build`: the pushed ones). With
    `targets:`, the one target `selector` names (or `stage_spec`, already chosen) is rendered.
    `digest_key` gives the stage's key for every digest of secret material (Secret names, the
    record's data digests, etcd values); without it Secrets are named by a plain content hash."""
    stage_spec = stage_spec or one(files, stage, selector)
    ns = namespace or stage_spec.namespace
    gather(stage_spec)  # a missing variable or file fails here, before any request
    key = digest_key(stage_spec, ns) if digest_key is not None else None
    from_etcd = etcd.read(stage_spec, at=etcd_at, digest_key=key)
    values = generated(stage_spec, ns) if generated is not None and generated_secrets(stage_spec) else None
    kept = retained(stage_spec, ns, values) if retained is not None and values is not None else None
    inputs = gather(
        stage_spec,
        generated=values,
        external=from_etcd.secrets,
        config=from_etcd.config,
        retained=kept,
        digest_key=key,
    )
    built = dict(images or {})
    objects = rendering.render(stage_spec, inputs, namespace=ns, images=built)
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
        mapping.update({written: found[ref].reference for written, ref in built.items() if ref in found})
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
        signatures=signature_gate(stage_spec),
        etcd=from_etcd.record,
        **_ids(stage_spec),
    )


def signature_gate(stage_spec) -> SignatureGate | None:
    """The stage's `images.signatures`, key paths made absolute against the spec's directory."""
    wanted = stage_spec.stage.images.signatures
    if not wanted.keys and not wanted.required:
        return None
    return SignatureGate(
        keys=tuple(str(stage_spec.base_dir / k) for k in wanted.keys),
        required=wanted.required,
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


def locate(files: list[Path], stage: str, *, namespace: str | None = None, selector=None) -> Where:
    """The stage's app, namespace and context: enough for history, status, unlock and rollback,
    which read the cluster's records and never need the secret values."""
    stage_spec = one(files, stage, selector)
    where = (stage_spec.doc.app.name, stage, namespace or stage_spec.namespace, stage_spec.stage.context)
    return Where(*where, **_ids(stage_spec))


def structure(files: list[Path], stage: str, *, namespace: str | None = None, selector=None) -> list[dict]:
    """The stage's objects rendered without reading any secret value: each Secret gets an empty
    placeholder, so Secret names (which carry a hash of the value) are not the real ones."""
    stage_spec = one(files, stage, selector)
    ns = namespace or stage_spec.namespace
    objects = rendering.render(stage_spec, gather(stage_spec, read_secrets=False), namespace=ns)
    return objects
