"""`shiplane registry up/status/down` as a user runs them: a real crane registry, stopped by pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shiplane.registry import Client, Reference
from tests.conftest import go_tool
from tests.ociimages import image, push

pytestmark = pytest.mark.integration


def shiplane(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shiplane", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_up_push_status_down(tmp_path) -> None:
    go_tool("crane")
    env = {**os.environ, "SHIPLANE_STATE": str(tmp_path / "state")}
    up = shiplane("registry", "up", "--name", "cli", "-o", "json", env=env)
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    host, pid = info["host"], info["pid"]
    try:
        assert host.startswith("127.0.0.1:") and info["running"]
        img = image(seed="cli")
        with Client(insecure={host}) as client:
            push(client, f"{host}/demo/app:1", img)
            assert client.resolve(Reference.parse(f"{host}/demo/app:1")) == img.digest
        again = shiplane("registry", "up", "--name", "cli", env=env)  # idempotent: the same registry
        assert again.returncode == 0 and again.stdout.strip() == host
        status = shiplane("registry", "status", "--name", "cli", env=env)
        assert status.returncode == 0 and host in status.stdout
    finally:
        down = shiplane("registry", "down", "--name", "cli", env=env)
    assert down.returncode == 0 and "stopped" in down.stdout
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # gone or a zombie
    gone = shiplane("registry", "status", "--name", "cli", env=env)
    assert gone.returncode == 2 and "no registry named 'cli'" in gone.stderr
    bad = shiplane("registry", "up", "--name", "no/slash", env=env)
    assert bad.returncode == 2 and "registry name" in bad.stderr
