"""Which targets were deployed, which the spec now drops, and the guard against mass removal.

A fleet generator whose output shrinks by mistake must not delete a fleet (argo-cd#18780):
deployed targets are discovered from their release records (labelled `shiplane.io/target`)
in every context the stage's targets use; more than `guard.maxTargetRemovals` of them
missing from the spec refuses the deploy unless `--allow-target-removal`, and a removed
target's objects are pruned only with that flag (by a release with no objects, so its
history says when and by whom it was removed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shiplane.actions.target import Target
from shiplane.errors import InputError
from shiplane.kube import Kube
from shiplane.releases import Outcome
from shiplane.releases.store import LABEL_APP, LABEL_TARGET


class TooManyRemovals(InputError):
    """More targets would disappear than the spec's guard allows (exit 2)."""


@dataclass(frozen=True)
class Deployed:
    id: str
    context: str | None
    namespace: str
    revision: int


def deployed(kubes: Mapping[str | None, Kube], app: str, stage: str) -> dict[str, tuple[Deployed, Target]]:
    """Targets of this app and stage that run something now, by target id."""
    found: dict[str, tuple[Deployed, Target]] = {}
    for context, kube in kubes.items():
        selector = f"{LABEL_APP}={app},shiplane.io/stage={stage},{LABEL_TARGET}"
        places = {
            (s["metadata"]["labels"][LABEL_TARGET], s["metadata"]["namespace"])
            for s in kube.list("v1", "Secret", label_selector=selector)
        }
        for target_id, namespace in sorted(places):
            target = Target(kube, app, stage, namespace, target_id=target_id)
            releases = [r for r in target.store().list() if r.outcome is Outcome.DEPLOYED]
            if releases and releases[-1].objects:  # a release with no objects: removed already
                found[target_id] = (Deployed(target_id, context, namespace, releases[-1].revision), target)
    return found


@dataclass(frozen=True)
class Changes:
    added: list[str]
    removed: list[Deployed]
    kept: list[str]

    def as_json(self) -> dict:
        return {
            "added": self.added,
            "removed": [{"id": d.id, "context": d.context, "namespace": d.namespace} for d in self.removed],
            "kept": self.kept,
        }


def changes(wanted: list[str], running: Mapping[str, tuple[Deployed, Target]]) -> Changes:
    """Pure: target ids the spec wants vs those running."""
    return Changes(
        added=[t for t in wanted if t not in running],
        removed=[running[t][0] for t in running if t not in wanted],
        kept=[t for t in wanted if t in running],
    )


def enforce(found: Changes, max_removals: int, allow: bool) -> None:
    if len(found.removed) > max_removals and not allow:
        names = ", ".join(f"{d.id} ({d.context or 'current context'}/{d.namespace})" for d in found.removed)
        raise TooManyRemovals(
            f"{len(found.removed)} deployed targets are no longer in the spec: {names}; "
            f"targets.guard.maxTargetRemovals is {max_removals}",
            hint="if this is intended, deploy with --allow-target-removal (prunes their objects)",
        )
