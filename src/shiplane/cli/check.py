"""`shiplane check`: policy audit of manifests, a spec's stage, and Dockerfiles.

Exit 0 when no finding is at or above --fail-on, 1 otherwise, 2 on bad input (via main()).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import click

from shiplane.cli.options import selection, spec_files, target_options
from shiplane.errors import InputError

FORMATS = ("text", "json", "sarif", "junit")
LEVELS = ("info", "low", "medium", "high", "critical", "never")


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATH...|-]")
@click.option("-s", "--stage", default=None, help="Check the rendered objects of this stage of the spec.")
@spec_files
@target_options
@click.option("--dockerfile", "dockerfiles", multiple=True, type=click.Path(dir_okay=False), help="Lint a Dockerfile.")
@click.option(
    "-p", "--profile", default=None, help="baseline, restricted, lenient, pss-* (default: the stage's, else baseline)."
)
@click.option(
    "--fail-on", type=click.Choice(LEVELS), default=None, help="Exit 1 at this level (default: the stage's, else high)."
)
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--kubernetes-version", default=None, help="Target version for API checks (default: stage's or 1.36).")
@click.option("--list-rules", is_flag=True, help="Print every rule (id, group, severity, why) and exit.")
@click.option(
    "--images",
    "audit_images",
    is_flag=True,
    help="With --stage: also scan every image the stage runs (advisories, exceptions, build tools).",
)
def check(
    paths: tuple[str, ...],
    stage: str | None,
    files: tuple[Path, ...],
    dockerfiles: tuple[str, ...],
    profile: str | None,
    fail_on: str | None,
    output: str,
    kubernetes_version: str | None,
    list_rules: bool,
    audit_images: bool,
) -> int:
    """Audit Kubernetes objects and Dockerfiles against best-practice and security rules.

    \b
    shiplane check k8s/                       # files and directories (multi-document, kind: List)
    helm template . | shiplane check -        # stdin
    shiplane check --stage prod -p restricted # the rendered objects of a spec's stage
    shiplane check --dockerfile Dockerfile
    shiplane check --stage prod --images      # and every image the stage runs (local advisory db)
    Suppress on the object: check.shiplane.io/ignore: "<rule-id>: <reason>; ..."
    """
    from shiplane import policy
    from shiplane.policy import dockerfile, formats, imagecontent, manifests
    from shiplane.policy.findings import Report, Severity

    all_rules = [*policy.RULES, *dockerfile.RULES, *imagecontent.RULES]
    if list_rules:
        _print_rules(all_rules, profile or "baseline")
        return 0
    if audit_images and stage is None:
        raise InputError("--images needs --stage: it scans the images of a stage's rendered objects")
    if not (paths or stage or dockerfiles):
        raise InputError(
            "nothing to check", hint="give files or directories, '-' for stdin, --stage STAGE, or --dockerfile PATH"
        )
    objects: list[Any] = manifests.read(paths) if paths else []
    version = kubernetes_version
    if stage is not None:
        rendered, stage_spec, built = _stage_objects(stage, list(files) or [Path("shiplane.yaml")])
        objects += rendered
        version = version or stage_spec.kubernetes_version
        dockerfiles = (*dockerfiles, *built)
        # The stage's own strictness (stages.<name>.policy) unless the command line overrides it.
        profile = profile or stage_spec.stage.policy.profile
        fail_on = fail_on or stage_spec.stage.policy.fail_on
    profile = profile or "baseline"
    fail_on = fail_on or "high"
    report = Report(findings=())
    if paths or stage is not None:
        report = policy.evaluate(objects, profile=profile, kubernetes_version=version or "1.36")
    for path in dict.fromkeys(dockerfiles):
        report = report.merged(dockerfile.lint_file(path))
    if audit_images:
        report = report.merged(_image_report([m.obj for m in rendered], stage_spec))
    # The objects now live until exit: keep the cyclic collector's full passes (and the one at exit)
    # off them, a tenth of the time on 5,000 objects. Refcounting still frees what is dropped.
    gc.freeze()
    threshold = Severity.parse(fail_on) if fail_on != "never" else None
    if output == "json":
        click.echo(formats.to_json(report, threshold), nl=False)
    elif output == "sarif":
        click.echo(formats.to_sarif(report, all_rules), nl=False)
    elif output == "junit":
        click.echo(formats.to_junit(report, threshold), nl=False)
    else:
        from shiplane.cli.checktext import render

        render(report, threshold, {r.id: r for r in all_rules})
    return 1 if threshold is not None and report.failing(threshold) else 0


def _image_report(objects: list[dict], stage_spec: Any):
    """Every image of the stage scanned (the image gate's audit, shown per image as check findings)."""
    from shiplane import events
    from shiplane.actions.deploy import images_of
    from shiplane.actions.desired import image_gate_of
    from shiplane.actions.imageaudit import audit
    from shiplane.cli.output import sink
    from shiplane.policy import imagecontent
    from shiplane.policy.findings import Report, Suppressed

    refs = sorted(set(images_of(objects).values()))
    with sink() as on_event:
        result = events.result(audit(refs, image_gate_of(stage_spec), "never"), on_event)
    findings, suppressed = [], []
    for ref, s in result.scans:
        if s.error:
            findings.append(imagecontent.not_scanned(ref, s.error))
            continue
        for f in s.matches.findings:
            findings.append(
                imagecontent.vulnerability(
                    ref, f.id, f.package.name, f.installed, list(f.fixed), f.severity, f"/{f.package.location}"
                )
            )
        for f, exc in s.excepted:
            found = imagecontent.vulnerability(
                ref, f.id, f.package.name, f.installed, list(f.fixed), f.severity, f"/{f.package.location}"
            )
            until = f"until {exc.expires}, " if exc.expires else ""
            suppressed.append(Suppressed(found, f"{exc.reason} ({until}{exc.where})", "exception"))
        tools = [(t.category, t.path, t.layer, t.package) for t in s.tools if t.category in ("compiler", "build-tool")]
        findings += imagecontent.build_tools(ref, tools)
    findings += [imagecontent.exception_problem(p.where, p.message) for p in result.problems]
    return Report(findings=tuple(findings), suppressed=tuple(suppressed))


def _stage_objects(stage: str, files: list[Path]) -> tuple[list[Any], Any, list[str]]:
    """The stage's rendered objects, located at their service in the spec, and its Dockerfiles."""
    from shiplane import rendering, spec
    from shiplane.policy.manifests import Manifest
    from shiplane.spec.inputs import Inputs, read_config_file, used_secrets

    loaded = spec.load(files)
    stage_spec = loaded.select(stage, selection()[0])[0]
    # Policy never needs secret values, and CI checks must run without them: placeholders.
    files_content = {}
    for svc in stage_spec.doc.services.values():
        for f in svc.files.values():
            if f.from_file is not None:
                path = Path(stage_spec.base_dir, f.from_file)
                files_content[f.from_file] = read_config_file(path, f.from_file)
    inputs = Inputs(secrets=dict.fromkeys(used_secrets(stage_spec), b"-"), files=files_content)
    objects = rendering.render(stage_spec, inputs)
    marks = loaded.source.marks
    located = []
    for o in objects:
        svc_name = ((o.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name", "")
        mark = marks.get(("services", svc_name)) or marks.get(("app",))
        located.append(Manifest(o, mark.file if mark else str(files[0]), mark.line if mark else None))
    built = []
    for svc in stage_spec.doc.services.values():
        if svc.build is not None:
            path = Path(stage_spec.base_dir, svc.build.context, svc.build.dockerfile)
            if path.is_file():
                built.append(str(path))
    return located, stage_spec, built


def _print_rules(rules: list, profile: str) -> None:
    from shiplane.policy import profiles

    prof = profiles.get(profile)
    for r in rules:
        sev = prof.severity(r) if r.group != "dockerfile" else r.severity
        state = str(sev) if sev is not None else "off"
        pss = f" [PSS {r.pss}]" if r.pss else ""
        click.echo(f"{r.id:40} {r.group:28} {state:8} {r.title}{pss}")
