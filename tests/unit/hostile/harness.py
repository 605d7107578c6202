"""Run the real CLI on one hostile input and say everything that went wrong.

Two ways to run, same verdict:
- in-process (`run_inproc`): the `shiplane` entry point under click's CliRunner, with a
  wall-clock alarm and a temporary address-space limit, so thousands of inputs stay cheap;
- in a subprocess (`run_subprocess`): `python -m shiplane` with RLIMIT_AS and a timeout, for
  inputs that might eat the machine (YAML bombs) or block in the kernel (FIFOs, /dev/full).

`verdict()` then checks what every input must satisfy (issue 10): an exit code the command
documents, no traceback, bounded time and memory, no planted secret marker anywhere but in
`.shiplane-secrets/`, nothing written outside the output directory, no file shiplane did not
write changed or deleted.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
from click.testing import CliRunner

from shiplane.cli import main

SECRETS_DIR = ".shiplane-secrets"
REPO = Path(__file__).parents[3]

# What each command's exit codes mean (docs/input-safety.md, docs/policy.md, docs/import.md).
EXIT_CODES: dict[str, dict[int, str]] = {
    "render": {0: "rendered", 2: "bad input"},
    "schema": {0: "printed"},
    "check": {0: "no failing finding", 1: "failing findings", 2: "bad input"},
    "import": {0: "imported", 2: "bad input"},
    "export": {0: "written", 2: "bad input"},
    "plan": {0: "no changes", 1: "changes pending", 2: "bad input", 3: "cannot reach the cluster"},
    "status": {0: "ready", 1: "not ready", 2: "bad input", 3: "cannot reach the cluster"},
    "deploy": {0: "deployed", 1: "rollout failed", 2: "bad input", 3: "cannot reach the cluster"},
}


class Hang(BaseException):
    """Raised by the alarm inside a command that ran past its time budget (BaseException: not caught by
    the code under test's `except Exception`)."""


@dataclass
class Outcome:
    argv: list[str]
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    exception: str | None = None  # last line of an uncaught exception's traceback
    traceback: str | None = None
    hung: bool = False
    out_of_memory: bool = False


@dataclass
class Snapshot:
    files: dict[str, str] = field(default_factory=dict)  # relative path → sha256 / "link:<target>" / "dir"

    @classmethod
    def take(cls, root: Path) -> Snapshot:
        snap = cls()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for name in [*dirnames, *filenames]:
                p = Path(dirpath, name)
                rel = str(p.relative_to(root))
                try:
                    st = p.lstat()
                except OSError:
                    continue
                if stat.S_ISLNK(st.st_mode):
                    snap.files[rel] = f"link:{os.readlink(p)}"
                elif stat.S_ISDIR(st.st_mode):
                    snap.files[rel] = "dir"
                elif stat.S_ISREG(st.st_mode):
                    snap.files[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
                else:
                    snap.files[rel] = f"special:{stat.S_IFMT(st.st_mode)}"
        return snap


def _bytes_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


@contextlib.contextmanager
def _bounded(seconds: float, memory_bytes: int | None) -> Iterator[None]:
    """Interrupt the block after `seconds` (SIGALRM also interrupts a blocking open() of a FIFO);
    cap this process's address space at its current size + `memory_bytes` meanwhile."""

    def on_alarm(signum, frame):
        raise Hang(f"still running after {seconds:.0f}s")

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    old_limit = resource.getrlimit(resource.RLIMIT_AS)
    if memory_bytes is not None:
        current = _vm_size()
        if current:
            soft = current + memory_bytes
            if old_limit[1] == resource.RLIM_INFINITY or soft < old_limit[1]:
                resource.setrlimit(resource.RLIMIT_AS, (soft, old_limit[1]))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, old_limit)


def _vm_size() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def _entry(argv: tuple[str, ...]) -> None:
    """The console script, as CliRunner can call it: `main()` is the CLI's error boundary."""
    sys.exit(main(list(argv)))


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_inproc(
    argv: list[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = 20,
    memory_mb: int | None = 1024,
) -> Outcome:
    runner = CliRunner()
    started = time.monotonic()
    hung = oom = False
    with _cwd(cwd):
        try:
            with _bounded(timeout, memory_mb * 2**20 if memory_mb else None):
                result = runner.invoke(_entry, argv, input=stdin, env=env, catch_exceptions=True)
        except Hang:  # raised outside click's own catch (rare: during its output handling)
            return Outcome(argv, None, "", "", time.monotonic() - started, "Hang", None, hung=True)
    seconds = time.monotonic() - started
    exc_line = tb = None
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        hung = isinstance(exc, Hang)
        oom = isinstance(exc, MemoryError)
        tb = "".join(traceback.format_exception(exc))
        exc_line = tb.strip().splitlines()[-1]
    rc = result.exit_code if exc is None or isinstance(exc, SystemExit) else None
    return Outcome(
        argv, rc, _bytes_text(result.stdout_bytes), _bytes_text(result.stderr_bytes), seconds, exc_line, tb, hung, oom
    )


def run_subprocess(
    argv: list[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    stdin: bytes = b"",
    stdout_path: str | None = None,
    timeout: float = 20,
    memory_mb: int | None = 1536,
) -> Outcome:
    limit = memory_mb * 2**20 if memory_mb else None

    def limit_memory() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    full_env = {**os.environ, **(env or {})}
    started = time.monotonic()
    out_file = open(stdout_path, "wb") if stdout_path else subprocess.PIPE  # noqa: SIM115 (closed below)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "shiplane", *argv],
            cwd=cwd,
            env=full_env,
            input=stdin,
            stdout=out_file,
            stderr=subprocess.PIPE,
            timeout=timeout,
            preexec_fn=limit_memory,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        return Outcome(
            argv, None, _bytes_text(err.stdout or b""), _bytes_text(err.stderr or b""), timeout, "Hang", hung=True
        )
    finally:
        if stdout_path:
            out_file.close()
    seconds = time.monotonic() - started
    stderr = _bytes_text(proc.stderr)
    exc_line = tb = None
    if "Traceback (most recent call last)" in stderr:
        tb = stderr[stderr.index("Traceback (most recent call last)") :]
        exc_line = tb.strip().splitlines()[-1]
    oom = "MemoryError" in stderr or proc.returncode == -signal.SIGKILL
    return Outcome(argv, proc.returncode, _bytes_text(proc.stdout or b""), stderr, seconds, exc_line, tb, False, oom)


INT32 = 2**31 - 1
_INT32_FIELDS = {
    "replicas",
    "minReplicas",
    "maxReplicas",
    "port",
    "containerPort",
    "targetPort",
    "nodePort",
    "backoffLimit",
    "completions",
    "parallelism",
    "failureThreshold",
    "successThreshold",
    "periodSeconds",
    "timeoutSeconds",
    "initialDelaySeconds",
    "averageUtilization",
    "defaultMode",
    "mode",
}


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CRON = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly|every \S+)|(\S+\s+){4}\S+)$")


def _syntax(obj: dict, where: str) -> list[str]:
    """Fields whose syntax the API server checks and the offline schemas do not."""
    problems = []
    meta = obj.get("metadata") or {}
    if meta.get("namespace") is not None and not _DNS_LABEL.match(str(meta["namespace"])):
        problems.append(f"{where}: namespace {meta['namespace']!r} is not a DNS label")
    if obj.get("kind") == "NetworkPolicy":
        for direction in ("ingress", "egress"):
            for rule in (obj.get("spec") or {}).get(direction) or []:
                for peer in [*(rule.get("from") or []), *(rule.get("to") or [])]:
                    cidr = (peer.get("ipBlock") or {}).get("cidr")
                    if cidr is not None:
                        try:
                            ipaddress.ip_network(str(cidr), strict=False)
                        except ValueError:
                            problems.append(f"{where}: ipBlock.cidr {cidr!r} is not a CIDR")
                for port in rule.get("ports") or []:
                    number = port.get("port")
                    if isinstance(number, int) and not 1 <= number <= 65535:
                        problems.append(f"{where}: port {number} is outside 1-65535")
    if obj.get("kind") == "CronJob" and not _CRON.match(str((obj.get("spec") or {}).get("schedule", "")).strip()):
        problems.append(f"{where}: schedule {(obj.get('spec') or {}).get('schedule')!r} is not cron syntax")

    def pods(node):
        if isinstance(node, dict):
            if "containers" in node:
                yield node
            for v in node.values():
                yield from pods(v)

    for pod in pods(obj.get("spec") or {}):
        rc = pod.get("runtimeClassName")
        if rc is not None and not _DNS_SUBDOMAIN.match(str(rc)):
            problems.append(f"{where}: runtimeClassName {rc!r} is not a DNS subdomain")
        for c in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
            # Names are not checked by the API server, but this pair is (validation.go, ValidateSecurityContext).
            sc = c.get("securityContext") or {}
            if sc.get("allowPrivilegeEscalation") is False:
                if "CAP_SYS_ADMIN" in ((sc.get("capabilities") or {}).get("add") or []):
                    problems.append(f"{where}: CAP_SYS_ADMIN added with allowPrivilegeEscalation: false")
                if sc.get("privileged") is True:
                    problems.append(f"{where}: privileged with allowPrivilegeEscalation: false")
    return problems


def api_limits(objects: list) -> list[str]:
    """Limits the API server enforces that offline schema validation does not: what `render` exit 0
    promises beyond the schema (issue 10 defect 6)."""
    problems = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in _INT32_FIELDS and isinstance(v, int) and not isinstance(v, bool) and not -INT32 <= v <= INT32:
                    problems.append(f"{path}.{k}: {v} is beyond int32")
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    for obj in objects:
        if not isinstance(obj, dict):
            continue
        meta = obj.get("metadata") or {}
        where = f"{obj.get('kind')}/{meta.get('name')}"
        name = str(meta.get("name", ""))
        if len(name) > 253:
            problems.append(f"{where}: name longer than 253 characters")
        for key, value in (meta.get("labels") or {}).items():
            if len(str(value)) > 63:
                problems.append(f"{where}: label {key} longer than 63 characters")
        size = sum(len(str(k)) + len(str(v)) for k, v in (meta.get("annotations") or {}).items())
        if size > 256 * 1024:
            problems.append(f"{where}: annotations over 256 KiB")
        if obj.get("kind") in ("ConfigMap", "Secret"):
            data = sum(
                len(str(v)) for part in ("data", "binaryData", "stringData") for v in (obj.get(part) or {}).values()
            )
            if data > 1024 * 1024:
                problems.append(f"{where}: data over 1 MiB")
        walk(obj, where)
        problems += _syntax(obj, where)
    return problems


def marker_forms(marker: str) -> list[str]:
    """The marker as it may leak: its planted prefix alone (a message that cuts the value short still
    leaks it), and base64 as a Secret's `data` would carry it."""
    from tests.unit.hostile.strategies import MARK_PREFIX

    return [MARK_PREFIX if marker.startswith(MARK_PREFIX) else marker, base64.b64encode(marker.encode()).decode()]


def verdict(
    outcome: Outcome,
    *,
    command: str,
    root: Path,
    out_dir: Path | None,
    before: Snapshot,
    markers: list[str] = (),
    allowed_exit: set[int] | None = None,
    may_change: set[str] = frozenset(),
) -> list[str]:
    """Every broken promise for this run, as one line each (empty: the run was fine)."""
    problems: list[str] = []
    if outcome.hung:
        problems.append(f"hang: no exit after {outcome.seconds:.1f}s")
    if outcome.out_of_memory:
        problems.append("memory: ran out of its address-space budget")
    if outcome.exception and not outcome.hung:
        problems.append(f"traceback: {outcome.exception}")
    elif "Traceback (most recent call last)" in outcome.stderr + outcome.stdout:
        problems.append("traceback printed")
    allowed = allowed_exit if allowed_exit is not None else set(EXIT_CODES.get(command, {0: "", 1: "", 2: ""}))
    if outcome.rc is not None and outcome.rc not in allowed:
        problems.append(f"exit code {outcome.rc}, expected one of {sorted(allowed)} for `{command}`")
    forms = [f for m in markers for f in marker_forms(m)]
    for form in forms:
        if form in outcome.stdout:
            problems.append("secret marker in stdout")
        if form in outcome.stderr:
            problems.append("secret marker in stderr")
    after = Snapshot.take(root)
    out_rel = str(out_dir.relative_to(root)) if out_dir is not None else None
    for rel, digest in after.files.items():
        inside_out = out_rel is not None and (rel == out_rel or rel.startswith(out_rel + os.sep))
        if rel in before.files:
            if before.files[rel] != digest and rel not in may_change:
                problems.append(f"changed a file shiplane did not write: {rel}")
        elif not inside_out:
            problems.append(f"wrote outside the output directory: {rel}")
        if digest.startswith(("link:", "dir", "special:")):
            continue
        if f"{os.sep}{SECRETS_DIR}{os.sep}" in f"{os.sep}{rel}" and inside_out:
            continue
        if not forms or (rel in before.files and before.files[rel] == digest):
            continue
        data = (root / rel).read_bytes()
        for form in forms:
            if form.encode() in data:
                problems.append(f"secret marker written to {rel}")
    for rel in before.files:
        if rel not in after.files and rel not in may_change:
            problems.append(f"deleted a file shiplane did not write: {rel}")
    return sorted(set(problems))
