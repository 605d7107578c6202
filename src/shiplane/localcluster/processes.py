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


def stop(procs: list[Proc], *, grace: float = 10.0) -> dict[str, str]:
    """SIGTERM each live process (and its group), SIGKILL what is left after `grace` seconds.

    Returns component → how it ended ("stopped", "killed", "not running").
    """
    outcome: dict[str, str] = {}
    for proc in procs:
        if not alive(proc):
            outcome[proc.component] = "not running"
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        outcome[proc.component] = "stopped"
    deadline = time.monotonic() + grace
    pending = [p for p in procs if outcome[p.component] == "stopped"]
    while pending and time.monotonic() < deadline:
        for proc in pending:
            _reap(proc.pid)
        pending = [p for p in pending if alive(p)]
        if pending:
            time.sleep(0.1)
    for proc in pending:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        outcome[proc.component] = "killed"
    for proc in pending:
        for _ in range(50):
            _reap(proc.pid)
            if not alive(proc):
                break
            time.sleep(0.1)
    return outcome


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
