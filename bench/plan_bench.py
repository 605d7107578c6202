"""`shiplane plan` vs `kubectl diff --server-side` on the deployed 200-service app.

    .venv/bin/python bench/plan_bench.py [--services 200] [--changed 10] [--repeat 5] [--write-readme]

On a fresh local cluster (10 kwok nodes; started and stopped here), the generated app of
`deploy_bench.py` is deployed twice: by `shiplane deploy` into one namespace and by
`kubectl apply --server-side` of the same rendered objects into another. Then, interleaved
in the same run (the order alternates each round), each as a CLI process:
  (a) nothing changed: `shiplane plan` (exit 0) vs `kubectl diff --server-side -f DIR` (exit 0);
  (b) --changed services' images changed: the same two (both exit 1).
Prints the median wall time of each, and the ratios (goals: at most 0.25 for (a), 0.5 for (b)).
`--write-readme` stores the rows in bench/results/plan.json and re-renders README's table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import readme_table
import yaml
from deploy_bench import app_spec

from shiplane.actions import desired
from shiplane.events import result
from shiplane.localcluster import cluster as lc

GOALS = {"same": 0.25, "changed": 0.5}


def run(argv: list[str], env: dict, ok: int) -> float:
    """Wall time of one process that must exit `ok` (plan and diff: 0 same, 1 changed)."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != ok:
        sys.exit(
            f"{' '.join(argv)}: exit {done.returncode}, expected {ok}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return took


def changed_spec(spec: dict, services: int, changed: int) -> dict:
    """The same app with the images of the last `changed` services (leaves) changed."""
    spec = copy.deepcopy(spec)  # not a YAML round trip: safe_dump sorts keys, reordering the services
    for i in range(services - changed, services):
        spec["services"][f"svc{i}"]["image"] += "-patch1"
    return spec


def write_manifests(objects: list[dict], directory: Path) -> None:
    directory.mkdir()
    for i, obj in enumerate(objects):
        (directory / f"{i:05}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--changed", type=int, default=10, help="services whose image changes in case (b)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cluster", default="plan-bench", help="name of the local cluster started for the run")
    parser.add_argument("--write-readme", action="store_true", help="store the rows and re-render README's table")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shiplane-plan-bench-"))
    os.environ["SHIPLANE_STATE"] = str(work / "state")
    spec = app_spec(args.services)
    same_path, changed_path = work / "shiplane.yaml", work / "changed.yaml"
    same_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    changed_path.write_text(yaml.safe_dump(changed_spec(spec, args.services, args.changed), sort_keys=False))

    print(f"starting a local cluster for the benchmark ({args.services} services)...", file=sys.stderr)
    state = result(lc.up(args.cluster, nodes=10))
    env = {**os.environ, "KUBECONFIG": str(state.kubeconfig)}
    shiplane = [sys.executable, "-m", "shiplane"]
    try:
        kube_same = desired.load([same_path], "bench", namespace="bench-kubectl").objects
        kube_changed = desired.load([changed_path], "bench", namespace="bench-kubectl").objects
        write_manifests(kube_same, work / "same")
        write_manifests(kube_changed, work / "changed")
        differing = sum(a != b for a, b in zip(kube_same, kube_changed, strict=True))

        print("deploying it with shiplane and with kubectl...", file=sys.stderr)
        run([*shiplane, "deploy", "-f", str(same_path), "--stage", "bench", "--plain"], env, 0)
        subprocess.run(["kubectl", "create", "namespace", "bench-kubectl"], env=env, check=True, capture_output=True)
        run(["kubectl", "apply", "--server-side", "-f", str(work / "same")], env, 0)

        # What shiplane's plan says in case (b), outside the timings: exactly the changed objects.
        out = subprocess.run(
            [*shiplane, "plan", "-f", str(changed_path), "--stage", "bench", "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
        )
        counts = json.loads(out.stdout)["counts"] if out.returncode == 1 else out.stderr
        print(f"plan of case (b): {counts}", file=sys.stderr)

        commands = {
            ("same", "shiplane"): ([*shiplane, "plan", "-f", str(same_path), "--stage", "bench"], 0),
            ("same", "kubectl"): (["kubectl", "diff", "--server-side", "-f", str(work / "same")], 0),
            ("changed", "shiplane"): ([*shiplane, "plan", "-f", str(changed_path), "--stage", "bench"], 1),
            ("changed", "kubectl"): (["kubectl", "diff", "--server-side", "-f", str(work / "changed")], 1),
        }
        times: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
        load_before = os.getloadavg()[0]
        for round_ in range(args.repeat):
            order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
            for key in order:
                argv, ok = commands[key]
                times[key].append(run(argv, env, ok))
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
    finally:
        result(lc.down(args.cluster))

    n_objects = len(kube_same)
    print(f"{args.services} services, {n_objects} objects; case (b) changes {differing} objects")
    print(f"median of {args.repeat}, interleaved; load {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    rows = []
    for case, label in (("same", "nothing changed"), ("changed", f"{differing} objects changed")):
        ours = statistics.median(times[(case, "shiplane")])
        theirs = statistics.median(times[(case, "kubectl")])
        ratio = ours / theirs
        verdict = "meets" if ratio <= GOALS[case] else "MISSES"
        print(f"({label})")
        print(f"  shiplane plan                {ours:7.2f} s")
        print(f"  kubectl diff --server-side   {theirs:7.2f} s")
        print(f"  ratio {ratio:.2f} ({verdict} the goal of at most {GOALS[case]})")
        rows.append(
            {
                "what": f"`plan` of the {args.services}-service app ({n_objects} objects), {label}",
                "shiplane": f"{ours:.2f} s",
                "peer": f"`kubectl diff --server-side` {theirs:.2f} s",
                "ratio": round(ratio, 2),
                "how": f"CLI processes, median of {args.repeat}, interleaved, same cluster (10 kwok nodes)",
            }
        )
    if args.write_readme:
        readme_table.record("plan", rows, load_before=load_before)
        readme_table.write_readme()


if __name__ == "__main__":
    main()
