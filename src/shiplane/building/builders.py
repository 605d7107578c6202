"""The container builders shiplane drives: docker buildx, podman, buildah (first that works here).

Each is detected by running it (`docker info`, `podman info`, `buildah info`), not by finding it on
PATH: a docker CLI without a daemon, or podman without storage, is not a builder. podman and buildah
build with `--isolation chroot` by default: it needs no OCI runtime, so it works as root inside
containers and VMs where crun/runc cannot create namespaces (`SHIPLANE_BUILD_ISOLATION=oci` for the
default). Output goes to a log file; the digest comes back through the builder's digest file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shiplane.errors import EnvironmentProblem, ImageBuildFailed

ORDER = ("docker", "podman", "buildah")
PROBES = {
    "docker": ["docker", "buildx", "inspect", "--bootstrap"],
    "podman": ["podman", "info"],
    "buildah": ["buildah", "info"],
}


@dataclass(frozen=True)
class Request:
    """One build: context and Dockerfile, the image to push (`registry/repo:tag`), extra tags."""

    context: Path
    dockerfile: Path
    image: str
    tags: tuple[str, ...] = ()  # more tags of the same repository, pushed too
    target: str | None = None
    args: tuple[tuple[str, str], ...] = ()
    insecure: bool = False  # plain-HTTP registry


@dataclass(frozen=True)
class Builder:
    name: str

    def commands(self, req: Request, digest_file: Path) -> list[list[str]]:
        """The commands that build `req` and push it, leaving the pushed digest in `digest_file`."""
        common = ["-f", str(req.dockerfile)]
        if req.target:
            common += ["--target", req.target]
        for key, value in req.args:
            common += ["--build-arg", f"{key}={value}"]
        repo = req.image.rsplit(":", 1)[0]
        if self.name == "docker":
            tags = [x for t in (req.image, *(f"{repo}:{t}" for t in req.tags)) for x in ("-t", t)]
            out = "type=image,push=true" + (",registry.insecure=true" if req.insecure else "")
            build = ["docker", "buildx", "build", *common, *tags, "--output", out, "--metadata-file", str(digest_file)]
            return [[*build, str(req.context)]]
        tls = ["--tls-verify=false"] if req.insecure else []
        isolation = ["--isolation", os.environ.get("SHIPLANE_BUILD_ISOLATION", "chroot")]
        verb = "build" if self.name == "podman" else "bud"
        cmds = [[self.name, verb, *isolation, *tls, *common, "-t", req.image, str(req.context)]]
        cmds.append([self.name, "push", *tls, "--digestfile", str(digest_file), req.image, f"docker://{req.image}"])
        for tag in req.tags:
            cmds.append([self.name, "push", *tls, req.image, f"docker://{repo}:{tag}"])
        return cmds

    def read_digest(self, digest_file: Path) -> str:
        text = digest_file.read_text().strip() if digest_file.exists() else ""
        if self.name == "docker" and text:
            text = str(json.loads(text).get("containerimage.digest", ""))
        return text


def detect(*, wanted: str | None = None) -> Builder:
    """The first builder that runs here (`wanted`, or $SHIPLANE_BUILDER, to insist on one)."""
    wanted = wanted or os.environ.get("SHIPLANE_BUILDER") or None
    if wanted is not None and wanted not in ORDER:
        raise EnvironmentProblem(f"builder {wanted!r} is not one shiplane drives ({', '.join(ORDER)})")
    tried = []
    for name in [wanted] if wanted else ORDER:
        if shutil.which(name) is None:
            tried.append(f"{name}: not installed")
            continue
        try:
            probe = subprocess.run(PROBES[name], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as err:
            tried.append(f"{name}: {err}")
            continue
        if probe.returncode == 0:
            return Builder(name)
        last = (probe.stderr.strip() or probe.stdout.strip()).splitlines()[-1:] or ["failed"]
        tried.append(f"{name}: `{' '.join(PROBES[name])}` exited {probe.returncode}: {last[0][:200]}")
    raise EnvironmentProblem(
        "no container builder runs here:\n  " + "\n  ".join(tried),
        hint="install podman or buildah (Debian: apt-get install buildah), or start Docker with buildx",
    )


def run(builder: Builder, req: Request, log: Path, digest_file: Path) -> str:
    """Build and push; every line the builder prints goes to `log`. The pushed manifest digest."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        for cmd in builder.commands(req, digest_file):
            out.write(("$ " + " ".join(cmd) + "\n").encode())
            out.flush()
            try:
                code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
            except OSError as err:
                raise ImageBuildFailed(f"{builder.name} could not be run: {err}", log=str(log)) from None
            if code != 0:
                tail = _tail(log)
                raise ImageBuildFailed(
                    f"{builder.name} {cmd[1]} of {req.image} failed (exit {code}):\n{tail}", log=str(log)
                )
    digest = builder.read_digest(digest_file)
    if not digest.startswith("sha256:"):
        raise ImageBuildFailed(f"{builder.name} pushed {req.image} but reported no digest", log=str(log))
    return digest


def _tail(log: Path, lines: int = 12) -> str:
    text = log.read_bytes()[-8192:].decode("utf-8", "replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])
