"""Benchmark: targets (tenants x regions x stages) — expansion + render, and fan-out deploy.

    .venv/bin/python bench/targets_bench.py [--tenants 50] [--regions 3] [--services 20]
                                            [--deploy-targets 20] [--parallel 1,4,8] [--no-deploy]

1. Expand and render: a 20-service app with `targets:` of 50 tenants x 3 regions x 3 stages
   (450 targets). Times `spec.load` (expansion + per-target merge and validation) and rendering
   every target (`rendering.render`, schema validation included), in this process.
2. Fan-out deploy: 20 targets (one region, 20 tenants, one stage, a 1-service app, 1 replica)
   on one local control plane started here (kwok nodes), once per --parallel setting, each run
   into fresh namespaces; wall time of `shiplane deploy --all-targets` per setting.
   `--ready-after N` makes each pod Ready only after N s (a kwok stage), as real apps are: then
   the fan-out waits rather than computes, which is where maxParallel pays.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml


def app_spec(services: int, tenants: int, regions: int, *, replicas: int = 2) -> dict:
    svcs = {
        f"svc{i:02d}": {
            "image": f"registry.example.com/shop/svc{i:02d}:1.{i}",
            "replicas": replicas,
            "ports": {"http": 8080},
            "env": {"TENANT": "default", "SERVICE": f"svc{i:02d}"},
            "probes": {"readiness": {"http": {"port": "http", "path": "/ready"}}},
        }
        for i in range(services)
    }
    return {
        "app": {"name": "shop"},
        "defaults": {
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
        },
        "services": svcs,
        "stages": {s: {"namespace": f"shop-{s}"} for s in ("dev", "test", "prod")},
        "targets": {
            "dimensions": {
                "region": {f"r{r}": {"context": f"ctx-r{r}"} for r in range(regions)},
                "tenant": {
                    f"t{t:02d}": {
                        "namespace": "shop-{tenant}-{stage}",
                        "overrides": {"services": {"svc00": {"env": {"TENANT": f"t{t:02d}"}}}},
                    }
                    for t in range(tenants)
                },
            },
            "matrix": ["stage", "region", "tenant"],
        },
    }


def expand_and_render(args) -> dict:
    from shiplane import rendering, schemas, spec
    from shiplane.spec.inputs import gather

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shiplane.yaml"
        path.write_text(yaml.safe_dump(app_spec(args.services, args.tenants, args.regions)))
        t0 = time.perf_counter()
        loaded = spec.load([path])
        t1 = time.perf_counter()
        objects = 0
        for s in loaded.targets:
            objs = rendering.render(s, gather(s))
            schemas.validate(objs, s.kubernetes_version)
            objects += len(objs)
        t2 = time.perf_counter()
    return {
        "targets": len(loaded.targets),
        "objects": objects,
        "expand_validate_s": round(t1 - t0, 2),
        "render_s": round(t2 - t1, 2),
    }


def fan_out(args) -> list[dict]:
    from shiplane.events import result
    from shiplane.kube import Kube, Ref
    from shiplane.localcluster import cluster as lc
    from shiplane.localcluster.stages import READY_AFTER

    state_dir = tempfile.mkdtemp(prefix="shiplane-bench-state-")
    os.environ["SHIPLANE_STATE"] = state_dir
    name = f"bench-targets-{os.getpid()}"
    rows = []
    try:
        state = result(lc.up(name, nodes=3))
        kube = Kube.connect(state.kubeconfig)
        for parallel in args.parallel:
            uid = uuid.uuid4().hex[:5]
            data = app_spec(1, args.deploy_targets, 1, replicas=1)
            data["stages"] = {"prod": {"namespace": f"b{uid}-prod"}}
            data["targets"]["dimensions"]["region"] = {"r0": {}}
            for v in data["targets"]["dimensions"]["tenant"].values():
                v["namespace"] = f"b{uid}-{{tenant}}"
            data["services"]["svc00"]["image"] = "nginx:1.27"
            if args.ready_after:  # pods become Ready only after this delay (kwok): a wait-bound rollout
                data["services"]["svc00"]["annotations"] = {READY_AFTER: f"{args.ready_after}s"}
            data["targets"]["rollout"] = {"maxParallel": parallel}
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "shiplane.yaml"
                path.write_text(yaml.safe_dump(data))
                env = {**os.environ, "KUBECONFIG": str(state.kubeconfig)}
                cmd = [sys.executable, "-m", "shiplane", "deploy", "-f", str(path), "-s", "prod", "--all-targets"]
                t0 = time.perf_counter()
                out = subprocess.run(
                    [*cmd, "-o", "json", "--policy-fail-on", "never"], env=env, capture_output=True, text=True
                )
                wall = time.perf_counter() - t0
            states = [r["state"] for r in json.loads(out.stdout or "[]")]
            rows.append(
                {
                    "maxParallel": parallel,
                    "wall_s": round(wall, 1),
                    "exit": out.returncode,
                    "deployed": states.count("deployed"),
                    "targets": len(states),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            if out.returncode:
                print(out.stderr[-2000:], file=sys.stderr)
            for t in range(args.deploy_targets):
                kube.delete(Ref("v1", "Namespace", f"b{uid}-t{t:02d}"), propagation="Background")
    finally:
        result(lc.down(name))
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tenants", type=int, default=50)
    p.add_argument("--regions", type=int, default=3)
    p.add_argument("--services", type=int, default=20)
    p.add_argument("--deploy-targets", type=int, default=20)
    p.add_argument("--parallel", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8])
    p.add_argument("--no-deploy", action="store_true")
    p.add_argument("--ready-after", type=int, default=0, help="seconds each pod takes to become Ready")
    p.add_argument("--no-render", action="store_true")
    args = p.parse_args()
    if not args.no_render:
        print(json.dumps({"expand_and_render": expand_and_render(args)}), flush=True)
    if not args.no_deploy:
        print(json.dumps({"fan_out": fan_out(args)}), flush=True)


if __name__ == "__main__":
    main()
