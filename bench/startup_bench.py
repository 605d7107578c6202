"""Start-up: CPU of `shiplane --help`, `--version` and a usage error vs `kubectl version --client`.

    .venv/bin/python bench/startup_bench.py [--repeat 20] [--write-readme]

Each command runs as a process --repeat times, interleaved with kubectl's; prints the median CPU
(user + sys of the process, steadier than wall time on a busy machine) and the median wall time.
The goal is under 100 ms of CPU for each shiplane command (tests/unit/test_startup.py asserts which
modules load, not the time). `--write-readme` stores the rows in bench/results/startup.json and
re-renders README's table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import readme_table

GOAL_CPU = 0.100


def measure(argv: list[str]) -> tuple[float, float]:
    """(CPU, wall) of one run; exit codes are not checked (a usage error exits 2 on purpose)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write-readme", action="store_true", help="store the rows and re-render README's table")
    args = parser.parse_args()
    shiplane = str(Path(sys.executable).with_name("shiplane"))
    kubectl = shutil.which("kubectl")
    commands = {
        "`shiplane --help`": [shiplane, "--help"],
        "`shiplane --version`": [shiplane, "--version"],
        "`shiplane no-such-command` (usage error)": [shiplane, "no-such-command"],
    }
    peer = [kubectl, "version", "--client"] if kubectl else None
    cpu: dict[str, list[float]] = {name: [] for name in [*commands, "peer"]}
    wall: dict[str, list[float]] = {name: [] for name in [*commands, "peer"]}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        for name, argv in [*commands.items(), ("peer", peer)]:
            if argv is None:
                continue
            c, w = measure(argv)
            cpu[name].append(c)
            wall[name].append(w)
    theirs = statistics.median(cpu["peer"]) if peer else None
    print(f"median of {args.repeat}, interleaved; load {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    rows = []
    for name in commands:
        ours = statistics.median(cpu[name])
        verdict = "meets" if ours < GOAL_CPU else "MISSES"
        took = statistics.median(wall[name])
        line = f"{name:45} CPU {ours * 1000:5.0f} ms, wall {took * 1000:5.0f} ms ({verdict} 100 ms)"
        if theirs:
            line += f"; ratio to kubectl {ours / theirs:.2f}"
        print(line)
        if theirs:
            rows.append(
                {
                    "what": f"{name}, CPU",
                    "shiplane": f"{ours * 1000:.0f} ms",
                    "peer": f"`kubectl version --client` {theirs * 1000:.0f} ms",
                    "ratio": round(ours / theirs, 2),
                    "how": f"processes, median CPU (user + sys) of {args.repeat}, interleaved",
                }
            )
    if theirs:
        took = statistics.median(wall["peer"])
        print(f"{'`kubectl version --client`':45} CPU {theirs * 1000:5.0f} ms, wall {took * 1000:5.0f} ms")
    if args.write_readme and rows:
        readme_table.record("startup", rows, load_before=load_before)
        readme_table.write_readme()


if __name__ == "__main__":
    main()
