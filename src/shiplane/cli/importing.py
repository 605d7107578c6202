"""`shiplane import compose|systemd|procfile|manifests|helm|kustomize`: what exists → shiplane.yaml + a report."""

from __future__ import annotations

from pathlib import Path

import click

_OUT = click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where shiplane.yaml, .shiplane-secrets/ and .gitignore go. Default: the first input's directory.",
)
_REPORT = click.option(
    "--report",
    "report_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Format of the import report on stdout.",
)
_FORCE = click.option(
    "--force", is_flag=True, help="Overwrite an existing shiplane.yaml, secret files and raw/ files of the same names."
)
_DRY = click.option(
    "--dry-run",
    is_flag=True,
    help="Write no file: print the report, the spec that would be written (text report) and every path "
    "that would be written (stderr).",
)


def _finish(imported, out_dir: Path, report_format: str, force: bool, raw: list | None = None, dry_run=False) -> None:
    from shiplane.importing import writing
    from shiplane.rendering.exporting import to_yaml

    raw_texts = [(name, to_yaml(obj)) for name, obj in raw or []]
    args = (out_dir, imported.spec, imported.report, imported.secret_values)
    if dry_run:  # the same checks as writing, then what would be written; secret values stay unprinted
        text, paths = writing.preview(*args, force=force, raw=raw_texts, recipes=imported.recipes)
        click.echo(imported.report.to_json() if report_format == "json" else imported.report.to_text(), nl=False)
        if report_format != "json":
            click.echo(f"\n# {paths[0]} (would be written)\n{text}", nl=False)
        for path in paths:
            click.echo(f"would write {path}", err=True)
        return
    written = writing.write(*args, force=force, raw=raw_texts, recipes=imported.recipes)
    click.echo(imported.report.to_json() if report_format == "json" else imported.report.to_text(), nl=False)
    click.echo(f"wrote {written}", err=True)
    if imported.secret_values:
        click.echo(
            f"wrote {len(imported.secret_values)} secret value(s) to {out_dir / writing.SECRETS_DIR} (git-ignored)",
            err=True,
        )
    if raw:
        click.echo(f"kept {len(raw)} object(s) as-is in {out_dir / 'raw'}", err=True)


@click.group("import")
def import_() -> None:
    """Import compose, systemd units, Procfiles, manifests, Helm charts or Kustomize into a spec."""


@import_.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@_OUT
@click.option("--profile", "profiles", multiple=True, help="Enable a compose profile (repeatable).")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Variables for interpolation instead of the project's .env.",
)
@click.option("-p", "--project-name", default=None, help="App name (default: compose `name:` or the directory).")
@click.option(
    "--connections",
    type=click.Choice(["inferred", "evidence", "network"]),
    default="inferred",
    show_default=True,
    help="connectsTo: what each service's configuration or depends_on names, else its networks with a "
    "warning (inferred); only what is named (evidence); or every service on a shared network (network).",
)
@_REPORT
@_FORCE
@_DRY
def compose(
    files: tuple[Path, ...],
    output_dir: Path | None,
    profiles: tuple[str, ...],
    env_file: Path | None,
    project_name: str | None,
    connections: str,
    report_format: str,
    force: bool,
    dry_run: bool,
) -> None:
    """Import compose FILES (merged in order, as `docker compose -f A -f B config`)."""
    from shiplane.importing import import_compose

    out_dir = output_dir or files[0].parent
    imported = import_compose(
        list(files),
        out_dir=out_dir,
        profiles=list(profiles) or None,
        env_file=env_file,
        project_name=project_name,
        connections=connections,
    )
    _finish(imported, out_dir, report_format, force, dry_run=dry_run)


def _app_name(name: str | None, first: Path) -> str:
    from shiplane.importing.compose import spec_name

    return spec_name(name or first.resolve().parent.name)


@import_.command()
@click.argument("units", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@_OUT
@click.option("--name", default=None, help="App name (default: the units' directory).")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A copy of the VM's filesystem: absolute EnvironmentFile= paths are read under it "
    "(otherwise only beside the unit; never from this machine's own /etc).",
)
@click.option(
    "--packages",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The VM's package listing (`dpkg -S BINARY` and `dpkg-query -W` output): each service gets "
    "images/<name>/Dockerfile.",
)
@_REPORT
@_FORCE
@_DRY
def systemd(
    units: tuple[Path, ...],
    output_dir: Path | None,
    name: str | None,
    root: Path | None,
    packages: Path | None,
    report_format: str,
    force: bool,
    dry_run: bool,
) -> None:
    """Import systemd service UNITS from a VM (with --packages, an image recipe for each)."""
    from shiplane.errors import InputError
    from shiplane.fileio import reading
    from shiplane.importing import systemd as sd

    listing = None
    if packages is not None:
        if not packages.is_file():
            raise InputError(f"{packages}: no such package listing (--packages)")
        listing = reading.read_text(packages, what="package listing")
    imported = sd.convert(sd.load(list(units), root=root), _app_name(name, units[0]), [u.name for u in units], listing)
    _finish(imported, output_dir or units[0].parent, report_format, force, dry_run=dry_run)


