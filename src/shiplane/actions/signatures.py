"""The signature gate in the deploy path: a stage's `images.signatures` refuses unsigned or wrongly
signed images (PolicyRefused, exit 5) before anything is written, and says which key verified each.

Each distinct image is checked once against the registry (legacy `.sig` tag, then sigstore bundle
referrers); what verified it goes into the release record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from shiplane.errors import InputError, PolicyRefused, RegistryError
from shiplane.spec.app import StageRegistry


@dataclass(frozen=True)
class SignatureGate:
    """A stage's signature settings, keys as absolute paths (the spec's are relative to it)."""

    keys: tuple[str, ...] = ()
    required: bool = False
    registry: StageRegistry | None = None  # the stage's registry (plain HTTP when it says `insecure`)
    # Makes the registry client; unit tests and callers with their own client pass one here.
    client: Callable[[], object] | None = field(default=None, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return bool(self.keys) or self.required

    def make_client(self, images: list[str]):
        """The stage's client as pinning makes it: Docker config credentials, plain HTTP for an insecure
        stage registry, loopback registries and $SHIPLANE_INSECURE_REGISTRIES."""
        if self.client is not None:
            return self.client()
        from shiplane.actions import pinning

        return pinning.client_for(self.registry, images)


def images_by_workload(objects: list[dict]) -> dict[str, list[str]]:
    """image → the `Kind/name container c` places that run it (containers and init containers)."""
    out: dict[str, list[str]] = {}
    for obj in objects:
        spec = obj.get("spec", {})
        pod = (spec.get("jobTemplate", {}).get("spec", {}) if obj["kind"] == "CronJob" else spec).get("template", {})
        pod_spec = pod.get("spec") or {}
        for c in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]:
            out.setdefault(c["image"], []).append(f"{obj['kind']}/{obj['metadata']['name']} container {c['name']}")
    return out


def check(objects: list[dict], gate: SignatureGate | None, sources: dict[str, str] | None = None) -> list[dict]:
    """Verify every image the objects run; raise PolicyRefused naming each refused image when signatures
    are required; return what verified each (for the release record). A registry that cannot be reached
    is its own error (exit 3) when signatures are required: "cannot check" is never "signed".

    `sources` maps a relocated image (as deployed) to where it was copied from, at the same digest: its
    signatures may have stayed there (`images push --no-referrers`, or a copy by another tool),
    and a signature of that digest is as good in either repository."""
    if gate is None or not gate.active:
        return []
    if not gate.keys:
        raise InputError(
            "images.signatures.required is true but no keys are listed",
            hint="list the public keys that may sign this stage's images: images.signatures.keys: [cosign.pub]",
        )
    from shiplane.signing import read_public, remote

    keys = [read_public(path) for path in gate.keys]
    by_image = images_by_workload(objects)
    client = gate.make_client([*by_image, *(sources or {}).values()])
    records, refused = [], []
    for image, places in by_image.items():
        signed_at = {}
        try:
            verdict = remote.verify(client, image, keys)
            source = (sources or {}).get(image)
            if not verdict.ok and source:
                found = remote.verify(client, source, keys)
                if found.ok and found.digest == verdict.digest:
                    verdict, signed_at = replace(found, image=image), {"signedAt": source}
        except RegistryError as err:
            if gate.required:
                raise type(err)(f"cannot verify the signature of {image} ({places[0]}): {err.message}") from None
            records.append({"image": image, "verified": False, "reason": err.message, "workloads": places})
            continue
        records.append(verdict.to_dict() | signed_at | {"workloads": places})
        if not verdict.ok:
            refused.append(f"{places[0]}: image {image} ({verdict.digest}): {verdict.reason}")
    if refused and gate.required:
        raise PolicyRefused(
            f"signature policy refuses this deploy: {len(refused)} image(s) not signed by a trusted key "
            f"({', '.join(k.fingerprint for k in keys)}):\n  " + "\n  ".join(refused),
            hint="sign them (`shiplane images sign --key KEY IMAGE` or `cosign sign --key`) with a key listed in "
            "images.signatures.keys, or deploy an image that is",
        )
    return records


def pin(objects: list[dict], records: list[dict]) -> list[dict]:
    """Objects whose verified images run by the digest that was verified (`repo:tag@sha256:…`), so the
    runtime cannot pull something else if the tag moves after the check."""
    import json

    pinned = {r["image"]: f"{r['image']}@{r['digest']}" for r in records if r.get("verified") and "@" not in r["image"]}
    if not pinned:
        return objects
    out = []
    for obj in objects:
        obj = json.loads(json.dumps(obj))
        spec = obj.get("spec", {})
        pod = (spec.get("jobTemplate", {}).get("spec", {}) if obj["kind"] == "CronJob" else spec).get("template", {})
        pod_spec = pod.get("spec") or {}
        for c in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]:
            c["image"] = pinned.get(c["image"], c["image"])
        out.append(obj)
    return out
