"""`shiplane images sign|verify`: cosign-compatible, key-based image signatures in a registry.

Exit codes: 0 signed / verified, 2 bad input (key file, password, reference, image not found),
3 registry unreachable or access denied, 5 verify: an image is not signed by any of the keys.
"""

from __future__ import annotations

import json

import click

FORMATS = ("text", "json")
insecure_option = click.option(
    "--insecure-registry",
    "insecure",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Talk plain HTTP to this registry (a local one); also $SHIPLANE_INSECURE_REGISTRIES.",
)


def _client(insecure: tuple[str, ...]):
    from shiplane.registry import Client, DockerConfig

    return Client(insecure=set(insecure), config=DockerConfig.load())


@click.command("sign")
@click.argument("image_refs", nargs=-1, required=True, metavar="IMAGE...")
@click.option(
    "--key",
    "key_path",
    required=True,
    help="Private key: PEM PKCS#8 ECDSA, or cosign's encrypted file (password from $COSIGN_PASSWORD).",
)
@click.option(
    "--referrer", is_flag=True, help="Also push a sigstore bundle as an OCI referrer (cosign's --new-bundle-format)."
)
@click.option("--no-legacy", is_flag=True, help="Skip the legacy sha256-<hex>.sig tag (with --referrer: bundle only).")
@click.option("--dry-run", is_flag=True, help="Resolve and read the registry; write nothing.")
@insecure_option
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True)
def sign(image_refs, key_path, referrer, no_legacy, dry_run, insecure, output) -> int:
    """Sign pushed images in cosign's layout (`cosign verify --key` accepts them); no cosign needed."""
    from shiplane.errors import InputError
    from shiplane.signing import read_private, remote

    if no_legacy and not referrer:
        raise InputError("--no-legacy leaves nothing to write: add --referrer")
    key = read_private(key_path)
    results = []
    with _client(insecure) as client:
        for ref in image_refs:
            results.append(remote.sign(client, ref, key, legacy=not no_legacy, referrer=referrer, dry_run=dry_run))
    if output == "json":
        click.echo(json.dumps({"dryRun": dry_run, "images": [r.to_dict() for r in results]}, indent=2))
        return 0
    verb = "would write" if dry_run else "wrote"
    for r in results:
        what = r.skipped or f"{verb} {', '.join(r.written)}"
        click.echo(f"{r.image} ({r.digest}): {what}")
    return 0


@click.command("verify")
@click.argument("image_refs", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--key", "key_paths", required=True, multiple=True, help="Trusted public key (PEM); repeatable.")
@insecure_option
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True)
@click.pass_context
def verify(ctx, image_refs, key_paths, insecure, output) -> int:
    """Check that each image is signed by one of the keys (legacy .sig tag or sigstore bundle referrer)."""
    from shiplane.signing import read_public, remote

    keys = [read_public(p) for p in key_paths]
    with _client(insecure) as client:
        verdicts = [remote.verify(client, ref, keys) for ref in image_refs]
    if output == "json":
        click.echo(
            json.dumps({"verified": all(v.ok for v in verdicts), "images": [v.to_dict() for v in verdicts]}, indent=2)
        )
    else:
        for v in verdicts:
            if v.ok:
                click.echo(
                    f"{v.image} ({v.digest}): verified, {v.layout} signature by {v.key.source} ({v.key.fingerprint})"
                )
            else:
                click.secho(f"{v.image} ({v.digest}): NOT verified: {v.reason}", fg="red")
    ctx.exit(0 if all(v.ok for v in verdicts) else 5)
