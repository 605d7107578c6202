"""Helpers for the deploy tests: a small app spec, CLI runs, history reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import yaml

from shiplane.actions.target import Target
from shiplane.events import result
from shiplane.kube import Kube

SECRET_VALUE = "pa55-Wo3d-never-printed"


def spec(
    namespace: str,
    *,
    tag: str = "1.27",
    annotations: dict | None = None,
    migration: dict | None = None,
    extra_services: dict | None = None,
    replicas: int = 2,
) -> dict:
    """A two-tier app: web (stateless, 2 replicas, a secret) after db (stateful, a volume)."""
    web: dict = {
        "image": f"nginx:{tag}",
        "replicas": replicas,
        "ports": {"http": 8080},
        "env": {"API_KEY": {"secret": "api-key"}},
        "dependsOn": ["db"],
        "connectsTo": ["db"],
    }
    if annotations:
        web["annotations"] = annotations
    if migration:
        web["migration"] = migration
    return {
        "app": {"name": "shop", "version": tag},
        "defaults": {"resources": {"limits": {"cpu": "200m", "memory": "128Mi"}}},
        "secrets": {"api-key": {"fromEnv": "SHOP_API_KEY"}},
        "services": {
            "db": {
                "kind": "stateful",
                "image": "postgres:16-alpine",
                "ports": {"pg": 5432},
                "volumes": {"data": {"persistent": {"size": "1Gi"}}},
                "mounts": {"data": "/var/lib/postgresql/data"},
            },
            "web": web,
            **(extra_services or {}),
        },
        "stages": {"dev": {"namespace": namespace}},
    }


def write(tmp: Path, data: dict, name: str = "shiplane.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def env(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "SHOP_API_KEY": SECRET_VALUE}


def cli(*args: str, kubeconfig: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shiplane", *args],
        env=env(kubeconfig),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _as_at_a_terminal() -> None:
    # A run in the background of a non-interactive shell (as CI may be) inherits SIGINT ignored, and
    # Python then never raises KeyboardInterrupt; the tests stop commands as a user's Ctrl-C does.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args: str, kubeconfig: Path) -> subprocess.Popen:
    """A long-running command (`--watch`, `--follow`), started as from a terminal: Ctrl-C stops it."""
    return subprocess.Popen(
        [sys.executable, "-m", "shiplane", *args],
        # faulthandler: a command that does not stop can be asked (SIGABRT) where each thread is
        env={**env(kubeconfig), "PYTHONFAULTHANDLER": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_at_a_terminal,
    )


def history(path: Path, kubeconfig: Path) -> list[dict]:
    out = cli("history", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def outcomes(path: Path, kubeconfig: Path) -> list[tuple[int, str]]:
    return [(r["revision"], r["outcome"]) for r in history(path, kubeconfig)]


def target(kube: Kube, namespace: str) -> Target:
    return Target(kube, "shop", "dev", namespace)


drain = result  # run an action's event stream to its end, returning its result


def keyed(kube: Kube, namespace: str, app: str = "shop"):
    """`desired.load(digest_key=…)` as the CLI passes it: the stage's digest key, made on first use,
    so a library deploy names Secrets as a CLI deploy or plan of the same stage does."""
    from shiplane.secrets import digestkey

    return lambda *_: digestkey.read(kube, app=app, stage="dev", namespace=namespace, write=True)


def no_secret_in(*texts: str) -> None:
    for text in texts:
        assert SECRET_VALUE not in text


def record_texts(kube: Kube, namespace: str) -> list[str]:
    """Every stored release record, decoded to JSON text (to check no secret is in them)."""
    return [json.dumps(asdict(r), default=str) for r in target(kube, namespace).store().list()]
