"""Exports of a spec with `targets:`: one unit per target, and each round-trips exactly —
`helm template -f values-<stage>-<region>-<tenant>.yaml` and `kubectl kustomize
overlays/<stage>-<region>-<tenant>` give what `shiplane render --stage S --target …` gives."""

from __future__ import annotations

from pathlib import Path

from shiplane import exporting, rendering, spec
from shiplane.exporting import files, helm, kustomize
from shiplane.spec.inputs import gather
from tests.conftest import go_tool
from tests.unit.exporting.roundtrip import differences, kustomize_command, load_stream
from tests.unit.exporting.test_roundtrip import _run

SHOP = Path(__file__).parents[3] / "examples" / "shop" / "shiplane.yaml"


def test_shop_targets_round_trip(tmp_path: Path) -> None:
    loaded = spec.load([SHOP])
    targets = loaded.select("prod", {}, all_targets=True)
    units = [exporting.unit(s, gather(s)) for s in targets]
    assert [u.name for u in units] == [
        "prod-eu-acme",
        "prod-eu-globex",
        "prod-eu-initech",
        "prod-us-acme",
        "prod-us-globex",
        "prod-us-initech",
    ]
    files.write(tmp_path / "chart", helm.chart(units, app="shop", version="1.0.0"))
    files.write(tmp_path / "kustomize", kustomize.tree(units, app="shop"))
    helm_bin, build = str(go_tool("helm")), kustomize_command()
    for s, unit in zip(targets, units, strict=True):
        want = rendering.render(s, gather(s))
        values = str(tmp_path / f"chart/values-{unit.name}.yaml")
        got = load_stream(
            _run([helm_bin, "template", "release", str(tmp_path / "chart"), "-f", values, "--namespace", s.namespace])
        )
        assert not differences(got, want), f"helm, {unit.name}:\n" + "\n".join(differences(got, want))
        got = load_stream(_run([*build, str(tmp_path / "kustomize" / "overlays" / unit.name)]))
        assert not differences(got, want), f"kustomize, {unit.name}:\n" + "\n".join(differences(got, want))
    # what differs really is per target: us runs web with 4 replicas, eu with 3 (prod)
    us = (tmp_path / "chart" / "values-prod-us-acme.yaml").read_text()
    eu = (tmp_path / "chart" / "values-prod-eu-acme.yaml").read_text()
    assert us != eu
