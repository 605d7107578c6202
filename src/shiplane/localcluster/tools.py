"""Go tools shiplane runs or compares itself against, built from the Go module proxy into the cache.

Downloads of prebuilt binaries are not possible everywhere shiplane is developed, so each tool is
`go install`ed once at a pinned version into `<cache>/tools/<name>-<version>/<name>` and reused.
Only `crane` is used by a shiplane command (`shiplane registry up`); the others are peers the tests
and benchmarks compare with. A file lock serialises builds across processes: two Go builds at once
on a small machine take longer than one after the other, and would race on the same output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from shiplane.errors import BuildFailed, InputError
from shiplane.events import Event, Note, Step
from shiplane.localcluster.binaries import _go, _go_env, _run_go, build_lock, cache_root


@dataclass(frozen=True)
class Tool:
    name: str
    package: str  # the `go install` path of its main package
    version: str
    env: str  # an environment variable naming a prebuilt executable, preferred when set
    # The proxy serves some modules' exact versions but neither their version list nor a checksum-
    # database entry, so `go install pkg@v` refuses them. Such a tool is downloaded with the checksum
    # database skipped for that one module, then built inside it: its own go.sum checks every dependency.
    in_module: bool = False


TOOLS = {
    tool.name: tool
    for tool in (
        Tool("crane", "github.com/google/go-containerregistry/cmd/crane", "v0.22.1", "SHIPLANE_CRANE"),
        Tool("helm", "helm.sh/helm/v3/cmd/helm", "v3.22.0", "SHIPLANE_HELM"),
        Tool("cosign", "github.com/sigstore/cosign/v2/cmd/cosign", "v2.6.5", "SHIPLANE_COSIGN"),
        Tool("syft", "github.com/anchore/syft/cmd/syft", "v1.57.1", "SHIPLANE_SYFT"),
        Tool("kube-score", "github.com/zegl/kube-score/cmd/kube-score", "v1.20.0", "SHIPLANE_KUBE_SCORE"),
        # Kustomize builds of exports are checked with a pinned kustomize (kubectl embeds whichever it ships).
        Tool("kustomize", "sigs.k8s.io/kustomize/kustomize/v5", "v5.7.1", "SHIPLANE_KUSTOMIZE"),
        # Serves metrics.k8s.io on a local plane started with --metrics-server (usage against limits).
        Tool("metrics-server", "sigs.k8s.io/metrics-server/cmd/metrics-server", "v0.8.0", "SHIPLANE_METRICS_SERVER"),
        # The compose importer's peer (bench/import_vs_kompose.py).
        Tool("kompose", "github.com/kubernetes/kompose", "v1.36.0", "SHIPLANE_KOMPOSE", in_module=True),
    )
}


def _tool(name: str) -> Tool:
    if name not in TOOLS:
        raise InputError(f"unknown tool {name!r}; expected one of: {', '.join(sorted(TOOLS))}")
    return TOOLS[name]


def path(name: str) -> Path:
    """Where the cached build of `name` lives (whether or not it exists yet)."""
    tool = _tool(name)
    return cache_root() / "tools" / f"{tool.name}-{tool.version}" / tool.name


def locate(name: str) -> Path | None:
    """A ready executable for `name` without building: $SHIPLANE_<NAME>, else the cached build."""
    tool = _tool(name)
    if (explicit := os.environ.get(tool.env)) and os.access(explicit, os.X_OK):
        return Path(explicit)
    built = path(name)
    return built if built.exists() else None


def build(name: str) -> Generator[Event, None, Path]:
    """Return the executable for `name`, building it with `go install` (with progress) if needed."""
    if found := locate(name):
        return found
    tool = _tool(name)
    go = _go()
    target = path(name)
    while True:
        with build_lock() as held:
            if held:
                return (yield from _build_locked(tool, go, target))
        yield Note(f"another tool build is running; waiting to build {name}")
        time.sleep(5)


def _build_locked(tool: Tool, go: str, target: Path) -> Generator[Event, None, Path]:
    if target.exists():  # another process built it while we waited
        return target
    yield Step(f"build {tool.name} {tool.version}")
    started = time.monotonic()
    gobin = target.parent / "partial"
    shutil.rmtree(gobin, ignore_errors=True)
    gobin.mkdir(parents=True)
    logs = cache_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    flags = ["-v", "-trimpath", "-ldflags", "-s -w"]
    if tool.in_module:
        module = _download(go, tool)
        argv, cwd = [go, "build", *flags, "-o", str(gobin / tool.name), "."], module
    else:
        argv, cwd = [go, "install", *flags, f"{tool.package}@{tool.version}"], None
    yield from _run_go(
        argv, cwd=cwd, task=f"compile {tool.name}", total=None, log=logs / f"{tool.name}-build.log", GOBIN=str(gobin)
    )
    (gobin / tool.name).rename(target)  # atomic: an interrupted build never leaves a half binary
    shutil.rmtree(gobin, ignore_errors=True)
    yield Step(f"build {tool.name} {tool.version}", done=True, seconds=time.monotonic() - started)
    return target


def _download(go: str, tool: Tool) -> Path:
    """The module's directory in Go's module cache (downloaded from the proxy if not there yet)."""
    argv = [go, "mod", "download", "-json", f"{tool.package}@{tool.version}"]
    env = _go_env(GONOSUMDB=tool.package)
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cache_root(), timeout=600)
    try:
        info = json.loads(done.stdout)
    except json.JSONDecodeError:
        info = {}
    if done.returncode != 0 or not info.get("Dir"):
        detail = info.get("Error") or done.stderr.strip()[-500:]
        raise BuildFailed(f"download of {tool.package}@{tool.version} failed: {detail}")
    return Path(info["Dir"])
