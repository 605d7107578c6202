"""Benchmark: `shiplane check` vs `kube-score score` on the same 5,000 generated objects.

    .venv/bin/python bench/check_bench.py [--objects 5000] [--repeat 3]

Generates, in a temp dir, apps of five objects each (Deployment, Service, ConfigMap,
PodDisruptionBudget, NetworkPolicy) spread over 20 namespaces, written as 50 multi-document
files, with a mix of clean and faulty objects so both tools have findings to report.
Times, best of --repeat (interleaved), each as a separate process (interpreter start included),
wall and CPU (user + sys: steadier on a busy machine):
  - shiplane: `shiplane check DIR -o json --fail-on never`
  - kube-score: `kube-score score FILES... -o json`
kube-score is found through $KUBE_SCORE, then PATH, then the tool cache (where
`shiplane cluster build --tool kube-score` builds it);
without it the benchmark says so and prints shiplane's figure only. `--write-readme` stores the row in
bench/results/check.json and re-renders README's table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import readme_table
import yaml

FILES = 50
NAMESPACES = 20


def app(i: int) -> list[dict]:
    ns, name = f"team-{i % NAMESPACES}", f"svc{i}"
    labels = {"app.kubernetes.io/name": name}
    faulty = i % 3 == 0  # a third of the apps lack limits, probes and a security context
    image = f"registry.example.com/{name}:1.{i}"
    container = {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}
    if not faulty:
        container |= {
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
            "livenessProbe": {"httpGet": {"path": "/live", "port": "http"}, "periodSeconds": 20},
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    else:
        container["env"] = [{"name": "API_TOKEN", "value": "not-a-real-token-but-looks-like-one"}]
    meta = {"name": name, "namespace": ns, "labels": labels}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"LOG_LEVEL": "info"}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
         "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"]}},
    ]  # fmt: skip


def generate(directory: Path, objects: int) -> list[Path]:
    docs = [o for i in range(-(-objects // 5)) for o in app(i)][:objects]
    per_file = -(-len(docs) // FILES)
    paths = []
    for f in range(FILES):
        chunk = docs[f * per_file : (f + 1) * per_file]
        if chunk:
            path = directory / f"objects-{f:02d}.yaml"
            path.write_text(yaml.safe_dump_all(chunk, sort_keys=False))
            paths.append(path)
    return paths


def kube_score() -> str | None:
    from shiplane.localcluster import tools

    cached = tools.path("kube-score")  # `shiplane cluster build --tool kube-score` puts it there
    for candidate in (os.environ.get("KUBE_SCORE"), shutil.which("kube-score"), str(cached)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def best(cmd: list[str], repeat: int, ok: tuple[int, ...]) -> tuple[float, float]:
    """Best wall time and best CPU time (user + sys of the process) of `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode not in ok:
            sys.exit(f"{cmd[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-readme", action="store_true", help="store the row and re-render README's table")
    args = parser.parse_args()
    shiplane = str(Path(sys.executable).with_name("shiplane"))
    with tempfile.TemporaryDirectory(prefix="shiplane-check-bench-") as tmp:
        paths = generate(Path(tmp), args.objects)
        print(f"{args.objects} objects in {len(paths)} files, {NAMESPACES} namespaces; best of {args.repeat}")
        load_before = os.getloadavg()[0]
        ks = kube_score()
        if ks is None:
            ours, ours_cpu = best([shiplane, "check", tmp, "-o", "json", "--fail-on", "never"], args.repeat, (0,))
            print(f"shiplane check    {ours:7.2f} s  ({args.objects / ours:,.0f} objects/s), CPU {ours_cpu:.2f} s")
            print("kube-score        not found ($KUBE_SCORE, PATH, ~/.cache/shiplane/tools): shiplane's figure only")
            return
        # Interleaved, so both see the same machine load.
        walls: dict[str, list[float]] = {"ours": [], "theirs": []}
        cpus: dict[str, list[float]] = {"ours": [], "theirs": []}
        for _ in range(args.repeat):
            for who, cmd, ok in (
                ("ours", [shiplane, "check", tmp, "-o", "json", "--fail-on", "never"], (0,)),
                ("theirs", [ks, "score", *map(str, paths), "-o", "json"], (0, 1)),
            ):
                wall, cpu = best(cmd, 1, ok)
                walls[who].append(wall)
                cpus[who].append(cpu)
    ours, theirs = min(walls["ours"]), min(walls["theirs"])
    ours_cpu, theirs_cpu = min(cpus["ours"]), min(cpus["theirs"])
    print(f"shiplane check    {ours:7.2f} s  ({args.objects / ours:,.0f} objects/s), CPU {ours_cpu:.2f} s")
    print(f"kube-score score  {theirs:7.2f} s  ({args.objects / theirs:,.0f} objects/s), CPU {theirs_cpu:.2f} s")
    print(f"ratio shiplane/kube-score: {ours / theirs:.2f}x wall, {ours_cpu / theirs_cpu:.2f}x CPU (goal: at most 0.5)")
    print(f"load {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    if args.write_readme:
        readme_table.record(
            "check",
            [
                {
                    "what": f"`check` of {args.objects:,} objects in {len(paths)} files",
                    "shiplane": f"{ours:.2f} s (CPU {ours_cpu:.2f} s)",
                    "peer": f"kube-score {theirs:.2f} s (CPU {theirs_cpu:.2f} s)",
                    "ratio": round(ours / theirs, 2),
                    "how": f"CLI processes, best of {args.repeat} wall (ratio of CPU {ours_cpu / theirs_cpu:.2f}), "
                    "interleaved, JSON output",
                }
            ],
            load_before=load_before,
        )
        readme_table.write_readme()


if __name__ == "__main__":
    main()
