"""`shiplane cluster up/status/kubeconfig/down` as a user runs them, kubectl included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI

pytestmark = pytest.mark.integration


def shiplane(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "shiplane", *args], env=env, capture_output=True, text=True, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(f"shiplane {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def running(pid: int) -> bool:
    """True if the pid exists and is not a zombie (exited, unreaped by init, is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def test_up_status_kubectl_down_leaves_no_process(tmp_path):
    from shiplane.localcluster import binaries

    if binaries.locate() is None and not shutil.which("go"):
        if IN_CI:
            pytest.fail("no Go and no control-plane binaries in CI", pytrace=False)
        pytest.skip("local control plane unavailable: no Go and no SHIPLANE_*/PATH binaries")
    env = {**os.environ, "SHIPLANE_STATE": str(tmp_path / "state")}
    up = shiplane("cluster", "up", "--name", "cli", "--nodes", "2", "--plain", env=env)
    kubeconfig = up.stdout.strip()
    assert Path(kubeconfig).is_file()
    assert "start kube-apiserver" in up.stderr  # progress lines were shown
    try:
        assert shiplane("cluster", "kubeconfig", "--name", "cli", env=env).stdout.strip() == kubeconfig
        st = json.loads(shiplane("cluster", "status", "--name", "cli", "-o", "json", env=env).stdout)
        assert st["healthy"] is True
        assert st["version"] == "v1.36.3"
        assert sorted(n["name"] for n in st["nodes"]) == ["kwok-node-0", "kwok-node-1"]
        pids = [c["pid"] for c in st["components"].values()]
        assert len(pids) == 5 and all(running(p) for p in pids)

        if shutil.which("kubectl"):
            nodes = subprocess.run(
                ["kubectl", "--kubeconfig", kubeconfig, "get", "nodes", "-o", "name"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout.split()
            assert nodes == ["node/kwok-node-0", "node/kwok-node-1"]
    finally:
        down = shiplane("cluster", "down", "--name", "cli", env=env)
    assert not [p for p in pids if running(p)], "processes left behind after down"
    assert "kube-apiserver" in down.stdout
    assert not (tmp_path / "state" / "clusters" / "cli").exists()
    gone = shiplane("cluster", "status", "--name", "cli", env=env, check=False)
    assert gone.returncode == 2 and "no cluster named 'cli'" in gone.stderr
    assert "Traceback" not in gone.stderr
