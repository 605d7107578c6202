"""Benchmark: relocating a 20-image app between two local registries, shiplane vs `crane copy` in a loop.

    .venv/bin/python bench/relocate_bench.py [--images 20] [--layers 3] [--layer-kib 512] [--repeat 3] [--write-readme]

Generates --images small images (each: a base layer shared by all, then --layers - 1 layers of
--layer-kib KiB of random bytes of its own, a config, an OCI manifest), pushes them to registry A
(`crane registry serve`, loopback), and writes a spec whose 20 services use them and whose stage
`bench` has `registry: {host: B, prefix: mirror}`. Each round starts a fresh, empty registry B
(not timed) and times, interleaved:
  - shiplane: `shiplane images push --stage bench` (one CLI process: interpreter start, spec load
    and render, resolve + copy of every image);
  - shiplane as a library: `shiplane.actions.relocate.push` in this process (no start-up cost);
  - crane: `crane copy A/<repo>:<tag> B/mirror/<repo>:<tag>` for each image, one process per image,
    as a script relocating an app with crane does.
Both copy the same bytes; the bench checks that B then resolves every image to the same digest.
Prints the median wall time of each and the ratio shiplane / crane (below 1: shiplane is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import readme_table  # bench/ is on sys.path when this script runs
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' image builder

from shiplane.actions import relocate  # noqa: E402
from shiplane.events import result  # noqa: E402
from shiplane.localcluster import registry as local_registry  # noqa: E402
from shiplane.localcluster import tools  # noqa: E402
from shiplane.registry import Client, Reference  # noqa: E402
from tests.ociimages import image, push  # noqa: E402


def make_images(n: int, layers: int, kib: int) -> list:
    base = {"base/lib.bin": os.urandom(kib * 1024)}
    return [
        image([base, *({f"app/{i}/{j}.bin": os.urandom(kib * 1024)} for j in range(layers - 1))], seed=f"img{i}")
        for i in range(n)
    ]


def app_spec(host_a: str, host_b: str, n: int) -> dict:
    return {
        "app": {"name": "relocbench"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "services": {f"svc{i}": {"image": f"{host_a}/bench/svc{i}:1.0.{i}"} for i in range(n)},
        "stages": {"bench": {"namespace": "relocbench", "registry": {"host": host_b, "prefix": "mirror"}}},
    }


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} … failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--layer-kib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-readme", action="store_true", help="Store the rows and re-render README's table.")
    args = parser.parse_args()
    crane = str(result(tools.build("crane")))
    shiplane = [str(Path(sys.executable).with_name("shiplane"))]
    with tempfile.TemporaryDirectory(prefix="shiplane-relocate-bench-") as tmp:
        root = Path(tmp)
        a = result(local_registry.up("bench-a", root=root))
        try:
            imgs = make_images(args.images, args.layers, args.layer_kib)
            with Client(insecure={a.host}) as client:
                digests = [push(client, f"{a.host}/bench/svc{i}:1.0.{i}", img) for i, img in enumerate(imgs)]
            size = sum(len(b) for img in imgs for b in {**img.blobs}.values())
            print(
                f"{args.images} images x {args.layers} layers ({args.layer_kib} KiB each, base shared), "
                f"{len({d for img in imgs for d in img.blobs})} distinct blobs, {size / 1e6:.1f} MB",
                file=sys.stderr,
            )
            times: dict[str, list[float]] = {"shiplane": [], "library": [], "crane": []}
            load_before = os.getloadavg()[0]
            for round_ in range(args.repeat):
                order = ["shiplane", "library", "crane"] if round_ % 2 == 0 else ["crane", "library", "shiplane"]
                for who in order:
                    b = result(local_registry.up(f"bench-b-{round_}-{who}", root=root))  # fresh, empty target
                    try:
                        env = {**os.environ, "SHIPLANE_INSECURE_REGISTRIES": f"{a.host},{b.host}"}
                        spec = root / f"shiplane-{round_}-{who}.yaml"
                        spec.write_text(yaml.safe_dump(app_spec(a.host, b.host, args.images), sort_keys=False))
                        if who == "shiplane":
                            times[who].append(timed([*shiplane, "images", "push", "-f", str(spec), "-s", "bench"], env))
                        elif who == "library":  # the same work in this process: no interpreter start or imports
                            start = time.perf_counter()
                            with Client(insecure={a.host, b.host}) as client:
                                result(relocate.push([spec], "bench", client=client))
                            times[who].append(time.perf_counter() - start)
                        else:
                            start = time.perf_counter()
                            for i in range(args.images):
                                src, dst = f"{a.host}/bench/svc{i}:1.0.{i}", f"{b.host}/mirror/bench/svc{i}:1.0.{i}"
                                timed([crane, "copy", "--insecure", src, dst], env)
                            times[who].append(time.perf_counter() - start)
                        with Client(insecure={b.host}) as check:  # same bytes arrived, by digest
                            got = [
                                check.resolve(Reference.parse(f"{b.host}/mirror/bench/svc{i}:1.0.{i}"))
                                for i in range(args.images)
                            ]
                        assert got == digests, f"{who}: registry B does not hold the same digests"
                    finally:
                        result(local_registry.down(f"bench-b-{round_}-{who}", root=root))
                print(
                    f"round {round_ + 1}/{args.repeat}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
                    file=sys.stderr,
                )
        finally:
            result(local_registry.down("bench-a", root=root))
    ours, theirs = statistics.median(times["shiplane"]), statistics.median(times["crane"])
    library = statistics.median(times["library"])
    ratio = ours / theirs
    print(
        f"relocate {args.images} images A → B, median of {args.repeat}, interleaved; load {load_before:.1f} → "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"  shiplane images push (1 process)     {ours:7.2f} s")
    print(f"  shiplane relocate.push (in-process)  {library:7.2f} s")
    print(f"  crane copy x {args.images} (1 process each)   {theirs:7.2f} s")
    print(f"  ratio shiplane / crane {ratio:.2f} (CLI), {library / theirs:.2f} (in-process)")
    if args.write_readme:
        rows = [
            {
                "what": f"relocate a {args.images}-image app ({args.layers} layers of {args.layer_kib} KiB each) "
                "between two local registries",
                "shiplane": f"{ours:.2f} s",
                "peer": f"`crane copy` x {args.images} {theirs:.2f} s",
                "ratio": round(ratio, 2),
                "how": f"CLI processes, fresh target registry per run, median of {args.repeat}, interleaved",
            },
            {
                "what": "the same relocation, shiplane as a library call (no interpreter start or imports)",
                "shiplane": f"{library:.2f} s",
                "peer": f"`crane copy` x {args.images} {theirs:.2f} s",
                "ratio": round(library / theirs, 2),
                "how": f"`relocate.push` in-process, fresh target registry per run, median of {args.repeat}",
            },
        ]
        readme_table.record("relocate", rows, load_before=load_before)
        readme_table.write_readme()


if __name__ == "__main__":
    main()
