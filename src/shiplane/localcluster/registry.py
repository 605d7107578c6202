"""A local OCI registry on loopback for tests and the demo: `crane registry serve`, tracked like the control plane.

State lives beside the local clusters (`<state root>/registries/<name>/`): `state.json` with the
process (pid and start time, so `down` stops exactly that process) and `blobs/` for `--disk`.
crane keeps blobs on disk but manifests and tags in memory: a restarted registry has its
blobs but no tags, which is what a throwaway test registry needs.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from shiplane.errors import ClusterFailed, InputError
from shiplane.events import Event, Note, Step, Waiting
from shiplane.localcluster import tools
from shiplane.localcluster.cluster import state_root
from shiplane.localcluster.processes import Proc, alive, free_ports, log_tail, spawn, stop

DEFAULT_NAME = "default"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class RegistryState:
    name: str
    directory: Path
    port: int
    proc: Proc
    started_at: float

    @property
    def host(self) -> str:
        """`127.0.0.1:<port>`: what image references name (plain HTTP: mark it insecure)."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return alive(self.proc)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "running": self.running,
            "pid": self.proc.pid,
            "log": self.proc.log,
            "disk": str(self.directory / "blobs"),
            "started_at": self.started_at,
        }


def _directory(name: str, root: Path | None = None) -> Path:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise InputError(f"registry name {name!r}: use letters, digits, '-' and '_' only")
    return (root or state_root()) / "registries" / name


def load(name: str = DEFAULT_NAME, *, root: Path | None = None) -> RegistryState | None:
    directory = _directory(name, root)
    try:
        data = json.loads((directory / "state.json").read_text())
        return RegistryState(name, directory, int(data["port"]), Proc(**data["proc"]), float(data["started_at"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as err:
        raise ClusterFailed(f"{directory}/state.json is corrupt: {err}", hint="remove that directory") from None


def _answers(host: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}/v2/", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def up(
    name: str = DEFAULT_NAME, *, port: int | None = None, root: Path | None = None
) -> Generator[Event, None, RegistryState]:
    """Start the registry (or return the running one of that name); returns when `/v2/` answers.

    `root` replaces the state root (tests keep their registries out of a developer's state).
    """
    directory = _directory(name, root)
    existing = load(name, root=root)
    if existing is not None and existing.running:
        yield Note(f"registry {name!r} is already running at {existing.host}")
        return existing
    crane = yield from tools.build("crane")
    yield Step(f"start registry {name!r}")
    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "blobs").mkdir(exist_ok=True)
    port = port or free_ports(1)[0]
    proc = spawn(
        "registry",
        [str(crane), "registry", "serve", "--address", f"127.0.0.1:{port}", "--disk", str(directory / "blobs")],
        log=directory / "registry.log",
    )
    state = RegistryState(name, directory, port, proc, time.time())
    tmp = directory / "state.json.tmp"
    tmp.write_text(json.dumps({"port": port, "proc": proc.to_json(), "started_at": state.started_at}, indent=2))
    tmp.replace(directory / "state.json")
    while not _answers(state.host):
        elapsed = time.monotonic() - started
        if not state.running or elapsed > START_TIMEOUT:
            stop([proc], grace=2)
            why = "exited" if not state.running else f"did not answer within {START_TIMEOUT:.0f}s"
            raise ClusterFailed(f"registry {name!r} {why}; its log:\n    {log_tail(proc.log)}")
        yield Waiting(f"registry {name!r} at {state.host}", elapsed)
        time.sleep(0.1)
    yield Step(f"start registry {name!r}", done=True, seconds=time.monotonic() - started)
    return state


def down(name: str = DEFAULT_NAME, *, keep_data: bool = False, root: Path | None = None) -> Generator[Event, None, str]:
    """Stop exactly the process `up` started and remove its state (blobs too unless `keep_data`)."""
    state = load(name, root=root)
    if state is None:
        yield Note(f"no registry named {name!r} (nothing to stop)")
        return "not running"
    yield Step(f"stop registry {name!r}")
    outcome = stop([state.proc], grace=5)["registry"]
    if state.running:
        raise ClusterFailed(f"could not stop registry {name!r} (pid {state.proc.pid})")
    if keep_data:
        (state.directory / "state.json").unlink(missing_ok=True)
    else:
        shutil.rmtree(state.directory, ignore_errors=True)
    yield Step(f"stop registry {name!r}", done=True)
    return outcome


def status(name: str = DEFAULT_NAME, *, root: Path | None = None) -> RegistryState:
    state = load(name, root=root)
    if state is None:
        raise InputError(f"no registry named {name!r}", hint="start it with `shiplane registry up`")
    return state
