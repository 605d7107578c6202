"""An exported chart, deployed for real: `helm template` output applied with server-side apply on the
local control plane leaves exactly the objects `shiplane deploy` of that stage would apply.

Proof: after the chart's objects are applied (and the Secret created from the exported placeholder,
filled in as the README says), a server-side dry-run apply of every object `shiplane render` gives
for the stage, under shiplane's field manager, changes nothing on the server.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest

from shiplane import exporting, rendering, spec
from shiplane.exporting import files, helm
from shiplane.kube import Ref
from shiplane.rendering import exporting as yaml_out
from shiplane.spec.inputs import gather
from tests.conftest import go_tool
from tests.unit.exporting.roundtrip import load_stream

pytestmark = pytest.mark.integration
VOTING = Path(__file__).parents[2] / "examples" / "voting" / "shiplane.yaml"
PASSWORD = "export-deploy-pw-5Kd"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def _comparable(o: dict) -> dict:
    o = copy.deepcopy(o)
    o.pop("status", None)
    for field in ("managedFields", "resourceVersion"):
        o["metadata"].pop(field, None)
    return o


def test_helm_export_deploys_what_shiplane_deploys(local_cluster, namespace: str, tmp_path: Path) -> None:
    helm_bin = str(go_tool("helm"))
    loaded = spec.load([VOTING])
    environ = {"VOTING_POSTGRES_PASSWORD": PASSWORD}
    stages = [loaded.stage("dev"), loaded.stage("test")]
    units = [exporting.unit(s, gather(s, environ)) for s in stages]
    chart = tmp_path / "chart"
    files.write(chart, helm.chart(units, app="voting", version="1.0.0"))

    stage = loaded.stage("test")
    rendered = subprocess.run(
        [helm_bin, "template", "voting", str(chart), "-f", str(chart / "values-test.yaml"), "--namespace", namespace],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    objects = load_stream(rendered)
    for path in sorted((chart / "secrets" / "test").glob("*.yaml")):  # the user's step: fill in, apply
        for secret in load_stream(path.read_text()):
            secret["metadata"]["namespace"] = namespace
            secret["stringData"] = {"value": PASSWORD}
            objects.append(secret)
    applied = subprocess.run(
        [
            KUBECTL,
            "--kubeconfig",
            str(local_cluster.kubeconfig),
            "apply",
            "--server-side",
            "--field-manager=shiplane",
            "-f",
            "-",
        ],
        input=yaml_out.to_stream(objects),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert applied.returncode == 0, applied.stderr

    kube = local_cluster.kube
    want = rendering.render(stage, gather(stage, environ), namespace=namespace)
    assert len(objects) == len(want)
    changed = []
    for o in want:
        for _attempt in range(3):  # controllers may update an object between the two reads
            live = kube.get(Ref.of(o))
            assert live is not None, f"{o['kind']}/{o['metadata']['name']} was not deployed by the chart"
            dry = kube.apply(o, dry_run=True)
            if _comparable(dry) == _comparable(kube.get(Ref.of(o))):
                break
        else:
            changed.append(f"{o['kind']}/{o['metadata']['name']}")
    assert not changed, f"shiplane deploy would change what the chart deployed: {changed}"
