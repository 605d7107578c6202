"""Benchmark: the dashboard's pages for an app of 200 services with 100 releases, server time.

    .venv/bin/python bench/dashboard_bench.py [--services 200] [--releases 100] [--repeat 15]

Starts a local control plane (kwok nodes), deploys an app of --services services (one replica each:
Deployment, Service, NetworkPolicy, ... over a thousand objects) with `shiplane deploy`, then writes
--releases - 1 more release records into the stage's real in-cluster store (Secrets), each a copy of
the deployed record with other images, spread over twelve weeks with some failures and rollbacks.
Then times each page through Starlette's TestClient (in-process: server time, no browser): once for
the very first request of a fresh dashboard (it fetches and decodes every record once), then the
median of --repeat requests two ways:
  - cold: the records' cache expired before every request (their Secrets' metadata listed again;
    records already decoded are not decoded again), as a user clicking every few seconds gets it,
  - warm: within the cache's few seconds (a burst of requests, the status page's event stream).
The target (issue 12) is under 300 ms for the release timeline and the status page.
With --screenshots DIR it then serves the app with uvicorn and saves the timeline, status and DORA
pages as Debian's chromium shows them (Playwright), for docs/operate.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from starlette.testclient import TestClient

from shiplane.actions.target import Target
from shiplane.dashboard.app import Settings, create
from shiplane.dashboard.sources import Stage
from shiplane.events import result
from shiplane.kube import Kube
from shiplane.localcluster import cluster as lc
from shiplane.releases import Outcome
from shiplane.releases.history import last_good

WEEK = 7 * 86400
PAGES = [
    ("overview", "/"),
    ("release timeline", "/stages/bench"),
    ("release timeline, page 4", "/stages/bench?page=4"),
    ("status", "/stages/bench/status"),
    ("release diff", "/stages/bench/releases/100"),
    ("DORA", "/dora"),
    ("/metrics", "/metrics"),
]


def app_spec(services: int) -> dict:
    svcs = {
        f"svc{i}": {
            "image": f"registry.example/team/svc{i}:1.0.0",
            "replicas": 1,
            "ports": {"http": 8080},
            "env": {"LEVEL": "info"},
            "files": {"/etc/app/app.conf": {"content": f"name=svc{i}\n"}},
            "probes": {"readiness": {"http": {"port": "http", "path": "/healthz"}}},
            **({"connectsTo": [f"svc{i % 10}"]} if i >= 10 else {}),
        }
        for i in range(services)
    }
    return {
        "app": {"name": "bench", "version": "1.0.0"},
        "defaults": {
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
        },
        "services": svcs,
        "stages": {"bench": {"namespace": "dashboard-bench"}},
    }


def history(target: Target, releases: int) -> None:
    """Releases 2..N: the deployed record with the images of one service changed each time."""
    store = target.store()
    (first,) = store.list()
    now = time.time()
    start = now - 12 * WEEK
    step = (now - 600 - start) / releases
    prior = first
    for revision in range(1, releases + 1):
        finished = start + revision * step
        images = dict(first.images)
        key = sorted(images)[revision % len(images)]
        images[key] = images[key].rsplit(":", 1)[0] + f":1.0.{revision}"
        outcome = Outcome.FAILED if revision % 9 == 0 else Outcome.SUPERSEDED
        if revision == releases:
            outcome = Outcome.DEPLOYED
        record = first.with_(
            revision=revision,
            started=finished - 40 - revision % 30,
            finished=finished,
            outcome=outcome,
            images=images,
            user=["ana", "bo", "ci-bot"][revision % 3],
            committed=finished - 3600 * (1 + revision % 5),
            commit=hashlib.sha1(f"commit {revision}".encode()).hexdigest(),
            rollback_of=prior.revision if revision % 9 == 1 and revision > 1 else None,
        )
        store.put(record)
        if outcome is not Outcome.FAILED:
            prior = record


def timed(client: TestClient, stage: Stage, path: str, repeat: int, *, cold: bool) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (the server's threads and the test client's
    little), in ms: on a busy machine the CPU figure says what the page costs, the wall one what it took."""
    took, cpu = [], []
    for _ in range(repeat):
        if cold:
            stage.cache.forget()
        started, used = time.perf_counter(), time.process_time()
        got = client.get(path)
        took.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        if got.status_code != 200:
            sys.exit(f"GET {path}: {got.status_code} {got.text[:300]}")
    return statistics.median(took) * 1000, statistics.median(cpu) * 1000


