"""`shiplane build`: each service's `build:` context built by a real builder, tagged by a content hash,
pushed to the stage's registry; the pushed digests go to render/deploy (`deploy --build`).

`plan` is pure over the spec and the files (what would be built, with which tag); `build` runs the
builder (`builders`), one service at a time, with progress events, and skips a service whose
content-hash tag the registry already has (the same inputs built before).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

from shiplane.building import builders, context
from shiplane.errors import InputError, InputErrors
from shiplane.events import Event, Note, Progress, Step

__all__ = ["Built", "Job", "build", "plan", "replace_images"]


@dataclass(frozen=True)
class Job:
    """One service to build: where its image goes and from what."""

    service: str
    image: str  # the spec's `image:` (what rendering puts in containers, replaced by the built one)
    request: builders.Request
    content: str  # content hash of the build inputs

    @property
    def reference(self) -> str:
        return self.request.image

    @property
    def repository(self) -> str:
        return self.reference.rsplit(":", 1)[0]


@dataclass(frozen=True)
class Built:
    service: str
    image: str
    reference: str  # registry/repository:tag
    digest: str = ""  # empty in a dry run
    tags: tuple[str, ...] = ()
    reused: bool = False  # the registry already had this content-hash tag: not rebuilt
    log: str = ""
    seconds: float = 0.0

    @property
    def pinned(self) -> str:
        """What deploy runs: the tag for people, the digest for the runtime."""
        return f"{self.reference}@{self.digest}" if self.digest else self.reference

    def to_dict(self) -> dict:
        return {
            "service": self.service,
            "image": self.reference,
            "digest": self.digest or None,
            "pinned": self.pinned,
            "tags": list(self.tags),
            "reused": self.reused,
            "log": self.log or None,
            "seconds": round(self.seconds, 3),
        }


def repository_for(host: str, prefix: str, app: str, service: str) -> str:
    """`host/prefix/app/service` (prefix optional): one repository per service of an app."""
    parts = [host.rstrip("/"), prefix.strip("/"), app, service]
    return "/".join(p for p in parts if p)


def git_commit(directory: Path) -> str:
    """HEAD of the repository holding `directory` when its files there are committed; "" otherwise."""
    try:
        head = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return head.stdout.strip() if dirty.returncode == 0 and not dirty.stdout.strip() else ""


def plan(stage_spec, services: tuple[str, ...] = ()) -> list[Job]:
    """What `build` would do for these services (default: every one with `build:`), in spec order."""
    doc, stage = stage_spec.doc, stage_spec.stage
    with_build = [name for name, svc in stage_spec.doc.services.items() if svc.build is not None]
    unknown = [s for s in services if s not in stage_spec.doc.services]
    problems = [f"no service {s!r} in the spec (services: {', '.join(stage_spec.doc.services)})" for s in unknown]
    problems += [
        f"service {s!r} has no `build:` section, so there is nothing to build"
        for s in services
        if s in stage_spec.doc.services and s not in with_build
    ]
    if problems:
        raise InputErrors(problems)
    chosen = [s for s in with_build if not services or s in services]
    if chosen and stage.registry is None:
        raise InputError(
            f"stage {stage_spec.name!r} has no registry to push built images to",
            hint=f"add stages.{stage_spec.name}.registry: {{host: registry.example.com, prefix: team}}",
        )
    jobs = []
    for name in chosen:
        svc = stage_spec.doc.services[name]
        spec_build = svc.build
        ctx = (stage_spec.base_dir / spec_build.context).resolve()
        dockerfile = (ctx / spec_build.dockerfile).resolve()
        args = tuple(sorted(spec_build.args.items()))
        content = context.digest(ctx, dockerfile, target=spec_build.target, args=dict(args))
        repo = repository_for(stage.registry.host, stage.registry.prefix, doc.app.name, name)
        commit = git_commit(ctx)
        request = builders.Request(
            context=ctx,
            dockerfile=dockerfile,
            image=f"{repo}:src-{content[:16]}",
            tags=(f"git-{commit[:12]}",) if commit else (),
            target=spec_build.target,
            args=args,
            insecure=stage.registry.insecure,
        )
        jobs.append(Job(name, svc.image, request, content))
    return jobs


def log_dir() -> Path:
    root = (
        os.environ.get("SHIPLANE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shiplane"
    )
    return Path(root) / "builds"


KEEP_LOGS = 100  # build logs kept in the cache; older ones are removed before a new one is written


def prune_logs(logs: Path, keep: int = KEEP_LOGS) -> None:
    """Keep the newest `keep - 1` build logs (one more is about to be written)."""
    try:
        found = sorted(logs.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in found[keep - 1 :]:
        old.unlink(missing_ok=True)


def build(
    jobs: list[Job],
    *,
    dry_run: bool = False,
    builder: builders.Builder | None = None,
    existing: Callable[[str, bool], str | None] | None = None,
    logs: Path | None = None,
) -> Generator[Event, None, list[Built]]:
    """Build and push each job; `existing(reference, insecure)` → the digest a registry already has for the
    tag (then the build is skipped). A dry run only asks `existing` (a read): it builds, pushes and
    probes no builder."""
    out: list[Built] = []
    if not jobs:
        yield Note("no service has a `build:` section: nothing to build")
        return out
    if dry_run:
        for job in jobs:
            found = existing(job.reference, job.request.insecure) if existing is not None else None
            if found:
                yield Note(f"{job.service}: {job.reference} is in the registry already ({found[:19]}…)")
                out.append(Built(job.service, job.image, job.reference, found, job.request.tags, reused=True))
                continue
            yield Note(f"would build {job.service} from {job.request.context} and push {job.reference}")
            out.append(Built(job.service, job.image, job.reference, tags=job.request.tags))
        return out
    if builder is None:
        yield Step("find a container builder")
        builder = builders.detect()
        yield Step(f"builder: {builder.name}", done=True)
    logs = logs or log_dir()
    for i, job in enumerate(jobs):
        yield Progress("build", i, len(jobs), item=job.service, unit="images")
        start = time.monotonic()
        found = existing(job.reference, job.request.insecure) if existing is not None else None
        if found:
            yield Step(
                f"{job.service}: {job.reference} is in the registry already ({found[:19]}…)", done=True, seconds=0.0
            )
            out.append(Built(job.service, job.image, job.reference, found, job.request.tags, reused=True))
            continue
        yield Step(f"build {job.service} with {builder.name}")
        app = ["", *job.repository.split("/")][-2] or "image"
        log = logs / f"{app}-{job.service}-{job.content[:16]}-{int(time.time())}.log"
        prune_logs(logs)
        digest_file = log.with_suffix(".digest")
        try:
            digest = builders.run(builder, job.request, log, digest_file)
        finally:
            digest_file.unlink(missing_ok=True)
        took = time.monotonic() - start
        yield Step(f"built and pushed {job.service}: {job.reference}@{digest}", done=True, seconds=took)
        out.append(Built(job.service, job.image, job.reference, digest, job.request.tags, log=str(log), seconds=took))
    yield Progress("build", len(jobs), len(jobs), unit="images")
    return out


def replace_images(objects: list[dict], built: list[Built]) -> list[dict]:
    """Objects with each built service's image (wherever the spec's image appears: the service's containers,
    its migration, sidecars using it) replaced by the pushed `reference@digest`."""
    import json

    wanted = {b.image: b.pinned for b in built if b.digest}
    out = []
    for obj in objects:
        obj = json.loads(json.dumps(obj))
        spec = obj.get("spec", {})
        pod = (spec.get("jobTemplate", {}).get("spec", {}) if obj.get("kind") == "CronJob" else spec).get("template")
        pod_spec = (pod or {}).get("spec") or {}
        for c in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]:
            if c.get("image") in wanted:
                c["image"] = wanted[c["image"]]
        out.append(obj)
    return out
