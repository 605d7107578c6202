"""containerd and the kubelet for the real node, built into the cache from the Go module proxy.

containerd (+ its runc shim and `ctr`) is `go install`ed at a pinned version; the kubelet and a
tiny `pause` come from the `nodeenv/` module, a copy of k8senv's module graph kept apart so the
control plane's build key does not change. Builds hold the same lock as the peer tools (one Go
build at a time on a small machine) and report progress as events.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from shiplane.events import Event, Note, Step
from shiplane.localcluster.binaries import K8S_VERSION, _go, _go_env, _run_go, cache_root

CONTAINERD_MODULE = "github.com/containerd/containerd/v2"
CONTAINERD_VERSION = "v2.4.2"
CONTAINERD_BINARIES = ("containerd", "containerd-shim-runc-v2", "ctr")

# Debian packages the node runs: (package, a file it installs).
DEBIAN_NEEDS = (
    ("runc", "/usr/sbin/runc"),
    ("containernetworking-plugins", "/usr/lib/cni/bridge"),
    ("iptables", "/usr/sbin/iptables"),
    ("socat", "/usr/bin/socat"),
    ("util-linux", "/usr/bin/unshare"),
    ("iproute2", "/usr/sbin/ip"),
)


@dataclass(frozen=True)
class NodeBinaries:
    containerd_dir: Path  # containerd, containerd-shim-runc-v2, ctr
    kubelet: Path

    @property
    def ctr(self) -> Path:
        return self.containerd_dir / "ctr"

    @property
    def pause(self) -> Path:
        return self.kubelet.with_name("pause")


def node_source() -> Path:
    """The nodeenv Go module (the kubelet), a copy of k8senv's module graph."""
    return Path(str(resources.files("shiplane.localcluster") / "nodeenv"))


def containerd_dir() -> Path:
    return cache_root() / "realnode" / f"containerd-{CONTAINERD_VERSION}"


def kubelet_path(go: str) -> Path:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go", "pause/main.go"):
        digest.update((node_source() / name).read_bytes())
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, env=_go_env())
    digest.update(version.stdout.strip().encode() + K8S_VERSION.encode())
    return cache_root() / "realnode" / "kubelet" / digest.hexdigest()[:16] / "kubelet"


def missing_debian_packages() -> list[str]:
    return [package for package, path in DEBIAN_NEEDS if not os.access(path, os.X_OK)]


def unsupported_reason() -> str | None:
    """Why a real node cannot start on this machine (None when it can)."""
    if sys.platform != "linux":
        return "a real node needs Linux namespaces"
    if os.geteuid() != 0:
        return "a real node needs root (mount and network namespaces, cgroups)"
    if missing := missing_debian_packages():
        return "missing Debian packages: " + " ".join(missing) + " (apt-get install them)"
    return None


def locate() -> NodeBinaries | None:
    go = shutil.which("go")
    if not go:
        return None
    kubelet = kubelet_path(go)
    if (
        kubelet.exists()
        and kubelet.with_name("pause").exists()
        and all((containerd_dir() / b).exists() for b in CONTAINERD_BINARIES)
    ):
        return NodeBinaries(containerd_dir(), kubelet)
    return None


def build() -> Generator[Event, None, NodeBinaries]:
    """Build containerd and the kubelet into the cache if needed (one Go build at a time)."""
    from shiplane.localcluster.binaries import build_lock  # the shared lock that serialises Go builds

    if found := locate():
        return found
    go = _go()
    while True:
        with build_lock() as held:
            if held:
                return (yield from _build_locked(go))
        yield Note("another Go build is running; waiting to build the real node")
        time.sleep(5)


def _build_locked(go: str) -> Generator[Event, None, NodeBinaries]:
    logs = cache_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    target = containerd_dir()
    if not all((target / b).exists() for b in CONTAINERD_BINARIES):
        yield Step(f"build containerd {CONTAINERD_VERSION}")
        started = time.monotonic()
        gobin = target / "partial"
        shutil.rmtree(gobin, ignore_errors=True)
        gobin.mkdir(parents=True)
        packages = [f"{CONTAINERD_MODULE}/cmd/{b}@{CONTAINERD_VERSION}" for b in CONTAINERD_BINARIES]
        yield from _run_go(
            [go, "install", "-v", "-trimpath", "-ldflags", "-s -w", *packages],
            cwd=None,
            task="compile containerd",
            total=None,
            log=logs / "containerd-build.log",
            GOBIN=str(gobin),
        )
        for b in CONTAINERD_BINARIES:  # each rename is atomic: never a half binary
            (gobin / b).rename(target / b)
        shutil.rmtree(gobin, ignore_errors=True)
        yield Step(f"build containerd {CONTAINERD_VERSION}", done=True, seconds=time.monotonic() - started)
    kubelet = kubelet_path(go)
    pause = kubelet.with_name("pause")
    if not pause.exists():
        pause.parent.mkdir(parents=True, exist_ok=True)
        partial = pause.with_name("pause.partial")
        yield from _run_go(
            [go, "build", "-v", "-mod=readonly", "-trimpath", "-o", str(partial), "-ldflags", "-s -w", "./pause"],
            cwd=node_source(),
            task="compile pause",
            total=None,
            log=logs / "pause-build.log",
        )
        partial.rename(pause)
    if not kubelet.exists():
        yield Step(f"build kubelet {K8S_VERSION}")
        started = time.monotonic()
        minor = K8S_VERSION.split(".")[1]
        ldflags = (
            f"-s -w -X k8s.io/component-base/version.gitVersion={K8S_VERSION}"
            f" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor={minor}"
            f" -X k8s.io/client-go/pkg/version.gitVersion={K8S_VERSION}"
        )
        partial = kubelet.with_name("kubelet.partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        yield from _run_go(
            [go, "build", "-v", "-mod=readonly", "-trimpath", "-o", str(partial), "-ldflags", ldflags, "."],
            cwd=node_source(),
            task="compile kubelet",
            total=None,
            log=logs / "kubelet-build.log",
        )
        partial.rename(kubelet)
        yield Step(f"build kubelet {K8S_VERSION}", done=True, seconds=time.monotonic() - started)
    return NodeBinaries(target, kubelet)