def screenshots(app, folder: Path) -> None:
    import socket
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless=new", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 720})
            for name, path in (
                ("timeline", "/stages/bench?page=1"),
                ("status", "/stages/bench/status"),
                ("dora", "/dora"),
            ):
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.wait_for_load_state("networkidle") if name != "status" else page.wait_for_timeout(1500)
                page.screenshot(path=str(folder / f"dashboard-{name}.png"))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--reuse", metavar="KUBECONFIG", help="measure the app a --keep run left running")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running (SHIPLANE_STATE printed)")
    parser.add_argument("--screenshots", type=Path, help="save the timeline, status and DORA pages here as PNG")
    args = parser.parse_args()
    state = None
    if args.reuse:  # a cluster a previous --keep run left, with its app and records
        kube = Kube.connect(args.reuse)
        target = Target(kube, "bench", "bench", "dashboard-bench")
    work = Path(tempfile.mkdtemp(prefix="shiplane-dashboard-bench-"))
    os.environ.setdefault("SHIPLANE_STATE", str(work / "state"))
    try:
        if not args.reuse:
            spec = work / "shiplane.yaml"
            spec.write_text(yaml.safe_dump(app_spec(args.services), sort_keys=False))
            print(f"starting a local cluster, deploying {args.services} services...", file=sys.stderr)
            state = result(lc.up("dashbench", nodes=3))
            env = {**os.environ, "KUBECONFIG": str(state.kubeconfig)}
            argv = [sys.executable, "-m", "shiplane", "deploy", "-f", str(spec), "--stage", "bench", "--plain"]
            argv += ["--policy-fail-on", "never"]
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"deploy failed ({done.returncode}):\n{done.stderr[-3000:]}")
            kube = Kube.connect(state.kubeconfig)
            target = Target(kube, "bench", "bench", "dashboard-bench")
            print(f"writing {args.releases - 1} more release records...", file=sys.stderr)
            history(target, args.releases)
        records = target.store().list()
        current = last_good(records)
        secrets = kube.list("v1", "Secret", namespace=target.namespace, label_selector="shiplane.io/release-of=bench")
        size = sum(len((s.get("data") or {}).get("record", "")) for s in secrets)
        print(
            f"app: {args.services} services, {len(current.objects)} objects per release, {len(records)} releases "
            f"({len(secrets)} record Secrets, {size / 1e6:.1f} MB base64)"
        )
        with TestClient(create(Settings("bench", [Stage(target)])), base_url="http://127.0.0.1") as client:
            client.get("/static/style.css")  # imports
            started = time.perf_counter()
            client.get("/stages/bench")
            print(f"first request of a fresh dashboard (every record fetched and decoded once): "
                  f"{(time.perf_counter() - started) * 1000:.0f} ms")  # fmt: skip
        stage = Stage(target)
        with TestClient(create(Settings("bench", [stage])), base_url="http://127.0.0.1") as client:
            client.get("/")  # imports, template compilation, records decoded
            print(f"load average {os.getloadavg()[0]:.1f}; median of {args.repeat}, ms: wall (CPU of this process)")
            print(f"{'page':28} {'cache expired':>16} {'within the cache':>18}")
            for name, path in PAGES:
                cold = timed(client, stage, path, args.repeat, cold=True)
                warm = timed(client, stage, path, args.repeat, cold=False)
                print(f"{name:28} {cold[0]:9.0f} ({cold[1]:4.0f}) {warm[0]:11.0f} ({warm[1]:4.0f})")
        if args.screenshots:
            screenshots(create(Settings("bench", [stage])), args.screenshots)
    finally:
        if args.keep and state is not None:
            print(f"kept: SHIPLANE_STATE={os.environ['SHIPLANE_STATE']} KUBECONFIG={state.kubeconfig}")
        elif state is not None:
            result(lc.down("dashbench"))


if __name__ == "__main__":
    main()
