"""dependsOn cycles are found without recursion: a chain of thousands of services is an ordinary input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shiplane import spec
from shiplane.errors import InputError


def chain(tmp_path: Path, n: int, *, closed: bool) -> Path:
    services = {f"s{i}": {"image": "nginx:1.27", "dependsOn": [f"s{i + 1}"]} for i in range(n - 1)}
    services[f"s{n - 1}"] = {"image": "nginx:1.27", "dependsOn": ["s0"] if closed else []}
    doc = {
        "app": {"name": "chain"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "services": services,
        "stages": {"dev": {"namespace": "chain"}},
    }
    path = tmp_path / "shiplane.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_long_chain_loads(tmp_path: Path) -> None:
    assert len(spec.load([chain(tmp_path, 3000, closed=False)]).stage("dev").doc.services) == 3000


def test_a_long_cycle_is_named_from_its_first_service(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        spec.load([chain(tmp_path, 3000, closed=True)])
    message = str(err.value)
    assert "services.s0.dependsOn: dependsOn cycle: s0 -> s1 -> s2 ->" in message
    assert message.rstrip().endswith("s2998 -> s2999 -> s0")
