"""`shiplane images`: audit container images offline (inventory, advisory database, scan).

Exit codes: 0 ok (scan: nothing at or above --fail-on), 1 scan findings at or above --fail-on,
2 bad input (unreadable or hostile image, bad flags), 3 advisory database missing or empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

FORMATS = ("text", "json")


@click.group()
def images() -> None:
    """Audit container images: what is installed, which advisories affect it.

    \b
    IMAGE is a local path: an OCI image layout (directory or tar), a `docker save` archive
    (legacy or Docker >= 25) or a root filesystem directory; or a registry reference
    (host/repo:tag, repo@sha256:...) read over the OCI distribution API. Nothing is extracted to disk.
    """


INSECURE_OPTION = click.option(
    "--insecure-registry",
    "insecure",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Speak plain HTTP to this registry (a local test registry). Also $SHIPLANE_INSECURE_REGISTRIES.",
)


def _open(path: str, platform: str | None, insecure: tuple[str, ...] = ()):
    from shiplane.cli.output import sink
    from shiplane.images import inventory, open_image

    with sink() as on_event:
        return open_image(
            path,
            wanted=inventory.WANTED,
            inspect=inventory.INSPECT,
            platform=platform,
            on_event=on_event,
            insecure=frozenset(insecure),
        )


@images.command("inventory")
@click.argument("image", type=click.Path())
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--platform", default=None, help="OS/ARCH to pick from a multi-platform index (default linux/amd64).")
@INSECURE_OPTION
def inventory_(image: str, output: str, platform: str | None, insecure: tuple[str, ...]) -> int:
    """List the OS release and every package found in IMAGE, each with its package URL and layer."""
    from shiplane.images import inventory

    img = _open(image, platform, insecure)
    try:
        inv = inventory.take(img.fs)
    finally:
        img.close()
    if output == "json":
        doc = {
            "image": image,
            "kind": img.source.kind,
            "tags": img.source.tags,
            "manifestDigest": img.source.manifest_digest,
            "configDigest": img.source.config_digest,
            "layers": [
                {"index": la.index, "digest": la.digest, "diffId": la.diff_id, "files": la.files, "bytes": la.size}
                for la in img.fs.layers
            ],
            **inv.to_dict(),
        }
        click.echo(json.dumps(doc, indent=2))
        return 0
    os_name = inv.os.pretty_name or inv.os.id or "unknown OS"
    click.echo(f"{image}: {os_name}, {len(img.fs.layers)} layer(s), {len(inv.packages)} package(s)")
    width = max((len(p.name) for p in inv.packages), default=4)
    for p in inv.packages:
        owner = f"  (shipped by {p.detail['ownedBy']})" if p.detail.get("ownedBy") else ""
        click.echo(f"  {p.type:7} {p.name:{width}}  {p.version:24} layer {p.layer}  /{p.location}{owner}")
    for note in inv.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    return 0


@images.group("db")
def db() -> None:
    """The local advisory database (OSV data imported from files; never downloaded at scan time)."""


def _database(path: str | None):
    from shiplane.images.database import Database

    return Database(Path(path) if path else None)


DB_OPTION = click.option(
    "--db",
    "db_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Database file (default: $SHIPLANE_CACHE/advisories.db, else ~/.cache/shiplane/advisories.db).",
)


@db.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@DB_OPTION
@click.option("--dry-run", is_flag=True, help="Read and check every record; write nothing.")
def db_import(paths: tuple[str, ...], db_path: str | None, dry_run: bool) -> int:
    """Import OSV advisories: JSON or YAML files, folders of them, or osv.dev's all.zip.

    Each PATH is one source; importing it again replaces what it brought before.
    """
    import time

    from shiplane.cli.output import sink
    from shiplane.images.database import run_import

    database = _database(db_path)
    started = time.monotonic()
    with sink() as on_event:
        count = run_import(database, [Path(p) for p in paths], on_event, dry_run=dry_run)
    verb = "would import" if dry_run else "imported"
    target = "" if dry_run else f" into {database.path}"
    click.echo(f"{verb} {count} advisories from {len(paths)} source(s){target} in {time.monotonic() - started:.1f}s")
    return 0


@db.command("status")
@DB_OPTION
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True)
def db_status(db_path: str | None, output: str) -> int:
    """Sources, advisory counts per ecosystem and the age of each import. Exit 3 when there is no data."""
    status = _database(db_path).require()
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "path": str(status.path),
                    "advisories": status.advisories,
                    "ecosystems": status.by_ecosystem,
                    "supportLines": status.support_lines,
                    "sources": [
                        {
                            "path": s.path,
                            "importedAt": s.imported_at.isoformat(),
                            "advisories": s.advisories,
                            "ageDays": round(s.age().total_seconds() / 86400, 2),
                        }
                        for s in status.sources
                    ],
                },
                indent=2,
            )
        )
        return 0
    click.echo(f"{status.path}: {status.advisories} advisories")
    for eco, n in status.by_ecosystem.items():
        click.echo(f"  {eco:20} {n}")
    if status.support_lines:
        click.echo(f"  {'Debian support lists':20} {status.support_lines} lines")
    for s in status.sources:
        click.echo(
            f"  source {s.path}: {s.advisories} advisories, imported {s.imported_at:%Y-%m-%d %H:%M} UTC "
            f"({_age(s.age())} ago)"
        )
    return 0


def _age(delta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


@images.command("scan")
@click.argument("image_paths", nargs=-1, required=True, metavar="IMAGE...", type=click.Path())
@click.option("-o", "--output", type=click.Choice(("text", "json", "sarif")), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(("low", "medium", "high", "critical", "never")),
    default="high",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity (unknown severity counts as high).",
)
@click.option(
    "--max-age",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Warn when the advisory data was imported more than this many days ago.",
)
@click.option("--platform", default=None, help="OS/ARCH to pick from a multi-platform index (default linux/amd64).")
@click.option(
    "--exceptions",
    "exceptions_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Reasoned exceptions (shiplane YAML or OpenVEX JSON): accepted findings are shown as excepted.",
)
@INSECURE_OPTION
@DB_OPTION
def scan(
    image_paths: tuple[str, ...],
    output: str,
    fail_on: str,
    max_age: int,
    platform: str | None,
    exceptions_path: str | None,
    insecure: tuple[str, ...],
    db_path: str | None,
) -> int:
    """Match every package of each IMAGE against the local advisory database.

    \b
    Exit 0: nothing at or above --fail-on; 1: findings at or above it; 2: an image cannot be read
    (bad, hostile or truncated input); 3: no advisory data (run `shiplane images db import`).
    """
    import datetime as dt

    from shiplane import events
    from shiplane.cli.output import sink
    from shiplane.images import report
    from shiplane.images.exceptions import load as load_exceptions
    from shiplane.images.scanning import scan as run_scan
    from shiplane.images.severity import GATE_RANK

    accepted = load_exceptions(Path(exceptions_path)) if exceptions_path else None
    with sink() as on_event:
        status, scans = events.result(
            run_scan(
                list(image_paths),
                _database(db_path),
                platform=platform,
                max_age=dt.timedelta(days=max_age),
                exceptions=accepted,
                insecure=frozenset(insecure),
            ),
            on_event,
        )
    failing = sum(len(s.failing(fail_on)) for s in scans)
    problems = list(accepted.problems) if accepted else []
    # An exception that does not apply (expired, no reason) is itself a finding.
    if fail_on != "never":
        failing += sum(1 for p in problems if GATE_RANK[p.severity] >= GATE_RANK[fail_on])
    unreadable = [s for s in scans if s.error]
    if output == "json":
        click.echo(report.to_json(status, scans, fail_on, accepted), nl=False)
    elif output == "sarif":
        click.echo(report.to_sarif(scans), nl=False)
    else:
        _scan_text(scans, fail_on)
    for p in problems:
        click.secho(f"{p.where}: {p.severity}: {p.message}", fg="yellow", err=output != "text")
    for s in unreadable:
        click.secho(f"error: {s.error}", fg="red", err=True)
    if unreadable:
        return 2  # an image that cannot be read is never reported as clean
    return 1 if failing else 0


SEVERITY_COLOR = {"critical": "red", "high": "red", "medium": "yellow", "low": "blue", "unknown": "magenta"}


def _scan_text(scans, fail_on: str) -> None:
    for s in scans:
        if s.error:
            click.secho(f"{s.image}: CANNOT BE READ (not scanned)", fg="red")
            continue
        os_name = s.inventory.os.pretty_name or s.inventory.os.id or "unknown OS"
        gate = f", {len(s.failing(fail_on))} at or above {fail_on}" if fail_on != "never" else ""
        click.echo(
            f"{s.image} ({os_name}): {len(s.inventory.packages)} packages, {len(s.matches.findings)} findings{gate}"
        )
        for f in s.matches.findings:
            fixed = ", ".join(f.fixed) or "no fix known"
            aka = f" ({', '.join(f.aliases[:3])}{'…' if len(f.aliases) > 3 else ''})" if f.aliases else ""
            click.echo(
                "  "
                + click.style(f"{f.severity:8}", fg=SEVERITY_COLOR[f.severity])
                + f" {f.id}{aka}  {f.package.name} {f.installed} -> {fixed}  "
                f"[layer {f.package.layer}] /{f.package.location}"
            )
        for f, e in s.excepted:
            until = f" until {e.expires.isoformat()}" if e.expires else ""
            click.secho(f"  excepted {f.id}  {f.package.name} {f.installed}: {e.reason}{until} ({e.where})", fg="cyan")
        for n in s.support:
            when = {"ended": f"ended {n.rule.date}", "ends": f"ends {n.rule.date}", "limited": "limited"}[n.status]
            click.secho(
                f"  support  {n.package.name} {n.package.version} (source {n.package.source_name}): "
                f"security support {when}: {n.rule.details}",
                fg="yellow",
            )
        for u in s.matches.undecided:
            click.secho(f"  undecided {u.advisory} {u.package.purl}: {u.reason}", fg="yellow")
        for note in s.inventory.notes:
            click.secho(f"note: {note}", fg="yellow", err=True)


@images.command("sbom")
@click.argument("image", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("cyclonedx", "spdx")),
    default="cyclonedx",
    show_default=True,
    help="CycloneDX 1.6 JSON or SPDX 2.3 JSON.",
)
@click.option("--platform", default=None, help="OS/ARCH to pick from a multi-platform index (default linux/amd64).")
@INSECURE_OPTION
def sbom(image: str, fmt: str, platform: str | None, insecure: tuple[str, ...]) -> int:
    """Write a software bill of materials of IMAGE to stdout (every package with its purl and layer)."""
    from shiplane.images import inventory
    from shiplane.images import sbom as boms

    img = _open(image, platform, insecure)
    try:
        inv = inventory.take(img.fs)
    finally:
        img.close()
    click.echo(boms.to_cyclonedx(img.source, inv) if fmt == "cyclonedx" else boms.to_spdx(img.source, inv), nl=False)
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


@images.command("lean")
@click.argument("image", type=click.Path())
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--platform", default=None, help="OS/ARCH to pick from a multi-platform index (default linux/amd64).")
@click.option(
    "--fail-on-build-tools",
    is_flag=True,
    help="Exit 1 when IMAGE holds a compiler or build tool (no compiler in production).",
)
@INSECURE_OPTION
def lean(image: str, output: str, platform: str | None, fail_on_build_tools: bool, insecure: tuple[str, ...]) -> int:
    """What IMAGE carries that production does not need: compilers, shells, setuid files, wasted bytes.

    \b
    Exit 0 done (1 with --fail-on-build-tools when a compiler or build tool is found), 2 bad input.
    """
    from shiplane.images import lean as leanreport
    from shiplane.images.inventory.distro import owned_files

    img = _open(image, platform, insecure)
    try:
        rep = leanreport.report(img.fs, img.source.config, owned_files(img.fs))
    finally:
        img.close()
    failing = fail_on_build_tools and bool(rep.build_tools)
    if output == "json":
        click.echo(json.dumps({"version": 1, **rep.to_dict()}, indent=2))
        return 1 if failing else 0
    click.echo(
        f"{image}: {_size(rep.total_bytes)} in {len(rep.layers)} layer(s), "
        f"{_size(rep.wasted_bytes)} wasted by files later layers overwrote or deleted"
    )
    for cat in leanreport.CATEGORIES:
        found = rep.of(cat)
        if found:
            click.secho(f"{cat}s ({len(found)}):", bold=True, fg="red" if cat in ("compiler", "build-tool") else None)
            for t in found:
                extra = f" -> /{t.target}" if t.target else ""
                by = f"  ({t.package})" if t.package else ""
                click.echo(f"  /{t.path}{extra}  [layer {t.layer}]{by}")
    if rep.headers[0]:
        click.echo(f"headers: {rep.headers[0]} files, {_size(rep.headers[1])} under /usr/include")
    for title, items in (("setuid/setgid", rep.setuid), ("world-writable", rep.world_writable)):
        if items:
            click.secho(f"{title} ({len(items)}):", bold=True)
            for s in items:
                click.echo(f"  {s.mode:04o} {s.kind:14} /{s.path}  [layer {s.layer}]")
    click.secho("layers:", bold=True)
    for la in rep.layers:
        waste = f", {_size(la.wasted)} wasted later" if la.wasted else ""
        click.echo(f"  {la.index:>3}  {_size(la.bytes):>10}  {la.files:>6} entries{waste}  {la.created_by[:70]}")
    if rep.wasted:
        click.secho("wasted (largest first):", bold=True)
        for w in rep.wasted[:20]:
            click.echo(f"  {_size(w.size):>10}  /{w.path}  layer {w.layer}, {w.how} in layer {w.by}")
    click.secho("largest files:", bold=True)
    for e in rep.largest[:10]:
        click.echo(f"  {_size(e.size):>10}  /{e.path}  [layer {e.layer}]")
    return 1 if failing else 0


def _signing() -> None:
    """`images sign` and `images verify` live in their own module (cli/signing.py)."""
    from shiplane.cli.signing import sign, verify

    images.add_command(sign)
    images.add_command(verify)


_signing()


def _register_push() -> None:
    """`images push` (relocation) lives in cli/relocate.py; only registered here."""
    from shiplane.cli.relocate import push

    images.add_command(push)


_register_push()
