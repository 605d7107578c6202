"""`shiplane build`'s pure parts: the content hash and .dockerignore, the plan from the spec, the
builder command lines, and images replaced by the pushed digests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from shiplane import building, spec
from shiplane.building import builders, context
from shiplane.errors import InputError, InputErrors
from shiplane.events import result


def _ctx(tmp_path: Path) -> Path:
    ctx = tmp_path / "app"
    (ctx / "src").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM base\nCOPY src /src\n")
    (ctx / "src" / "main.py").write_text("print('hi')\n")
    return ctx


def _hash(ctx: Path, **kw) -> str:
    return context.digest(ctx, ctx / "Dockerfile", target=kw.get("target"), args=kw.get("args", {}))


def test_hash_follows_content_not_time(tmp_path):
    ctx = _ctx(tmp_path)
    first = _hash(ctx)
    os.utime(ctx / "src" / "main.py", (1, 1))
    assert _hash(ctx) == first
    (ctx / "src" / "main.py").write_text("print('changed')\n")
    assert _hash(ctx) != first


def test_hash_covers_mode_dockerfile_target_args_and_links(tmp_path):
    ctx = _ctx(tmp_path)
    base = _hash(ctx)
    assert _hash(ctx, target="prod") != base
    assert _hash(ctx, args={"V": "1"}) != _hash(ctx, args={"V": "2"}) != base
    (ctx / "src" / "main.py").chmod(0o755)
    moded = _hash(ctx)
    assert moded != base
    (ctx / "link").symlink_to("src/main.py")
    assert _hash(ctx) != moded
    (ctx / "Dockerfile").write_text("FROM base\n")
    assert _hash(ctx) not in (base, moded)


def test_dockerignored_files_do_not_change_the_hash(tmp_path):
    ctx = _ctx(tmp_path)
    (ctx / ".dockerignore").write_text("# comment\n*.log\nbuild/\n**/__pycache__\n!keep.log\n")
    base = _hash(ctx)
    (ctx / "debug.log").write_text("noise")
    (ctx / "build").mkdir()
    (ctx / "build" / "out.bin").write_text("x")
    (ctx / "src" / "__pycache__").mkdir()
    (ctx / "src" / "__pycache__" / "m.pyc").write_text("x")
    assert _hash(ctx) == base
    (ctx / "keep.log").write_text("kept")  # re-included by `!keep.log`
    assert _hash(ctx) != base


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),  # `*` does not cross `/` (Go filepath.Match)
        ("**/*.md", "docs/README.md", True),
        ("**/*.md", "README.md", True),
        ("docs", "docs/a/b.txt", True),  # a directory excludes what is under it
        ("docs\n!docs/keep.txt", "docs/keep.txt", False),
        ("/tmp/x", "tmp/x", True),
        ("fil?.txt", "file.txt", True),
        ("[a-c].txt", "d.txt", False),
    ],
)
def test_dockerignore_semantics(patterns, path, expected):
    assert context.ignored(path, context.ignore_rules(patterns)) is expected


def _stage(tmp_path: Path, *, registry: dict | None = None, build: dict | None = None):
    ctx = _ctx(tmp_path)
    doc = {
        "app": {"name": "shop"},
        "defaults": {"resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}},
        "services": {
            "web": {"image": "shop/web:dev", "build": build or {"context": ctx.name, "args": {"V": "1"}}},
            "db": {"image": "postgres:16"},
        },
        "stages": {"test": {"namespace": "shop-test", **({"registry": registry} if registry else {})}},
    }
    path = tmp_path / "shiplane.yaml"
    path.write_text(yaml.safe_dump(doc))
    return spec.load([path]).stage("test")


def test_plan_tags_by_content_in_the_stage_registry(tmp_path):
    stage = _stage(tmp_path, registry={"host": "reg.example:5000", "prefix": "team", "insecure": True})
    [job] = building.plan(stage)
    ctx = (tmp_path / "app").resolve()
    digest = context.digest(ctx, ctx / "Dockerfile", target=None, args={"V": "1"})
    assert job.service == "web" and job.image == "shop/web:dev"
    assert job.reference == f"reg.example:5000/team/shop/web:src-{digest[:16]}"
    assert job.request.insecure and job.request.args == (("V", "1"),)
    assert job.request.tags == ()  # tmp_path is not in a git repository


def test_plan_adds_a_git_tag_when_the_context_is_committed(tmp_path):
    import subprocess

    stage = _stage(tmp_path, registry={"host": "reg.example"})
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert building.plan(stage)[0].request.tags == (f"git-{head[:12]}",)
    (tmp_path / "app" / "src" / "main.py").write_text("dirty\n")
    assert building.plan(stage)[0].request.tags == ()  # uncommitted changes: no commit names this content


def test_plan_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="stage 'test' has no registry"):
        building.plan(_stage(tmp_path))
    stage = _stage(tmp_path / "x", registry={"host": "reg.example"})
    with pytest.raises(InputErrors) as err:
        building.plan(stage, ("db", "nope"))
    assert "no service 'nope'" in str(err.value) and "service 'db' has no `build:`" in str(err.value)


def test_builder_commands():
    req = builders.Request(
        Path("/ctx"), Path("/ctx/Dockerfile"), "reg:5000/a/web:src-1", ("git-abc",), "prod", (("V", "1"),), True
    )
    bud, push, tag = builders.Builder("buildah").commands(req, Path("/d"))
    assert bud[:4] == ["buildah", "bud", "--isolation", "chroot"] and "--tls-verify=false" in bud
    assert bud[-1] == "/ctx" and bud[bud.index("--target") : bud.index("--target") + 2] == ["--target", "prod"]
    assert push[-2:] == ["reg:5000/a/web:src-1", "docker://reg:5000/a/web:src-1"] and "--digestfile" in push
    assert tag[-1] == "docker://reg:5000/a/web:git-abc"
    assert builders.Builder("podman").commands(req, Path("/d"))[0][:2] == ["podman", "build"]
    [docker] = builders.Builder("docker").commands(req, Path("/d"))
    assert docker[:3] == ["docker", "buildx", "build"] and "reg:5000/a/web:git-abc" in docker
    assert "type=image,push=true,registry.insecure=true" in docker


def test_no_builder_says_what_was_tried(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Exception, match="no container builder runs here") as err:
        builders.detect()
    assert "docker: not installed" in str(err.value) and "buildah: not installed" in str(err.value)
    assert err.value.exit_code == 3


def test_failed_build_names_its_log(tmp_path, monkeypatch):
    """A builder that fails: the error carries the tail of its output and the log file's path."""
    fake = tmp_path / "bin" / "buildah"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'STEP 2/2: RUN false'\necho 'error building at STEP' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    job = building.Job("web", "shop/web:dev", builders.Request(tmp_path, tmp_path / "Dockerfile", "r/x:1"), "0" * 64)
    with pytest.raises(Exception) as err:
        result(building.build([job], builder=builders.Builder("buildah"), logs=tmp_path / "logs"))
    logs = list((tmp_path / "logs").iterdir())
    assert len(logs) == 1 and str(logs[0]) in str(err.value) and "error building at STEP" in str(err.value)
    assert err.value.exit_code == 1


