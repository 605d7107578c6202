"""The app's rendered stages handed to other tools: a Helm chart, a Kustomize tree, a GitOps repository.

    units = [Unit("dev", "voting-dev", objects_dev, sources), Unit("prod", "voting", objects_prod, sources)]
    chart = helm.chart(units, app="voting", version="1.0.0")      # {relative path: text}
    written = files.write(Path("out"), chart, dry_run=False)      # through fileio.writing.OutputDir

Pure except `files.write`. What every unit shares goes where the tool keeps shared things (chart
templates, `base/`); what differs goes per unit (`values-<unit>.yaml`, `overlays/<unit>/`). A unit
is a stage today; with deploy targets it becomes a stage and a target, named `<stage>-<target>`, and
nothing here changes. Secret values never leave this package: Secrets become references the user
fills (see docs/export.md and `secretrefs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Unit:
    """One place the app is exported for: a stage, or one target of a spec with `targets:`."""

    name: str  # names files: values-<name>.yaml, overlays/<name>/, stages/<name>/
    namespace: str
    objects: list[dict[str, Any]] = field(repr=False)  # as `rendering.render` returns them
    # Spec secret name → where the spec reads its value ("environment variable X", "file Y"), for the README.
    secret_sources: dict[str, str] = field(default_factory=dict)


def unit(stage: Any, inputs: Any, *, validate: bool = True) -> Unit:
    """A stage rendered as `shiplane render` renders it (and checked against its Kubernetes schemas)."""
    from shiplane import rendering, schemas

    objects = rendering.render(stage, inputs)
    if validate:
        schemas.validate(objects, stage.kubernetes_version)
    sources = {
        name: f"environment variable {src.from_env}" if src.from_env else f"file {src.from_file}"
        for name, src in stage.doc.secrets.items()
    }
    target = getattr(stage, "target", None)  # spec `targets:`: one unit per target, values-<stage>-<ids>.yaml
    name = f"{stage.name}-{target.id}" if target is not None else stage.name
    return Unit(name, stage.namespace, objects, sources)
