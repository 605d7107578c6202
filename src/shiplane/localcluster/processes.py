"""Starting and stopping the control-plane processes, tracked by pid.

A pid alone can be reused by the OS after a process dies, so each record also keeps
the process start time from /proc; `down` only ever signals the exact processes
that `up` started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    component: str
    pid: int
    start_ticks: int
    log: str

    def to_json(self) -> dict:
        return asdict(self)


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces; everything after its ')' is fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(proc: Proc) -> bool:
    return _start_ticks(proc.pid) == proc.start_ticks


def spawn(component: str, argv: list[str], *, log: Path, env: dict[str, str] | None = None) -> Proc:
    """Start `argv` detached in its own session (it outlives the CLI), logging to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    ticks = None
    for _ in range(50):  # /proc entry appears right away; be tolerant on slow machines
        ticks = _start_ticks(popen.pid)
        if ticks is not None or popen.poll() is not None:
            break
        time.sleep(0.01)
    return Proc(component, popen.pid, ticks or -1, str(log))


def _reap(pid: int) -> None:
    """Collect the exit status if we are the parent (tests), so no zombie stays behind."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _terminate(proc: Proc, grace: float) -> str:
    """SIGTERM the process group, SIGKILL it after `grace` seconds; says how it ended."""
    if not alive(proc):
        return "not running"
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return "stopped"
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(proc.pid)
        if not alive(proc):
            return "stopped"
        time.sleep(0.05)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return "stopped"
    for _ in range(100):
        _reap(proc.pid)
        if not alive(proc):
            break
        time.sleep(0.05)
    return "killed"


def stop(procs: list[Proc], *, grace: float = 10.0) -> dict[str, str]:
    """Stop the processes one after the other, in the order given (dependents first).

    Sequential on purpose: the API server shuts down cleanly only while etcd is
    still there. Returns component → "stopped", "killed" or "not running".
    """
    return {proc.component: _terminate(proc, grace) for proc in procs}


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n    ".join(text[-lines:])
