"""Find or build the control-plane binaries.

Order of preference, per the README: binaries named by environment variables, then
official binaries on PATH (all four control-plane components together, so a stray
old etcd alone is never mixed with our build), then our own build from the Go
module shipped in `k8senv/`, cached under the user's cache directory by a key of
its sources and the Go version. The build is what runs on a machine with only the
Go module proxy; it takes tens of minutes cold and seconds warm.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from shiplane.errors import BuildFailed, EnvironmentProblem
from shiplane.events import Event, Note, Progress, Step

K8S_VERSION = "v1.36.3"
KWOK_MODULE = "sigs.k8s.io/kwok"
KWOK_VERSION = "v0.8.0"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
ENV_VARS = {name: "SHIPLANE_" + name.upper().replace("-", "_") for name in (*COMPONENTS, "kwok")}


@dataclass(frozen=True)
class Binaries:
    """argv prefix per component, e.g. {"etcd": ["/cache/k8senv", "etcd"]}, and where each came from."""

    argv: dict[str, list[str]]
    origin: dict[str, str]

    def describe(self) -> str:
        return ", ".join(f"{name}: {self.origin[name]}" for name in self.argv)


def cache_root() -> Path:
    """$SHIPLANE_CACHE, else $XDG_CACHE_HOME/shiplane, else ~/.cache/shiplane."""
    if explicit := os.environ.get("SHIPLANE_CACHE"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shiplane"


def go_source() -> Path:
    """The k8senv Go module shipped inside the package."""
    return Path(str(resources.files("shiplane.localcluster") / "k8senv"))


def _go() -> str:
    go = shutil.which("go")
    if not go:
        raise EnvironmentProblem(
            "Go is not installed, and no prebuilt control-plane binaries were found",
            hint="install Go >= 1.26, or set "
            + ", ".join(ENV_VARS.values())
            + " to official binaries (or put them on PATH)",
        )
    return go


def _go_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env.setdefault("GOTOOLCHAIN", "local")  # never download a toolchain behind the user's back
    env["CGO_ENABLED"] = "0"
    env.pop("GOFLAGS", None)
    return env


def build_key(go: str) -> str:
    """Changes when the Go sources or the Go version change, so stale builds are never reused."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((go_source() / name).read_bytes())
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, env=_go_env())
    digest.update(version.stdout.strip().encode())
    digest.update(K8S_VERSION.encode())
    return digest.hexdigest()[:16]


def k8senv_path(go: str) -> Path:
    return cache_root() / "k8senv" / build_key(go) / "k8senv"


def kwok_path() -> Path:
    return cache_root() / f"kwok-{KWOK_VERSION}" / "kwok"


def _from_env_or_path() -> tuple[dict[str, list[str]], dict[str, str]]:
    argv: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    for name, var in ENV_VARS.items():
        value = os.environ.get(var)
        if value:
            if not os.access(value, os.X_OK):
                raise EnvironmentProblem(f"{var}={value}: not an executable file")
            argv[name], origin[name] = [value], f"${var}"
    on_path = {name: shutil.which(name) for name in COMPONENTS if name not in argv}
    if on_path and all(on_path.values()):
        for name, found in on_path.items():
            argv[name], origin[name] = [str(found)], "PATH"
    if "kwok" not in argv and (found := shutil.which("kwok")):
        argv["kwok"], origin["kwok"] = [found], "PATH"
    return argv, origin


def locate() -> Binaries | None:
    """Binaries ready to run now, without building; None if a build is needed."""
    argv, origin = _from_env_or_path()
    missing = [n for n in (*COMPONENTS, "kwok") if n not in argv]
    if not missing:
        return Binaries(argv, origin)
    go = shutil.which("go")
    if not go:
        return None
    k8senv = k8senv_path(go)
    for name in missing:
        built = kwok_path() if name == "kwok" else k8senv
        if not built.exists():
            return None
        argv[name] = [str(built)] if name == "kwok" else [str(built), name]
        origin[name] = f"built ({built})"
    return Binaries(argv, origin)


def _run_go(
    argv: list[str], *, cwd: Path | None, task: str, total: int | None, log: Path, **env: str
) -> Generator[Event]:
    """Run a go build/install with -v, turning each compiled package into a Progress event."""
    done = 0
    tail: list[str] = []
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=_go_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            line = line.rstrip()
            tail = [*tail[-30:], line]
            # `go build -v` prints one import path per compiled package; anything else is a message.
            if re.fullmatch(r"[\w.\-~/+]+", line):
                done += 1
                yield Progress(task, done, total, item=line)
        code = proc.wait()
    if code != 0:
        raise BuildFailed(
            f"{task} failed (exit {code}); last lines:\n    " + "\n    ".join(tail[-15:]),
            hint=f"full log: {log}",
        )


