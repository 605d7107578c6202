"""Benchmark: shiplane render + validate vs `kubectl kustomize`, 1,000 services x 3 stages.

    .venv/bin/python bench/render_bench.py [--services 1000] [--repeat 3]

Generates, in a temp dir, one shiplane spec and an equivalent kustomization (a base
with the same Deployments, Services, NetworkPolicies and hashed env ConfigMaps as
generators, plus dev/test/prod overlays setting namespace, stage label, replicas,
limits and image digests). Times, best of --repeat:
  - shiplane in-process: load + validate the spec, render all 3 stages, validate every
    object against the Kubernetes 1.36 schemas, serialize to YAML;
  - shiplane CLI: `shiplane render --stage S` as 3 processes (interpreter start included);
  - kustomize: `kubectl kustomize overlays/S` as 3 processes (no schema validation).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

STAGES = ("dev", "test", "prod")
REPLICAS = {"dev": 1, "test": 2, "prod": 3}


def digest(i: int) -> str:
    return hashlib.sha256(f"svc{i}".encode()).hexdigest()


def spec(n: int) -> dict:
    services = {}
    for i in range(n):
        services[f"svc{i}"] = {
            "image": f"ghcr.io/acme/svc{i}:1.0.{i}",
            "ports": {"http": 8080},
            "env": {"LOG_LEVEL": "info", "INDEX": str(i)},
            "probes": {"readiness": {"http": {"port": "http", "path": "/healthz"}}},
            "connectsTo": [f"svc{(i + 1) % n}"],
        }
    stages = {}
    for s in STAGES:
        over: dict = {"services": {f"svc{i}": {"replicas": REPLICAS[s]} for i in range(n)}}
        if s == "prod":
            for i in range(0, n, 10):
                over["services"][f"svc{i}"]["image"] = f"ghcr.io/acme/svc{i}@sha256:{digest(i)}"
            over["defaults"] = {"resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}
        stages[s] = {"namespace": f"bench-{s}", "kubernetesVersion": "1.36", "overrides": over}
    return {
        "app": {"name": "bench", "version": "1.0.0"},
        "defaults": {
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
        },
        "services": services,
        "stages": stages,
    }


def kustomization(root: Path, n: int) -> None:
    """Base from shiplane's own objects (ConfigMaps become generators), overlays as patches."""
    from shiplane import rendering
    from shiplane import spec as spec_mod
    from shiplane.rendering import exporting
    from shiplane.spec.inputs import gather

    stage = spec_mod.load([root / "shiplane.yaml"]).stage("dev")
    base = root / "kustomize" / "base"
    base.mkdir(parents=True)
    resources, generators = [], []
    for o in rendering.render(stage, gather(stage, {}), namespace="base"):
        o["metadata"].pop("namespace", None)
        if o["kind"] == "ConfigMap":
            name = o["metadata"]["name"].rsplit("-", 1)[0]
            literals = [f"{k}={v}" for k, v in o["data"].items()]
            generators.append({"name": name, "literals": literals, "options": {"immutable": True}})
            continue
        if o["kind"] == "Deployment":
            for c in o["spec"]["template"]["spec"]["containers"]:
                for ref in c.get("envFrom", []):
                    ref["configMapRef"]["name"] = ref["configMapRef"]["name"].rsplit("-", 1)[0]
        fname = exporting.file_name(o)
        (base / fname).write_text(exporting.to_yaml(o))
        resources.append(fname)
    (base / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": resources, "configMapGenerator": generators}, sort_keys=False)
    )
    for s in STAGES:
        overlay = root / "kustomize" / "overlays" / s
        overlay.mkdir(parents=True)
        # Patches targeted at every Deployment: the fastest way to say "all services" in kustomize.
        replicas = [{"op": "replace", "path": "/spec/replicas", "value": REPLICAS[s]}]
        patches = [{"target": {"kind": "Deployment"}, "patch": yaml.safe_dump(replicas)}]
        if s == "prod":
            limits = {"cpu": "1", "memory": "512Mi"}
            op = [{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits", "value": limits}]
            patches.append({"target": {"kind": "Deployment"}, "patch": yaml.safe_dump(op)})
        k = {
            "resources": ["../../base"],
            "namespace": f"bench-{s}",
            "labels": [{"pairs": {"shiplane.io/stage": s}, "includeSelectors": False}],
            "patches": patches,
        }
        if s == "prod":
            k["images"] = [{"name": f"ghcr.io/acme/svc{i}", "digest": f"sha256:{digest(i)}"} for i in range(0, n, 10)]
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump(k, sort_keys=False))


def shiplane_in_process(path: Path) -> tuple[float, int]:
    from shiplane import rendering, schemas
    from shiplane import spec as spec_mod
    from shiplane.rendering import exporting
    from shiplane.spec.inputs import gather

    start = time.perf_counter()
    loaded = spec_mod.load([path])
    count = 0
    for s in STAGES:
        stage = loaded.stage(s)
        objects = rendering.render(stage, gather(stage, {}))
        schemas.validate(objects, stage.kubernetes_version)
        exporting.to_stream(exporting.mask_secrets(objects))
        count += len(objects)
    return time.perf_counter() - start, count


def run_each_stage(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Seconds for the 3 runs, and how many objects they printed."""
    start = time.perf_counter()
    outputs = []
    for s in STAGES:
        argv = [a.replace("{stage}", s) for a in cmd]
        outputs.append(subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout)
    seconds = time.perf_counter() - start
    return seconds, sum(o.count("\nkind: ") + o.startswith("kind: ") for o in outputs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kubectl", default=shutil.which("kubectl") or "/usr/bin/kubectl")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shiplane-bench-") as tmp:
        root = Path(tmp)
        (root / "shiplane.yaml").write_text(yaml.safe_dump(spec(args.services), sort_keys=False))
        kustomization(root, args.services)
        shiplane_bin = str(Path(sys.executable).with_name("shiplane"))
        inproc = min(shiplane_in_process(root / "shiplane.yaml") for _ in range(args.repeat))
        cli = min(
            run_each_stage([shiplane_bin, "render", "-f", "shiplane.yaml", "--stage", "{stage}"], root)
            for _ in range(args.repeat)
        )
        kust = min(
            run_each_stage([args.kubectl, "kustomize", "kustomize/overlays/{stage}"], root) for _ in range(args.repeat)
        )
    seconds, objects = inproc
    (cli, cli_objects), (kust, kust_objects) = cli, kust
    print(f"services x stages:                  {args.services} x {len(STAGES)}  (cpus: {os.cpu_count()})")
    print(f"shiplane render+validate, in-process: {seconds:7.2f} s  ({objects} objects, all schema-validated)")
    print(f"shiplane render+validate, 3 CLI runs: {cli:7.2f} s  ({cli_objects} objects)")
    print(f"kubectl kustomize, 3 runs:            {kust:7.2f} s  ({kust_objects} objects, not validated)")
    print(f"ratio kustomize / shiplane (CLI):     {kust / cli:7.2f}  (>1 means shiplane is faster)")
    print(f"ratio kustomize / shiplane (in-proc): {kust / seconds:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
