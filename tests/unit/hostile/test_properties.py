"""Property tests: hostile inputs of every kind through the real CLI (docs/input-safety.md, Fuzzing).

Every generated input must give an exit code its command documents, no traceback, an exit within
the time budget and the memory budget, no planted secret marker in stdout, stderr or any file
outside `.shiplane-secrets/`, nothing written outside the output directory, and no file shiplane
did not write changed or deleted.

The budget is fixed and the generation derandomized, so CI runs the same inputs every time:
SHIPLANE_FUZZ_EXAMPLES (default 50 per strategy) raises it for a long run, e.g.

    SHIPLANE_FUZZ_EXAMPLES=5000 SHIPLANE_FUZZ_SEED=random .venv/bin/python -m pytest tests/unit/hostile -k properties

SHIPLANE_FUZZ_COLLECT=DIR turns failures into notes instead: every distinct problem (by its first
line) is saved once as DIR/<n>/ (input files + what went wrong), and the test passes; that is how
the corpus in tests/data/hostile-cases/ was mined.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from tests.unit.hostile import strategies as S
from tests.unit.hostile.harness import Snapshot, api_limits, run_inproc, run_subprocess, verdict

EXAMPLES = int(os.environ.get("SHIPLANE_FUZZ_EXAMPLES", "50"))
RANDOM = os.environ.get("SHIPLANE_FUZZ_SEED", "") == "random"
COLLECT = os.environ.get("SHIPLANE_FUZZ_COLLECT")
TIMEOUT = float(os.environ.get("SHIPLANE_FUZZ_TIMEOUT", "10"))  # seconds per command run
MEMORY_MB = 768  # address space a run may add in-process (twice that in all for a subprocess)

fuzz_settings = settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    database=None,
    deadline=None,  # time is bounded by the alarm in harness.run_inproc (TIMEOUT), which also interrupts hangs
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate] if not (RANDOM or COLLECT) else list(Phase),
    print_blob=True,
)

COUNTS: dict[str, int] = {}


def prepare(project: S.Project, root: Path) -> tuple[Path, Path]:
    """Write the project under root/a/b/work (so `../../..` stays inside root); lay out what the output
    directory already holds."""
    work = root / "a" / "b" / "work"
    out = work / "out"
    work.mkdir(parents=True)
    for rel, data in project.files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.replace(b"@ROOT@", str(root).encode()))
    for rel, kind in project.specials.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.mkdir()
    (root / "victim.txt").write_text("a file outside the output directory\n")
    if project.out_setup == "user-file":
        out.mkdir()
        for name in ("shiplane.yaml", "deployment-web.yaml", ".gitignore", ".shiplane-import-check.yaml", "Chart.yaml"):
            (out / name).write_text("# written by hand, not by shiplane\n")
    elif project.out_setup == "symlink-out":
        out.mkdir()
        (root / "outside-dir").mkdir()
        for name in (".gitignore", "shiplane.yaml", "deployment-web.yaml", "service-web.yaml", "README.md"):
            (out / name).symlink_to(root / "victim.txt")
        for name in (".shiplane-secrets", "raw", "templates", "base", "stages"):  # import's, export's directories
            (out / name).symlink_to(root / "outside-dir")
    return work, out


def _extra_checks(project: S.Project, outcome) -> list[str]:
    """What a user would notice in a successful output."""
    problems = []
    if outcome.rc in (0, 1) and "-o" in project.argv and project.argv[0] == "check":
        try:
            doc = json.loads(outcome.stdout)
        except ValueError:
            return ["check -o json printed no JSON"]
        if (outcome.rc == 1) == bool(doc.get("passed")):
            problems.append(f"check exit {outcome.rc} but passed={doc.get('passed')}")
    if outcome.rc == 0 and project.argv[0] == "render" and "-o" not in project.argv:
        objects = list(yaml.safe_load_all(outcome.stdout))
        problems += api_limits(objects)
        seen = set()
        for obj in objects:
            if not isinstance(obj, dict):
                continue
            meta = obj.get("metadata") or {}
            key = (obj.get("kind"), meta.get("namespace"), meta.get("name"))
            if key in seen:
                problems.append(f"rendered two objects named {key[0]}/{key[2]}")
            seen.add(key)
    return problems


def _collect(project: S.Project, problems: list[str], outcome) -> None:
    signature = re.sub(r"Zq5ecretMk\w+|0x[0-9a-f]+|\d+|'[^']*'|a/b/work/\S+", "#", problems[0])
    if outcome.traceback:  # the innermost frame: one case per place that breaks
        frames = re.findall(r'File "([^"]+)", line \d+, in (\w+)', outcome.traceback)
        signature += "".join(f"{Path(f).name}:{fn}" for f, fn in frames[-1:])
    key = hashlib.sha1(f"{project.argv[:2]}{signature}".encode()).hexdigest()[:10]
    target = Path(COLLECT, key)
    if target.exists():
        return
    target.mkdir(parents=True)
    for rel, data in project.files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_bytes(data)
    (target / "found.yaml").write_text(
        yaml.safe_dump(
            {
                "argv": project.argv,
                "env": project.env,
                "out_setup": project.out_setup,
                "specials": project.specials,
                "problems": problems,
            },
            allow_unicode=True,
        )
    )


def check_project(project: S.Project, strategy: str, *, isolated: bool = False) -> None:
    COUNTS[strategy] = COUNTS.get(strategy, 0) + 1
    note(project.describe())
    with tempfile.TemporaryDirectory(prefix="shiplane-fuzz-") as tmp:
        root = Path(tmp)
        work, out = prepare(project, root)
        before = Snapshot.take(root)
        env = {"SHIPLANE_STATE": str(root / "state"), "KUBECONFIG": str(root / "no-kubeconfig"), **project.env}
        run = run_subprocess if isolated else run_inproc
        memory = MEMORY_MB * 2 if isolated else MEMORY_MB
        outcome = run(project.argv, work, env=env, stdin=project.stdin, timeout=TIMEOUT, memory_mb=memory)
        problems = verdict(
            outcome,
            command=project.command,
            root=root,
            out_dir=out,
            before=before,
            markers=project.markers,
            may_change={"a/b/work/out/.gitignore"},  # import appends to a .gitignore (not through a link)
        )
        problems += _extra_checks(project, outcome)
        if problems and COLLECT:
            _collect(project, problems, outcome)
            return
        assert not problems, (
            "\n".join(problems)
            + f"\nexit {outcome.rc}\nstderr:\n{outcome.stderr[-3000:]}"
            + (f"\n{outcome.traceback[-3000:]}" if outcome.traceback else "")
        )


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    if COUNTS:
        print("\nhostile inputs run per strategy: " + ", ".join(f"{k}={v}" for k, v in sorted(COUNTS.items())))


@fuzz_settings
@given(S.spec_projects())
def test_properties_spec(project: S.Project) -> None:
    check_project(project, "spec")


@fuzz_settings
@given(S.compose_projects())
def test_properties_compose(project: S.Project) -> None:
    check_project(project, "compose")


@fuzz_settings
@given(S.manifest_projects())
def test_properties_manifests(project: S.Project) -> None:
    check_project(project, "manifests")


@fuzz_settings
@given(S.systemd_projects())
def test_properties_systemd(project: S.Project) -> None:
    check_project(project, "systemd")


@fuzz_settings
@given(S.procfile_projects())
def test_properties_procfile(project: S.Project) -> None:
    check_project(project, "procfile")


@fuzz_settings
@given(S.raw_projects())
def test_properties_raw_bytes(project: S.Project) -> None:
    check_project(project, "raw")


@settings(fuzz_settings, max_examples=max(3, EXAMPLES // 10))
@given(st.one_of(S.spec_projects(), S.compose_projects(), S.manifest_projects(), S.raw_projects()))
def test_properties_subprocess(project: S.Project) -> None:
    """A few inputs through `python -m shiplane` itself, as a user runs it (RLIMIT_AS, a real timeout)."""
    check_project(project, "subprocess", isolated=True)


def test_properties_schema() -> None:
    """`schema` takes no input; it must print a JSON Schema and exit 0."""
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_inproc(["schema"], Path(tmp), timeout=TIMEOUT)
    assert outcome.rc == 0 and outcome.exception is None
    assert json.loads(outcome.stdout)["$schema"].startswith("https://json-schema.org/")
