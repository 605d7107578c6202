"""`shiplane build` and `deploy --build`: the stage's services built and pushed (shiplane.building),
the registry asked first whether a content-hash tag is there already (then nothing is rebuilt)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from shiplane import building, spec
from shiplane.errors import ImageNotFound, InputError, RegistryError
from shiplane.events import Event, Note


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
    """Build what the registry does not have yet, push it; the pushed references and digests. A dry run
    asks the registry which tags exist (read-only) and builds nothing."""
    if not jobs_:
        return (yield from building.build(jobs_, dry_run=dry_run))
    from shiplane.registry import Client, DockerConfig, Reference

    insecure = {j.reference.split("/", 1)[0] for j in jobs_ if j.request.insecure}
    with Client(insecure=insecure, config=DockerConfig.load()) as client:
        unchecked: list[str] = []

        def existing(reference: str, _insecure: bool) -> str | None:
            try:
                return client.resolve(Reference.parse(reference))
            except ImageNotFound:
                return None
            except RegistryError as err:
                if not dry_run:  # a real build would fail to push anyway: say so now
                    raise
                unchecked.append(err.message)  # a dry run still shows what it would build
                return None

        built = yield from building.build(jobs_, dry_run=dry_run, existing=existing)
        for message in unchecked:
            yield Note(f"not checked whether the registry has it already: {message}")
        return built
