"""Deploy a generated 200-service app to the local control plane: shiplane vs kubectl.

    .venv/bin/python bench/deploy_bench.py [--services 200]

In the same run, on the same cluster (a fresh one this script starts and stops):
  1. `shiplane deploy` (CLI, as a user runs it): policy gate, ordered waves, rollout
     tracking, release record, prune check; wall time.
  2. `kubectl apply --server-side -f DIR` of the same rendered objects, then
     `kubectl rollout status` for each workload; wall time.
  3. shiplane's Deploy again in-process into a third namespace, counting its API
     requests per object.
  4. One change: one service's image changed, redeployed both ways — `shiplane deploy`
     (CLI, wall time; the same redeploy in-process for its API requests, counted at the
     REST client) vs `kubectl apply --server-side -f DIR` + `kubectl rollout status` of
     the changed Deployment (wall time; requests counted from kubectl's own `-v=6` log).
Prints both wall times, the ratio and requests per object; `--write-readme` stores the rows in
bench/results/deploy.json and re-renders README's table. Machines are noisy:
compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import readme_table
import yaml

from shiplane.actions import desired
from shiplane.actions.deploy import Deploy
from shiplane.actions.target import Target
from shiplane.events import result
from shiplane.kube import Kube
from shiplane.localcluster import cluster as lc


def app_spec(services: int) -> dict:
    """Ten backends, the rest depending on one of them: two rollout levels, like a real app."""
    svcs = {}
    for i in range(services):
        svc: dict = {
            "image": f"registry.example/team/svc{i}:1.0.{i}",
            "replicas": 2,
            "ports": {"http": 8080},
            "probes": {
                "readiness": {"http": {"port": "http", "path": "/healthz"}},
                "liveness": {"tcp": {"port": "http"}},
            },
        }
        if i >= 10:
            svc["dependsOn"] = [f"svc{i % 10}"]
            svc["connectsTo"] = [f"svc{i % 10}"]
        svcs[f"svc{i}"] = svc
    return {
        "app": {"name": "bench", "version": "1.0.0"},
        "defaults": {
            "resources": {
                "requests": {"cpu": "10m", "memory": "32Mi"},
                "limits": {"cpu": "100m", "memory": "64Mi", "ephemeralStorage": "100Mi"},
            }
        },
        "services": svcs,
        "stages": {"bench": {"namespace": "bench-shiplane"}},
    }


CHANGED = "svc150"  # a leaf service (it depends on svc0): the one-change row changes its image
# kubectl -v=6 logs one line per request, as `"Response" verb="GET" url=…` or `GET https://… 200 OK`
REQUEST_LINE = re.compile(r'verb="(GET|POST|PUT|PATCH|DELETE)"|\] (GET|POST|PUT|PATCH|DELETE) https?://')


def kubectl_counted(argv: list[str], env: dict) -> tuple[float, int]:
    """Wall time and API requests of one kubectl run (its -v=6 log lines)."""
    started = time.perf_counter()
    done = subprocess.run([*argv, "-v=6"], env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return took, len(REQUEST_LINE.findall(done.stderr))


def one_change(spec: dict, services: int) -> dict:
    """The same app with one service's image changed."""
    spec = copy.deepcopy(spec)  # not a YAML round trip: safe_dump sorts keys, reordering the services
    if services > 150:
        spec["services"][CHANGED]["image"] += "-patch1"
    else:
        spec["services"][f"svc{services - 1}"]["image"] += "-patch1"
    return spec


