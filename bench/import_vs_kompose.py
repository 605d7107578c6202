"""Compare `shiplane import compose` with Kompose on the 21 real-world compose inputs.

For each input and tool: does conversion succeed, do all objects pass server-side
dry-run on the local control plane, and do all workloads roll out there (kwok runs the
pods)? Also counted: readiness probes, PVC-backed storage, NetworkPolicies, and the
compose keys each tool reports dropping.

    .venv/bin/python bench/import_vs_kompose.py [--kompose PATH] [--json out.json]

Kompose v1.36.0 is built once into ~/.cache/shiplane/tools (shiplane.localcluster.tools, the same
as `shiplane cluster build --tool kompose`) unless --kompose or $SHIPLANE_KOMPOSE names one.
Kompose runs on the unedited copy; `kompose+` runs again after creating the secret files
the samples do not ship (db/password.txt), which Kompose needs to exist.

A second table takes a Kubernetes-manifests input (Online Boutique's released manifests, in
tests/data/realworld): objects the model does not express (ServiceAccounts) kept and deployed, and
connections inferred from each Deployment's env.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shiplane import rendering, spec, status  # noqa: E402
from shiplane.errors import ShiplaneError  # noqa: E402
from shiplane.events import result  # noqa: E402
from shiplane.kube import Kube, Ref  # noqa: E402
from shiplane.localcluster import cluster as lc  # noqa: E402
from shiplane.localcluster import tools  # noqa: E402
from tests.unit.importing.realworld import REALWORLD, SAMPLES, SECRET_ENV, import_sample  # noqa: E402

BOUTIQUE = REALWORLD / "online-boutique" / "release" / "kubernetes-manifests.yaml"

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def kubectl(kc: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kc), *args], input=stdin, capture_output=True, text=True, timeout=300
    )


def shiplane_objects(name: str, tmp: Path, namespace: str) -> tuple[list[dict], list[str]]:
    from shiplane.spec.inputs import gather

    imported, written = import_sample(name, tmp)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, SECRET_ENV), namespace=namespace)
    dropped = [d for s in imported.report.services for d in s.dropped + s.blockers]
    return objects, dropped


def kompose_objects(
    binary: str, name: str, tmp: Path, namespace: str, add_secrets: bool
) -> tuple[list[dict], list[str]]:
    src = SAMPLES[name]
    work = tmp / f"kompose-{name}-{add_secrets}"
    shutil.copytree(src.parent, work)
    if add_secrets:
        for f in re.findall(r"file:\s*(\S+)", src.read_text()):
            (work / f).parent.mkdir(parents=True, exist_ok=True)
            (work / f).write_text(SECRET_ENV["DB_PASSWORD"])
    out = work / "kompose-out"
    out.mkdir()  # an existing directory: one file per object (otherwise Kompose writes one file named like it)
    proc = subprocess.run(
        [binary, "convert", "-f", src.name, "-o", str(out)], cwd=work, capture_output=True, text=True, timeout=120
    )
    warnings = sorted(
        {
            re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
            for line in proc.stderr.splitlines()
            if "WARN" in line or "FATA" in line
        }
    )
    if proc.returncode != 0:
        raise RuntimeError("; ".join(warnings) or proc.stderr.strip()[-200:])
    objects = []
    for f in sorted(out.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc:
                doc.setdefault("metadata", {})["namespace"] = namespace
                objects.append(doc)
    if not objects:
        raise RuntimeError("no objects written")
    return objects, warnings


def boutique_shiplane(tmp: Path, namespace: str) -> tuple[list[dict], int]:
    """Online Boutique's manifests through `import manifests`: (rendered objects, objects kept as they are)."""
    from shiplane.importing import manifests, writing
    from shiplane.spec.inputs import gather

    docs, names = manifests.load([BOUTIQUE])
    imported, raw = manifests.convert(docs, "boutique", names)
    if raw:
        raise RuntimeError(f"{len(raw)} objects left for kubectl in raw/")
    written = writing.write(tmp / "boutique", imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, {}), namespace=namespace)
    return objects, len(imported.spec.get("objects") or [])