@import_.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_OUT
@click.option("--name", default=None, help="App name (default: the Procfile's directory).")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A .env with the app's configuration (secret-looking values become secrets).",
)
@_REPORT
@_FORCE
@_DRY
def procfile(
    file: Path,
    output_dir: Path | None,
    name: str | None,
    env_file: Path | None,
    report_format: str,
    force: bool,
    dry_run: bool,
) -> None:
    """Import a Procfile's process types (web is exposed; release becomes a migration)."""
    from shiplane.errors import InputError
    from shiplane.fileio import reading
    from shiplane.importing import procfile as pf
    from shiplane.importing.interpolating import parse_dotenv

    env = None
    if env_file is not None:
        if not env_file.is_file():
            raise InputError(f"{env_file}: no such env file (--env-file)")
        env = parse_dotenv(reading.read_text(env_file, what="env file"), str(env_file))
    imported = pf.convert(pf.load(file), _app_name(name, file), file.name, env)
    _finish(imported, output_dir or file.parent, report_format, force, dry_run=dry_run)


@import_.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_OUT
@click.option("--name", default=None, help="App name (default: the first path's directory).")
@_REPORT
@_FORCE
@_DRY
def manifests(
    paths: tuple[Path, ...], output_dir: Path | None, name: str | None, report_format: str, force: bool, dry_run: bool
) -> None:
    """Adopt existing Kubernetes YAML (files or directories): workloads become services, the rest raw/."""
    from shiplane.importing import manifests as mf

    first = paths[0] if paths[0].is_dir() else paths[0].parent
    out_dir = output_dir or first
    docs, names = mf.load(list(paths))
    imported, raw = mf.convert(docs, _app_name(name, first / "x"), names)
    _finish(imported, out_dir, report_format, force, raw, dry_run=dry_run)


def _kubectl() -> Path:
    import shutil

    found = shutil.which("kubectl") or ("/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None)
    if found is None:
        from shiplane.errors import EnvironmentProblem

        raise EnvironmentProblem("kubectl not found on PATH (needed for `kubectl kustomize`)")
    return Path(found)


@import_.command()
@click.argument("chart", type=click.Path(path_type=Path))
@click.option(
    "-f",
    "--values",
    "values",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A values file for helm template (repeatable, later wins).",
)
@_OUT
@click.option("--name", default=None, help="App and release name (default: the chart's directory).")
@click.option("--plain", is_flag=True, help="Progress as plain lines (when helm is built first).")
@_REPORT
@_FORCE
@_DRY
def helm(
    chart: Path,
    values: tuple[Path, ...],
    output_dir: Path | None,
    name: str | None,
    plain: bool,
    report_format: str,
    force: bool,
    dry_run: bool,
) -> None:
    """Import a Helm CHART through `helm template`, then map its objects like manifests."""
    from shiplane.cli.output import drain
    from shiplane.importing import rendered
    from shiplane.localcluster import tools

    app = _app_name(name, chart / "x")
    helm_bin = tools.locate("helm") or drain(tools.build("helm"), plain=plain or None)
    text = rendered.helm_template(helm_bin, chart, list(values), app)
    imported = rendered.convert(rendered.documents(text, str(chart)), app, "helm", str(chart))
    _finish(imported, output_dir or Path("."), report_format, force, dry_run=dry_run)


@import_.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_OUT
@click.option("--name", default=None, help="App name (default: the directory's name).")
@_REPORT
@_FORCE
@_DRY
def kustomize(
    directory: Path, output_dir: Path | None, name: str | None, report_format: str, force: bool, dry_run: bool
) -> None:
    """Import a Kustomize DIRECTORY through `kubectl kustomize`, then map its objects like manifests."""
    from shiplane.importing import rendered

    app = _app_name(name, directory / "x")
    text = rendered.kustomize(_kubectl(), directory)
    imported = rendered.convert(rendered.documents(text, str(directory)), app, "kustomize", str(directory))
    _finish(imported, output_dir or Path("."), report_format, force, dry_run=dry_run)
