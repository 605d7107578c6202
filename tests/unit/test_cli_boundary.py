"""The CLI's error boundary for what is not the user's input: output that cannot be
written, a reader that went away, an API server that does not answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

SHIPLANE = [sys.executable, "-m", "shiplane"]


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*SHIPLANE, *args], capture_output=True, text=True, timeout=60, **kwargs)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["schema"], ["--help"], ["--version"]])
def test_output_to_a_full_disk_is_a_one_line_error(args):
    with open("/dev/full", "w") as full:
        out = subprocess.run([*SHIPLANE, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert out.returncode == 3
    assert out.stderr.strip() == "error: cannot write output: No space left on device"


@pytest.mark.parametrize("args", [["schema"], ["--help"]])
def test_a_closed_pipe_ends_quietly(args):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written, as with `| head -0`
    try:
        out = subprocess.run([*SHIPLANE, *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert out.returncode == 141  # what a shell shows for a command ended by SIGPIPE
    assert out.stderr == ""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_api_server_exits_3_for_plan_status_and_deploy(tmp_path: Path):
    """Not 1 ("changes pending", "not ready"): 3, naming the server and context, after the shown 15 s wait."""
    port = closed_port()
    config = tmp_path / "kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "contexts": [{"name": "closed-ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "closed-ctx",
                "users": [{"name": "u", "user": {"token": "t"}}],
            }
        )
    )
    spec = tmp_path / "shiplane.yaml"
    web = {"image": "nginx:1.27", "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}
    spec.write_text(
        json.dumps({"app": {"name": "shop"}, "services": {"web": web}, "stages": {"dev": {"namespace": "shop-dev"}}})
    )
    env = {**os.environ, "KUBECONFIG": str(config)}
    commands = {
        name: subprocess.Popen(
            [*SHIPLANE, name, "-f", str(spec), "--stage", "dev", *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, extra in {"plan": [], "status": [], "deploy": ["--plain"]}.items()
    }
    started = time.monotonic()
    results = {name: (p.wait(timeout=60), p.stderr.read()) for name, p in commands.items()}
    took = time.monotonic() - started
    for proc in commands.values():
        proc.stdout.close()
        proc.stderr.close()
    assert took < 30, f"the wait is bounded at 15 s, took {took:.0f} s"
    for name, (code, err) in results.items():
        assert code == 3, (name, err)
        assert "Traceback" not in err
        assert f"error: API server https://127.0.0.1:{port} (context closed-ctx) not reachable after 15 s" in err
        assert "not reachable, retrying (0 s of 15 s)" in err  # the wait is shown while it lasts
