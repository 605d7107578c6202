"""Helm charts and Kustomize directories: rendered by the real tools, then the manifests mapping.

`helm template` and `kubectl kustomize` produce plain objects; each keeps where it came from
(helm's `# Source: chart/templates/x.yaml` comment, or the kustomization) so the report can say
what moved where. The tools run with their caches in a temporary directory: nothing is written
to the user's helm configuration, and no repository is contacted for a local chart.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from shiplane.errors import InputError, InputErrors
from shiplane.importing import manifests
from shiplane.importing.compose import Imported

_SOURCE = re.compile(r"^# Source: (.+)$", re.MULTILINE)


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    except FileNotFoundError:
        raise InputError(f"{what}: {argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{what}: did not finish in 300 s") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-5:]
        raise InputError(f"{what} failed (exit {done.returncode}):\n" + "\n".join(f"  {line}" for line in detail))
    return done.stdout


def helm_template(helm: Path, chart: Path, values: list[Path], release: str) -> str:
    if not chart.exists():
        raise InputError(f"{chart}: no such chart directory or archive")
    for v in values:
        if not v.is_file():
            raise InputError(f"{v}: no such values file (-f)")
    with tempfile.TemporaryDirectory(prefix="shiplane-helm-") as home:
        env = {
            **os.environ,
            "HELM_CACHE_HOME": f"{home}/cache",
            "HELM_CONFIG_HOME": f"{home}/config",
            "HELM_DATA_HOME": f"{home}/data",
        }
        argv = [str(helm), "template", release, str(chart), *[a for v in values for a in ("-f", str(v))]]
        return _run(argv, f"helm template {chart}", env)


def kustomize(kubectl: Path, directory: Path) -> str:
    if not (
        directory.is_dir()
        and any((directory / k).is_file() for k in ("kustomization.yaml", "kustomization.yml", "Kustomization"))
    ):
        raise InputError(f"{directory}: no kustomization.yaml in this directory")
    return _run([str(kubectl), "kustomize", str(directory)], f"kubectl kustomize {directory}")


def documents(text: str, origin: str) -> list[tuple[str, dict]]:
    """Objects of a rendered stream, each named by the template it came from (when the tool says)."""
    docs: list[tuple[str, dict]] = []
    problems: list[str] = []
    for chunk in re.split(r"^---[ \t]*$", text, flags=re.MULTILINE):
        if not chunk.strip():
            continue
        m = _SOURCE.search(chunk)
        found, bad = manifests.parse(chunk, m.group(1) if m else origin)
        docs += found
        problems += bad
    if problems:
        raise InputErrors(problems)
    if not docs:
        raise InputError(f"{origin}: rendered no objects")
    return docs


def convert(docs: list[tuple[str, dict]], app: str, tool: str, origin: str) -> Imported:
    """The manifests mapping, then the report says where each rendered object went."""
    imported, _ = manifests.convert(docs, app, [origin])
    report = imported.report
    report.tool = tool
    spec = imported.spec
    managed = {(o["kind"], o["metadata"]["name"]) for o in spec.get("objects", [])}
    for source, obj in docs:
        kind, name = obj["kind"], obj["metadata"]["name"]
        svc = manifests.spec_name(name)
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob") and svc in spec["services"]:
            where = f"services.{svc}"
        elif (kind, name) in managed:
            where = "objects: (as it is)"
        elif kind == "Secret":
            where = ".shiplane-secrets/ (values), referenced by the services"
        elif kind == "Service":
            where = "the ports of the service it selects (rendered again by shiplane)"
        elif kind == "ConfigMap":
            where = "the env/files of the services that use it"
        elif kind == "NetworkPolicy":
            where = "dropped: connectsTo is rendered from the spec instead"
        else:
            where = "absorbed"
        report.moved.append(f"{kind} {name} ({source}) → {where}")
    return imported
