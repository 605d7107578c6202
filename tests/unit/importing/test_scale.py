"""Import work stays linear in the input: 1,000 compose services (each naming a peer, with a
password and a dependency) import in seconds. Before the fix who-mentions-whom and the
`name:port` hints were computed per pair of services and secret values per pair of
(text, secret): 3 min 6 s for this input with --connections evidence, 1.4 s after."""

from __future__ import annotations

import time
from pathlib import Path

from shiplane.importing import import_compose

N = 1000


def _compose(path: Path) -> None:
    lines = ["services:"]
    for i in range(N):
        lines += [
            f"  svc{i:04d}:",
            f"    image: example/svc{i:04d}:1.0",
            f"    ports: ['{8000 + i % 50}:80']",
            "    environment:",
            f"      PEER: http://svc{(i + 1) % N:04d}:80",
            f"      DB_PASSWORD: pw-{i}-value",
        ]
        if i:
            lines.append(f"    depends_on: [svc{i // 2:04d}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_thousand_services_import_in_seconds(tmp_path: Path) -> None:
    _compose(tmp_path / "compose.yaml")
    start = time.monotonic()
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={}, connections="evidence")
    elapsed = time.monotonic() - start
    assert len(imported.spec["services"]) == N
    assert imported.spec["services"]["svc0001"]["connectsTo"] == ["svc0000", "svc0002"]
    assert len(imported.secret_values) == N
    assert elapsed < 20, f"{elapsed:.1f}s"