def boutique_kompose(binary: str, tmp: Path) -> str:
    """Kompose on the same manifests: it reads compose files only, so this records its answer."""
    proc = subprocess.run(
        [binary, "convert", "-f", str(BOUTIQUE), "-o", str(tmp / "kompose-boutique")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", x).strip() for x in proc.stderr.splitlines() if x.strip()]
    last = (lines or ["(no message)"])[-1].replace(f"{BOUTIQUE.parent}/", "")
    return f"exit {proc.returncode}: {last[:160]}"


def deploy(kube: Kube, kc: Path, objects: list[dict], namespace: str) -> dict:
    dry_ok = all(
        kubectl(kc, "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(o)).returncode == 0
        for o in objects
    )
    applied = kubectl(kc, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(objects))
    rolled, why = applied.returncode == 0, [] if applied.returncode == 0 else [applied.stderr.strip()[-200:]]
    for o in (o for o in objects if o["kind"] in WORKLOADS and applied.returncode == 0):
        ref = Ref(o["apiVersion"], o["kind"], o["metadata"]["name"], namespace)
        try:
            got = result(
                kube.wait_for(
                    ref,
                    lambda x: x is not None and status.compute(x).state in (status.State.CURRENT, status.State.FAILED),
                    timeout=60,
                )
            )
            if status.compute(got).state is not status.State.CURRENT:
                rolled, why = False, [*why, f"{o['kind']}/{o['metadata']['name']}: {status.compute(got).message}"]
        except ShiplaneError as err:
            rolled, why = False, [*why, str(err)[:120]]
    return {"dry_run": dry_ok, "rolled_out": rolled, "why": why}


def features(objects: list[dict]) -> dict:
    pods = [o["spec"].get("template", {}).get("spec", {}) for o in objects if o["kind"] in WORKLOADS[:3]]
    return {
        "workloads": sum(o["kind"] in WORKLOADS for o in objects),
        "readiness_probes": sum(1 for p in pods for c in p.get("containers", []) if "readinessProbe" in c),
        "liveness_probes": sum(1 for p in pods for c in p.get("containers", []) if "livenessProbe" in c),
        "host_paths": sum(1 for p in pods for v in p.get("volumes", []) if "hostPath" in v),
        "ingresses": sum(o["kind"] == "Ingress" for o in objects),
        "jobs": sum(o["kind"] == "Job" for o in objects),
        "persistent_claims": sum(o["kind"] == "PersistentVolumeClaim" for o in objects)
        + sum(len(o["spec"].get("volumeClaimTemplates", [])) for o in objects if o["kind"] == "StatefulSet"),
        "network_policies": sum(o["kind"] == "NetworkPolicy" for o in objects),
        # egress to one named service (inferred from configuration), not a whole network
        "inferred_connections": sum(
            1
            for o in objects
            if o["kind"] == "NetworkPolicy"
            for rule in o["spec"].get("egress", [])
            for peer in rule.get("to", [])
            if "app.kubernetes.io/name" in peer.get("podSelector", {}).get("matchLabels", {})
        ),
        "services": sum(o["kind"] == "Service" for o in objects),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kompose", default=os.environ.get("SHIPLANE_KOMPOSE"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not args.kompose:
        stream = tools.build("kompose")
        try:
            while True:
                print(f"  {next(stream)}", flush=True)
        except StopIteration as done:
            args.kompose = str(done.value)
    version = subprocess.run([args.kompose, "version"], capture_output=True, text=True).stdout.strip()
    name = f"bench-{os.getpid()}"
    state = result(lc.up(name, nodes=3))
    kc, kube = state.kubeconfig, Kube.connect(state.kubeconfig)
    kube.apply(
        {
            "apiVersion": "node.k8s.io/v1",
            "kind": "RuntimeClass",
            "metadata": {"name": "wasmedge"},
            "handler": "wasmedge",
        }
    )
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            for sample in sorted(SAMPLES):
                row = {}
                for tool in ("shiplane", "kompose", "kompose+"):
                    ns = f"b-{uuid.uuid4().hex[:8]}"
                    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                    result(
                        kube.wait_for(Ref("v1", "ServiceAccount", "default", ns), lambda o: o is not None, timeout=60)
                    )
                    try:
                        if tool == "shiplane":
                            objects, dropped = shiplane_objects(sample, tmp / tool, ns)
                        else:
                            objects, dropped = kompose_objects(args.kompose, sample, tmp, ns, tool == "kompose+")
                        row[tool] = {
                            "converted": True,
                            **deploy(kube, kc, objects, ns),
                            **features(objects),
                            "dropped": dropped,
                        }
                    except Exception as err:  # a failed conversion is a result, not a crash
                        row[tool] = {
                            "converted": False,
                            "dry_run": False,
                            "rolled_out": False,
                            "why": [str(err)[:200]],
                            "dropped": [],
                        }
                    kube.delete(Ref("v1", "Namespace", ns), propagation="Background")
                results[sample] = row
                print(sample, {t: (r["converted"], r["dry_run"], r["rolled_out"]) for t, r in row.items()}, flush=True)
            ns = f"b-{uuid.uuid4().hex[:8]}"
            kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            result(kube.wait_for(Ref("v1", "ServiceAccount", "default", ns), lambda o: o is not None, timeout=60))
            objects, kept = boutique_shiplane(tmp, ns)
            boutique = {
                "shiplane": {"kept": kept, **deploy(kube, kc, objects, ns), **features(objects)},
                "kompose": boutique_kompose(args.kompose, tmp),
            }
            kube.delete(Ref("v1", "Namespace", ns), propagation="Background")
    finally:
        result(lc.down(name))
    print(table(results, version))
    print()
    print(manifests_table(boutique))
    if args.json:
        args.json.write_text(
            json.dumps({"kompose_version": version, "results": results, "manifests": boutique}, indent=2)
        )
    return 0


def manifests_table(row: dict) -> str:
    ours = row["shiplane"]
    return "\n".join(
        [
            "Online Boutique's released manifests (12 Deployments, 12 Services, 11 ServiceAccounts):",
            "",
            "| tool | converts | all workloads roll out | managed objects (kept as they are, deployed) "
            "| inferred connections | network policies |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| shiplane | yes | {'yes' if ours['rolled_out'] else 'no'} | {ours['kept']} "
            f"| {ours['inferred_connections']} | {ours['network_policies']} |",
            f"| kompose | no ({row['kompose']}) | n/a | 0 | 0 | 0 |",
        ]
    )


def table(results: dict, version: str) -> str:
    tools = ("shiplane", "kompose", "kompose+")
    cols = [
        "readiness_probes",
        "liveness_probes",
        "persistent_claims",
        "host_paths",
        "network_policies",
        "inferred_connections",
        "ingresses",
        "jobs",
    ]
    lines = [
        f"Kompose {version}; {len(results)} inputs.",
        "",
        "| tool | converts | server-side dry-run passes | all workloads roll out | "
        + " | ".join(c.replace("_", " ") for c in cols)
        + " |",
        "|" + " --- |" * (4 + len(cols)),
    ]
    for tool in tools:
        rows = [r[tool] for r in results.values()]
        counts = " | ".join(str(sum(r.get(c, 0) for r in rows)) for c in cols)
        lines.append(
            f"| {tool} | {sum(r['converted'] for r in rows)} | {sum(r['dry_run'] for r in rows)} | "
            f"{sum(r['rolled_out'] for r in rows)} | {counts} |"
        )
    lines += ["", "| input | shiplane | kompose | kompose+ (secret files created) |", "| --- | --- | --- | --- |"]
    for sample, row in results.items():
        cells = []
        for tool in tools:
            r = row[tool]
            mark = "✔" if r["rolled_out"] else ("dry-run ✔" if r["dry_run"] else ("✘" if r["converted"] else "fails"))
            cells.append(mark if r["rolled_out"] else f"{mark}: {(r['why'] or [''])[0][:90]}")
        lines.append(f"| {sample} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
