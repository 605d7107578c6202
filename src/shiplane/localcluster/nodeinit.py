"""PID 1 of the real node's namespaces: `python -m shiplane.localcluster.nodeinit PLAN.json`.

`realnode.start` runs this under `unshare --pid --mount --net --mount-proc` (mounts private), so
everything it mounts, every network device it or the CNI plugins make, and every process it or
containerd starts live only in those namespaces and die with this process. Before the kubelet can
start, the /proc/sys files whose values the kubelet checks are covered with read-only bind mounts
of ordinary files holding the values it expects, and that is verified: if any check fails this
exits before the kubelet runs, so the machine's own sysctls are never read as the kubelet's, let
alone written. Standard library only: it runs before anything else in the namespace.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} nodeinit: {message}", flush=True)


def run(*argv: str) -> None:
    subprocess.run(argv, check=True)


def mountpoints() -> set[str]:
    return {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}


def cover_sysctls(sysctls: dict[str, str], files: Path) -> None:
    """Bind ordinary files holding the expected values over /proc/sys, read-only, and verify."""
    files.mkdir(parents=True, exist_ok=True)
    for key, value in sysctls.items():
        target = "/proc/sys/" + key.replace(".", "/")
        source = files / key
        source.write_text(value + "\n")
        run("mount", "--bind", str(source), target)
        run("mount", "-o", "remount,bind,ro", target)
    mounted = mountpoints()
    for key, value in sysctls.items():
        target = "/proc/sys/" + key.replace(".", "/")
        if target not in mounted:
            raise SystemExit(f"nodeinit: {target} is not covered by a bind mount; refusing to start the kubelet")
        found = Path(target).read_text().strip()
        if found != value:
            raise SystemExit(f"nodeinit: {target} reads {found!r}, expected {value!r}; refusing to start the kubelet")
    log("sysctls covered: " + ", ".join(f"{k}={v}" for k, v in sysctls.items()))


def freeze(paths: list[str], files: Path) -> None:
    """Cover machine-wide knobs nothing in the node should change with read-only copies of
    their current values: a write fails (EROFS) instead of reaching the machine."""
    for target in paths:
        if not Path(target).exists():
            continue
        source = files / ("frozen" + target.replace("/", "_"))
        source.write_text(Path(target).read_text())
        run("mount", "--bind", str(source), target)
        run("mount", "-o", "remount,bind,ro", target)
    log("frozen read-only: " + ", ".join(p for p in paths if Path(p).exists()))


def main(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    if os.getpid() != 1:
        raise SystemExit("nodeinit must run as PID 1 of its own PID namespace (see realnode.start)")
    cover_sysctls(plan["sysctls"], Path(plan["sysctl_files"]))
    freeze(plan.get("guards", []), Path(plan["sysctl_files"]))
    for source, target in plan["binds"].items():  # /run, /var/lib, /var/log → the cluster's directory
        Path(source).mkdir(parents=True, exist_ok=True)
        run("mount", "--bind", source, target)
    run("ip", "link", "set", "lo", "up")

    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def terminate(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    env = dict(os.environ, PATH=plan["path"])
    for name, argv in plan["commands"]:
        if stopping:
            break
        with open(Path(plan["logs"]) / f"{name}.log", "ab") as out:
            children[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        log(f"started {name} (pid {children[name].pid})")
        wait_for = plan["wait_for"].get(name)
        deadline = time.monotonic() + 60
        while wait_for and not Path(wait_for).exists() and time.monotonic() < deadline and not stopping:
            if children[name].poll() is not None:
                break
            time.sleep(0.05)

    code = 0
    while not stopping:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)  # PID 1 reaps every orphan (shims re-parent here)
        except ChildProcessError:
            pid = 0
        if pid == 0:
            time.sleep(0.2)  # polling keeps SIGTERM handling simple (waitpid would retry after it)
            continue
        for name, child in children.items():
            if child.pid == pid:
                child.returncode = os.waitstatus_to_exitcode(status)
                log(f"{name} exited ({child.returncode}); stopping the node")
                stopping, code = True, 1
    # Dependents first: the kubelet, then containerd; the kernel kills whatever is left
    # (shims, containers) when this process, the namespace's init, exits.
    for name in reversed(list(children)):
        child = children[name]
        if child.returncode is None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=8)
            except subprocess.TimeoutExpired:
                child.kill()
    log("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
