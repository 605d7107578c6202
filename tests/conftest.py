"""Shared fixtures: one local control plane per test session, a fresh namespace per test.

Integration tests skip with a reason when the control plane can be neither found nor
built (no Go, no binaries) — except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from shiplane.events import Step, result
from shiplane.kube import Kube, Ref

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class LocalCluster:
    name: str
    kubeconfig: Path
    kube: Kube


def _consume(stream, label: str):
    """Run an event stream; print finished steps so `pytest -s` shows start-up progress."""

    def show(event) -> None:
        if isinstance(event, Step) and event.done:
            print(f"[{label}] {event.message}" + (f" ({event.seconds:.1f}s)" if event.seconds else ""))

    return result(stream, show)


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"local control plane unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"local control plane unavailable: {reason}")


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    from shiplane.localcluster import binaries
    from shiplane.localcluster import cluster as lc

    if binaries.locate() is None and not shutil.which("go"):
        _unavailable("Go is not installed and no SHIPLANE_* / PATH control-plane binaries were found")
    name = f"pytest-{os.getpid()}"
    with private_state(tmp_path_factory.mktemp("shiplane-state")):
        try:
            state = _consume(lc.up(name, nodes=3), "cluster up")
            yield LocalCluster(name, state.kubeconfig, Kube.connect(state.kubeconfig))
        finally:
            _consume(lc.down(name), "cluster down")


@contextmanager
def private_state(directory: Path) -> Iterator[None]:
    """SHIPLANE_STATE pointed at `directory` meanwhile, so tests never touch a developer's own clusters."""
    previous = os.environ.get("SHIPLANE_STATE")
    os.environ["SHIPLANE_STATE"] = str(directory)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SHIPLANE_STATE", None)
        else:
            os.environ["SHIPLANE_STATE"] = previous


@pytest.fixture
def namespace(local_cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace whose `default` ServiceAccount exists (pods are admitted)."""
    base = request.node.name.lower().replace("_", "-")
    name = f"{''.join(c for c in base if c.isalnum() or c == '-')[:24].strip('-')}-{uuid.uuid4().hex[:6]}"
    kube = local_cluster.kube
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    _consume(kube.wait_for(Ref("v1", "ServiceAccount", "default", name), lambda o: o is not None, timeout=60), "ns")
    yield name
    kube.delete(Ref("v1", "Namespace", name), propagation="Background")


def go_tool(name: str) -> Path:
    """A peer Go tool (crane, helm, cosign, syft, kube-score) from the cache, built on first use.

    `./dev test` builds the ones the suite needs before pytest starts (with progress); without Go
    the test skips with a reason, except in CI, where that is a failure.
    """
    from shiplane.errors import ShiplaneError
    from shiplane.localcluster import tools

    if found := tools.locate(name):
        return found
    try:
        return _consume(tools.build(name), name)
    except ShiplaneError as exc:
        if IN_CI:
            pytest.fail(f"{name} unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"{name} unavailable: {exc}")


@contextmanager
def running_registry(name: str, root: Path) -> Iterator[str]:
    """A `crane registry serve` on a free loopback port under `root`; yields `127.0.0.1:<port>` (plain HTTP)."""
    from shiplane.localcluster import registry

    go_tool("crane")
    state = _consume(registry.up(name, root=root), f"registry {name}")
    try:
        yield state.host
    finally:
        _consume(registry.down(name, root=root), f"registry {name}")


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OCI registry for the session: `host:port`, plain HTTP (pass it as `insecure`)."""
    with running_registry(f"pytest-{os.getpid()}", tmp_path_factory.mktemp("registry-state")) as host:
        yield host


@pytest.fixture(scope="session")
def second_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another registry, for copies and relocation between two hosts."""
    with running_registry(f"pytest-{os.getpid()}-b", tmp_path_factory.mktemp("registry-state-b")) as host:
        yield host