def test_dry_run_runs_no_builder(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing would run
    job = building.Job("web", "shop/web:dev", builders.Request(tmp_path, tmp_path / "Dockerfile", "r/x:1"), "0" * 64)
    [built] = result(building.build([job], dry_run=True))
    assert built.reference == "r/x:1" and not built.digest


def test_replace_images_pins_every_use_of_the_service_image():
    objects = [
        {
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "template": {
                    "spec": {
                        "initContainers": [{"name": "m", "image": "shop/web:dev"}],
                        "containers": [{"name": "web", "image": "shop/web:dev"}, {"name": "proxy", "image": "envoy:1"}],
                    }
                }
            },
        },
        {"kind": "Service", "metadata": {"name": "web"}, "spec": {}},
    ]
    built = building.Built("web", "shop/web:dev", "reg/shop/web:src-1", "sha256:" + "a" * 64)
    out = building.replace_images(objects, [built])
    pod = out[0]["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == pod["containers"][0]["image"] == f"reg/shop/web:src-1@sha256:{'a' * 64}"
    assert (
        pod["containers"][1]["image"] == "envoy:1"
        and objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/web:dev"
    )


def test_a_fifo_in_the_context_does_not_block_hashing(tmp_path):
    ctx = _ctx(tmp_path)
    base = _hash(ctx)
    os.mkfifo(ctx / "pipe")
    assert _hash(ctx) != base  # named, typed, never opened


def test_missing_context_or_dockerfile_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        context.digest(tmp_path / "nope", tmp_path / "Dockerfile", target=None, args={})
    with pytest.raises(InputError, match="no such file"):
        context.digest(tmp_path, tmp_path / "Dockerfile", target=None, args={})


def test_old_build_logs_are_pruned(tmp_path):
    for i in range(5):
        log = tmp_path / f"a-web-{i}.log"
        log.write_text("x")
        os.utime(log, (i, i))
    building.prune_logs(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-web-3.log", "a-web-4.log"]