def timed(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--write-readme", action="store_true", help="store the rows and re-render README's table")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shiplane-deploy-bench-"))
    os.environ["SHIPLANE_STATE"] = str(work / "state")
    spec_path = work / "shiplane.yaml"
    spec_path.write_text(yaml.safe_dump(app_spec(args.services), sort_keys=False))
    changed_path = work / "changed.yaml"
    changed_path.write_text(yaml.safe_dump(one_change(app_spec(args.services), args.services), sort_keys=False))
    print(f"starting a local cluster for the benchmark ({args.services} services)...", file=sys.stderr)
    load_before = os.getloadavg()[0]
    state = result(lc.up("bench", nodes=10))  # 3 x 400 pods; 250 pods per node
    env = {**os.environ, "KUBECONFIG": str(state.kubeconfig)}
    shiplane = [sys.executable, "-m", "shiplane"]
    try:
        want = desired.load([spec_path], "bench", namespace="bench-kubectl")
        manifests = work / "manifests"
        manifests.mkdir()
        for i, obj in enumerate(want.objects):
            (manifests / f"{i:05}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
        workloads = [o for o in want.objects if o["kind"] == "Deployment"]

        t_shiplane = timed([*shiplane, "deploy", "-f", str(spec_path), "--stage", "bench", "--plain"], env)

        started = time.perf_counter()
        subprocess.run(["kubectl", "create", "namespace", "bench-kubectl"], env=env, check=True, capture_output=True)
        subprocess.run(
            ["kubectl", "apply", "--server-side", "-f", str(manifests)], env=env, check=True, capture_output=True
        )
        for w in workloads:
            subprocess.run(
                [
                    "kubectl",
                    "rollout",
                    "status",
                    f"deployment/{w['metadata']['name']}",
                    "-n",
                    "bench-kubectl",
                    "--timeout=300s",
                ],
                env=env,
                check=True,
                capture_output=True,
            )
        t_kubectl = time.perf_counter() - started

        # Requests per object, counted at the REST client of an in-process deploy.
        kube = Kube.connect(state.kubeconfig)
        counted = {"n": 0}
        rest = kube.api_client.rest_client
        original = rest.request

        def counting(*a, **kw):
            counted["n"] += 1
            return original(*a, **kw)

        rest.request = counting
        third = desired.load([spec_path], "bench", namespace="bench-counted")
        result(Deploy(Target(kube, "bench", "bench", "bench-counted"), third.objects).run())
        n_objects = len(third.objects)
        first_requests = counted["n"]

        # One change: shiplane (CLI for wall time; in-process for requests) ...
        t_shiplane_one = timed([*shiplane, "deploy", "-f", str(changed_path), "--stage", "bench", "--plain"], env)
        counted["n"] = 0
        fourth = desired.load([changed_path], "bench", namespace="bench-counted")
        started = time.perf_counter()
        result(Deploy(Target(kube, "bench", "bench", "bench-counted"), fourth.objects).run())
        t_inprocess_one = time.perf_counter() - started
        one_requests = counted["n"]

        # ... and kubectl: the same manifests with that one image changed, all applied again.
        kube_changed = desired.load([changed_path], "bench", namespace="bench-kubectl")
        for i, (old, new) in enumerate(zip(want.objects, kube_changed.objects, strict=True)):
            if old != new:
                (manifests / f"{i:05}.yaml").write_text(yaml.safe_dump(new, sort_keys=False))
                changed_name = new["metadata"]["name"]
        t_apply, n_apply = kubectl_counted(["kubectl", "apply", "--server-side", "-f", str(manifests)], env)
        t_status, n_status = kubectl_counted(
            ["kubectl", "rollout", "status", f"deployment/{changed_name}", "-n", "bench-kubectl", "--timeout=300s"],
            env,
        )
        t_kubectl_one, kubectl_requests = t_apply + t_status, n_apply + n_status
    finally:
        result(lc.down("bench"))

    print(f"objects per deploy:          {n_objects} ({len(workloads)} Deployments)")
    print(f"shiplane deploy (CLI):       {t_shiplane:8.2f} s  (gate, waves by dependsOn, tracking, record, prune)")
    print(f"kubectl apply + rollout:     {t_kubectl:8.2f} s  (no order, no history, no prune)")
    print(f"ratio shiplane / kubectl:    {t_shiplane / t_kubectl:8.2f}")
    print(
        f"shiplane API requests:       {first_requests} ({first_requests / n_objects:.2f} per object; "
        "watch streams count once)"
    )
    print()
    print("one change (one image, redeployed):")
    print(f"{'':30}{'wall s':>9}{'requests':>10}")
    print(f"{'  shiplane deploy (CLI)':30}{t_shiplane_one:9.2f}{one_requests:10d}  (requests: in-process run)")
    print(f"{'  shiplane Deploy in-process':30}{t_inprocess_one:9.2f}{one_requests:10d}")
    print(f"{'  kubectl apply + rollout':30}{t_kubectl_one:9.2f}{kubectl_requests:10d}  (kubectl -v=6)")
    print(
        f"  ratio shiplane / kubectl:   wall {t_shiplane_one / t_kubectl_one:.2f}, requests "
        f"{one_requests / max(kubectl_requests, 1):.2f}"
    )
    print(f"  shiplane one change / first deploy, requests: {one_requests / first_requests:.1%} (goal: at most 10%)")
    if args.write_readme:
        how = "CLI processes, one run each, same cluster (10 kwok nodes)"
        rows = [
            {
                "what": f"deploy {args.services} services ({n_objects} objects) and wait for the rollouts",
                "shiplane": f"{t_shiplane:.1f} s",
                "peer": f"`kubectl apply --server-side` + `rollout status` {t_kubectl:.1f} s",
                "ratio": round(t_shiplane / t_kubectl, 2),
                "how": how,
            },
            {
                "what": "redeploy after one image change",
                "shiplane": f"{t_shiplane_one:.1f} s, {one_requests} requests",
                "peer": f"`kubectl apply --server-side` + `rollout status` {t_kubectl_one:.1f} s, "
                f"{kubectl_requests} requests",
                "ratio": round(t_shiplane_one / t_kubectl_one, 2),
                "how": f"{how}; requests counted at shiplane's REST client and from kubectl's `-v=6` log",
            },
        ]
        readme_table.record("deploy", rows, load_before=load_before)
        readme_table.write_readme()


if __name__ == "__main__":
    main()
