"""`shiplane build` and `deploy --build`: the stage's services built and pushed (shiplane.building),
the registry asked first whether a content-hash tag is there already (then nothing is rebuilt)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from shiplane import building, spec
from shiplane.errors import ImageNotFound, InputError
from shiplane.events import Event


def stage_of(files: list[Path], stage: str | None) -> str:
    """The stage named, else the only one with a registry (where built images can go)."""
    if stage:
        return stage
    loaded = spec.load(files or [Path("shiplane.yaml")])
    with_registry = [name for name, s in loaded.stages.items() if s.stage.registry is not None]
    if len(with_registry) == 1:
        return with_registry[0]
    raise InputError(
        "say which stage's registry to push to: --stage "
        + (f"({', '.join(with_registry)} have a registry)" if with_registry else "(no stage has a registry yet)")
    )


def jobs(files: list[Path], stage: str, services: tuple[str, ...] = ()) -> list[building.Job]:
    return building.plan(spec.load(files or [Path("shiplane.yaml")]).stage(stage), services)


def run(jobs_: list[building.Job], *, dry_run: bool = False) -> Generator[Event, None, list[building.Built]]:
    """Build what the registry does not have yet, push it; the pushed references and digests."""
    if dry_run or not jobs_:
        return (yield from building.build(jobs_, dry_run=dry_run))
    from shiplane.registry import Client, DockerConfig, Reference

    insecure = {j.reference.split("/", 1)[0] for j in jobs_ if j.request.insecure}
    with Client(insecure=insecure, config=DockerConfig.load()) as client:

        def existing(reference: str, _insecure: bool) -> str | None:
            try:
                return client.resolve(Reference.parse(reference))
            except ImageNotFound:
                return None

        return (yield from building.build(jobs_, existing=existing))