def _count_packages(go: str, args: list[str], cwd: Path | None) -> int | None:
    listing = subprocess.run([go, "list", "-deps", *args], cwd=cwd, env=_go_env(), capture_output=True, text=True)
    return len(listing.stdout.split()) if listing.returncode == 0 else None


@contextmanager
def build_lock() -> Iterator[bool]:
    """Hold the one lock every Go build shiplane starts takes (control plane, kwok, peer tools, the
    real node); yields False at once if another process holds it (then call again). Two builds at
    once on a small machine take longer than one after the other, and would race on the same output."""
    lock = cache_root() / ".build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(*, force: bool = False) -> Generator[Event, None, Binaries]:
    """Build k8senv and kwok into the cache (if needed) and return every binary's argv. Under the
    build lock: a second `cluster up` or test run on a cold machine waits for the first one's build."""
    while True:
        with build_lock() as held:
            if held:
                return (yield from _build_locked(force=force))
        yield Note("another shiplane Go build is running; waiting for it to finish")
        time.sleep(5)


def _build_locked(*, force: bool) -> Generator[Event, None, Binaries]:
    go = _go()
    target = k8senv_path(go)
    logs = cache_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if force or not target.exists():
        yield Step(f"build etcd, kube-apiserver, kube-controller-manager, kube-scheduler {K8S_VERSION}")
        started = time.monotonic()
        src = go_source()
        # Fetch modules first so the progress count that follows is only compilation.
        yield Note("downloading Go modules (first build only; cached in GOMODCACHE)")
        dl = subprocess.run([go, "mod", "download"], cwd=src, env=_go_env(), capture_output=True, text=True)
        if dl.returncode != 0:
            raise BuildFailed(f"go mod download failed in {src}:\n{dl.stderr.strip()[-2000:]}")
        total = _count_packages(go, ["."], src)
        minor = K8S_VERSION.split(".")[1]
        ldflags = " ".join(
            [
                "-s -w",
                # Without these, /version reports v0.0.0-master and clients that parse it break.
                f"-X k8s.io/component-base/version.gitVersion={K8S_VERSION}",
                "-X k8s.io/component-base/version.gitMajor=1",
                f"-X k8s.io/component-base/version.gitMinor={minor}",
                f"-X k8s.io/client-go/pkg/version.gitVersion={K8S_VERSION}",
            ]
        )
        partial = target.with_name("k8senv.partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        yield from _run_go(
            [go, "build", "-v", "-mod=readonly", "-trimpath", "-o", str(partial), "-ldflags", ldflags, "."],
            cwd=src,
            task="compile control plane",
            total=total,
            log=logs / "k8senv-build.log",
        )
        partial.rename(target)  # atomic: an interrupted build never leaves a half binary
        yield Step(
            f"build etcd, kube-apiserver, kube-controller-manager, kube-scheduler {K8S_VERSION}",
            done=True,
            seconds=time.monotonic() - started,
        )
    kwok = kwok_path()
    if force or not kwok.exists():
        yield Step(f"build kwok {KWOK_VERSION}")
        started = time.monotonic()
        gobin = kwok.parent / "partial"
        gobin.mkdir(parents=True, exist_ok=True)
        # kwok resolves its own dependencies (its own k8s pins), separately from k8senv.
        yield from _run_go(
            [go, "install", "-v", "-trimpath", "-ldflags", "-s -w", f"{KWOK_MODULE}/cmd/kwok@{KWOK_VERSION}"],
            cwd=None,
            task="compile kwok",
            total=None,
            log=logs / "kwok-build.log",
            GOBIN=str(gobin),
        )
        (gobin / "kwok").rename(kwok)
        yield Step(f"build kwok {KWOK_VERSION}", done=True, seconds=time.monotonic() - started)
    found = locate()
    assert found is not None
    return found


def kwok_stage_dir() -> Path:
    """kwok's own stage YAMLs, from its module in GOMODCACHE (part of the module zip).

    They are read at setup time rather than copied into this repository.
    """
    override = os.environ.get("SHIPLANE_KWOK_STAGES")
    if override:
        return Path(override)
    go = _go()
    out = subprocess.run(
        [go, "mod", "download", "-json", f"{KWOK_MODULE}@{KWOK_VERSION}"],
        cwd=cache_root(),
        env=_go_env(),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise EnvironmentProblem(
            f"cannot fetch {KWOK_MODULE}@{KWOK_VERSION} for its stage definitions: {out.stdout or out.stderr}",
            hint="set SHIPLANE_KWOK_STAGES to a copy of kwok's kustomize/stage directory",
        )
    return Path(json.loads(out.stdout)["Dir"]) / "kustomize" / "stage"
