"""The corpus: tests/data/hostile-cases/<case>/ — each an input that once crashed, hung, leaked a secret
or wrote outside its output directory (issue 10), kept as a regression case.

A case folder holds its input files and `case.yaml`:

    why: what broke (issue 10 defect N, or found by the property tests)
    runs:                                   # one or more command lines, run in a copy of the folder
      - argv: [import, compose, compose.yaml, -o, out]
        exit: 2                             # or a list of acceptable codes
        stderr_has: [compose.yaml]          # optional: the message names the file
        stdout_has: [text]                  # optional: exit 0 must print these
        stdin: input.yaml                   # optional: a file of the case fed to stdin
        stdout_to: /dev/full                # optional (isolated runs only)
    out: out                                # the output directory: nothing may be written elsewhere
    secrets: [Zq5ecretMk…]                  # must appear nowhere but in .shiplane-secrets/
    isolate: true                           # run in a subprocess with RLIMIT_AS (bombs, FIFOs, /dev/full)
    timeout: 20                             # seconds per run
    memory_mb: 1024                         # address-space budget per run
    env: {VAR: value}
    setup:                                  # made before the runs (things git cannot hold)
      - {fifo: conf/pipe}
      - {symlink: out/.gitignore, to: "@ROOT@/victim.txt"}
      - {write: big.txt, head: "", repeat: "x", times: 2100000, tail: ""}
    may_change: [out/.gitignore]            # pre-existing files a run may legitimately change
    unique_objects: true                    # render's stream must not hold two objects of one kind/name
    services_kept: 2                        # exit 0 must keep every input service in out/shiplane.yaml
    files_have: {out/shiplane.yaml: [text]} # exit 0 must produce these texts in these files

The copy lives at <tmp>/a/b/work so that `../../../x` stays inside <tmp>, which is watched as a whole;
<tmp>/victim.txt and <tmp>/outside-dir/ exist for links to point at. `@ROOT@` in any file or
setting is replaced by <tmp>.

Cases failing on a branch are listed in FAILING-ON-BRANCH.txt (see that file), never marked xfail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.unit.hostile.harness import Snapshot, api_limits, run_inproc, run_subprocess, verdict

CASES = Path(__file__).parents[2] / "data" / "hostile-cases"


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file())


def _subst(value, root: Path):
    if isinstance(value, str):
        return value.replace("@ROOT@", str(root))
    if isinstance(value, list):
        return [_subst(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v, root) for k, v in value.items()}
    return value


def _setup(work: Path, steps: list[dict]) -> None:
    for step in steps:
        if "fifo" in step:
            path = work / step["fifo"]
            path.parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(path)
        elif "symlink" in step:
            path = work / step["symlink"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(step["to"])
        elif "write" in step:
            path = work / step["write"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.get("head", "") + step.get("repeat", "") * step.get("times", 0) + step.get("tail", ""))
        elif "mkdir" in step:
            (work / step["mkdir"]).mkdir(parents=True, exist_ok=True)
        else:
            raise AssertionError(f"unknown setup step {step}")


def _lay_out(case: Path, root: Path, conf: dict) -> Path:
    work = root / "a" / "b" / "work"
    shutil.copytree(case, work, ignore=shutil.ignore_patterns("case.yaml"), symlinks=True)
    for path in work.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if b"@ROOT@" in data:
                path.write_bytes(data.replace(b"@ROOT@", str(root).encode()))
    (root / "victim.txt").write_text("a file outside the output directory\n")
    (root / "outside-dir").mkdir()
    _setup(work, conf.get("setup") or [])
    return work


def _after_checks(conf: dict, run: dict, outcome, work: Path) -> list[str]:
    problems = []
    if outcome.rc != 0:
        return problems
    if run["argv"][0] == "render" and "-o" not in run["argv"]:
        problems += api_limits(list(yaml.safe_load_all(outcome.stdout)))
    if conf.get("unique_objects") and "-o" not in run["argv"]:
        seen = set()
        for obj in yaml.safe_load_all(outcome.stdout):
            key = (obj.get("kind"), (obj.get("metadata") or {}).get("name"))
            if key in seen:
                problems.append(f"rendered two objects {key[0]}/{key[1]}")
            seen.add(key)
    if "services_kept" in conf:
        written = yaml.safe_load((work / conf.get("out", "out") / "shiplane.yaml").read_text())
        kept = len(written.get("services") or {})
        if kept != conf["services_kept"]:
            problems.append(f"exit 0 but {kept} of {conf['services_kept']} services kept (no collision reported)")
    problems += [f"stdout lacks {t!r}" for t in run.get("stdout_has") or [] if t not in outcome.stdout]
    for rel, texts in (conf.get("files_have") or {}).items():
        path = work / rel
        content = path.read_text(errors="replace") if path.is_file() else ""
        problems += [f"{rel} lacks {t!r}" for t in texts if t not in content]
    return problems


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_hostile_case(case: Path) -> None:
    with tempfile.TemporaryDirectory(prefix=f"shiplane-hostile-{case.name}-") as tmp:
        root = Path(tmp)
        conf = _subst(yaml.safe_load((case / "case.yaml").read_text()), root)
        work = _lay_out(case, root, conf)
        out = work / conf.get("out", "out")
        env = {"SHIPLANE_STATE": str(root / "state"), "KUBECONFIG": str(root / "no-kubeconfig")}
        env.update({k: str(v) for k, v in (conf.get("env") or {}).items()})
        problems: list[str] = []
        for run in conf["runs"]:
            before = Snapshot.take(root)
            stdin = (work / run["stdin"]).read_bytes() if run.get("stdin") else b""
            kwargs = {"env": env, "stdin": stdin, "timeout": conf.get("timeout", 20)}
            if conf.get("isolate") or run.get("stdout_to"):
                outcome = run_subprocess(
                    run["argv"], work, stdout_path=run.get("stdout_to"), memory_mb=conf.get("memory_mb", 1024), **kwargs
                )
            else:
                outcome = run_inproc(run["argv"], work, memory_mb=conf.get("memory_mb", 1024), **kwargs)
            expected = run.get("exit", 2)
            allowed = set(expected) if isinstance(expected, list) else {expected}
            found = verdict(
                outcome,
                command=run["argv"][0],
                root=root,
                out_dir=out,
                before=before,
                markers=conf.get("secrets") or [],
                allowed_exit=allowed,
                may_change={str(Path(work.relative_to(root), p)) for p in conf.get("may_change") or []},
            )
            if outcome.rc is not None and outcome.rc in allowed:
                found += [f"stderr lacks {s!r}" for s in run.get("stderr_has") or [] if s not in outcome.stderr]
            found += _after_checks(conf, run, outcome, work)
            problems += [f"{' '.join(run['argv'])}: {p}" for p in found]
            if found:
                problems.append(f"  (exit {outcome.rc}, {outcome.seconds:.1f}s) stderr: {outcome.stderr[-600:]!r}")
        assert not problems, f"{case.name}: {conf.get('why', '')}\n" + "\n".join(problems)
