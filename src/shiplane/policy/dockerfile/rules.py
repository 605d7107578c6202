"""Dockerfile rules: hadolint's that matter (same DL ids) and the product's lessons.

Cache and pinning rules look only at the image that ships (the final stage and the
stages it is built FROM): what a builder stage leaves behind never reaches production.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from shiplane.policy.catalog import Group, Rule
from shiplane.policy.dockerfile.parsing import Dockerfile, Instruction, Stage
from shiplane.policy.findings import Severity
from shiplane.policy.rules.images import split_image
from shiplane.policy.shell import Command, process_problem, split
from shiplane.redaction import looks_secret, sensitive_name

DHit = tuple[Instruction, str]  # the instruction at fault and a detail


def lineage(df: Dockerfile, stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, root first."""
    by_name = {s.name.lower(): s for s in df.stages if s.name}
    chain = [stage]
    while chain[0].base.lower() in by_name and by_name[chain[0].base.lower()] not in chain:
        chain.insert(0, by_name[chain[0].base.lower()])
    return chain


def shipped(df: Dockerfile) -> Iterator[Instruction]:
    """Instructions that shape the final image."""
    for stage in lineage(df, df.stages[-1]):
        yield from stage.instructions


def commands(ins: Instruction) -> list[Command]:
    return split(ins.script) if ins.keyword == "RUN" else []


def _installs(cmd: Command) -> tuple[str, list[str]] | None:
    """(manager, packages) when the command installs packages."""
    p, args = cmd.program, cmd.args()
    if p in ("apt-get", "apt") and "install" in args:
        return "apt", [a for a in args[args.index("install") + 1 :] if not a.startswith("-")]
    if p == "apk" and "add" in args:
        return "apk", [a for a in args[args.index("add") + 1 :] if not a.startswith("-")]
    if p in ("yum", "dnf", "microdnf") and "install" in args:
        return "yum", [a for a in args[args.index("install") + 1 :] if not a.startswith("-")]
    if re.fullmatch(r"pip[0-9.]*", p) and "install" in args:
        return "pip", args[args.index("install") + 1 :]
    if p in ("python", "python3") and args[:3] == ["-m", "pip", "install"]:
        return "pip", args[3:]
    if p == "npm" and args[:1] in (["install"], ["i"], ["add"]):
        return "npm", [a for a in args[1:] if not a.startswith("-")]
    return None


def _from(stage: Stage) -> Instruction:
    return stage.instructions[0]


# --- checks; each yields (instruction, detail) ---


def last_user_root(df: Dockerfile):
    users = [i for i in shipped(df) if i.keyword == "USER"]
    if users and users[-1].args.split(":")[0].strip() in ("root", "0"):
        yield users[-1], "final USER is root"


def no_user(df: Dockerfile):
    if not any(i.keyword == "USER" for i in shipped(df)) and df.stages[-1].base != "scratch":
        yield _from(df.stages[-1]), f"final stage {df.stages[-1].label} never sets USER"


def sudo(df: Dockerfile):
    for stage in df.stages:
        for ins in stage.instructions:
            if any(c.words and c.words[0] == "sudo" for c in commands(ins)):
                yield ins, "sudo in RUN"


def _base_ref(df: Dockerfile, stage: Stage) -> str | None:
    base = stage.base
    if base.lower() in df.stage_names() or base == "scratch" or "$" in base:
        return None
    return base


def untagged(df: Dockerfile):
    for stage in df.stages:
        base = _base_ref(df, stage)
        if base and split_image(base)[1] is None and split_image(base)[2] is None:
            yield _from(stage), f"FROM {base}"


def latest(df: Dockerfile):
    for stage in df.stages:
        base = _base_ref(df, stage)
        if base and split_image(base)[1] == "latest" and split_image(base)[2] is None:
            yield _from(stage), f"FROM {base}"


_PINNED = {
    "apt": lambda p: "=" in p or p.endswith(".deb"),
    "apk": lambda p: "=" in p,
    "yum": lambda p: bool(re.search(r"-\d", p)),
    "pip": lambda p: bool(re.search(r"(==|>=|<=|~=|@)", p)) or p.endswith((".whl", ".tar.gz")) or "/" in p or p == ".",
    "npm": lambda p: "@" in p.lstrip("@") or p.startswith((".", "/")) or ".tgz" in p,
}


def _unpinned(manager: str):
    def check(df: Dockerfile):
        for ins in shipped(df):
            for c in commands(ins):
                found = _installs(c)
                if not found or found[0] != manager:
                    continue
                pkgs = found[1]
                if manager == "pip" and any(a in ("-r", "--requirement", "-e", "--editable") for a in pkgs):
                    continue
                loose = [p for p in pkgs if not p.startswith("-") and not _PINNED[manager](p)]
                if loose:
                    yield ins, f"{manager}: {', '.join(loose[:5])}"

    return check


def _cache_mount(ins: Instruction, fragment: str) -> bool:
    return any("type=cache" in m and fragment in m for m in ins.flag("mount"))


def apt_lists(df: Dockerfile):
    for ins in shipped(df):
        cmds = commands(ins)
        installs = any((_installs(c) or ("",))[0] == "apt" for c in cmds)
        if installs and not _cache_mount(ins, "/var/lib/apt") and "/var/lib/apt/lists" not in ins.script:
            yield ins, "apt-get install without rm -rf /var/lib/apt/lists/*"


def apt_recommends(df: Dockerfile):
    for ins in shipped(df):
        for c in commands(ins):
            if (_installs(c) or ("",))[0] == "apt" and "--no-install-recommends" not in c.words:
                yield ins, "apt-get install without --no-install-recommends"


def apk_cache(df: Dockerfile):
    for ins in shipped(df):
        for c in commands(ins):
            if (_installs(c) or ("",))[0] == "apk" and "--no-cache" not in c.words and not _cache_mount(ins, "apk"):
                yield ins, "apk add without --no-cache"


def pip_cache(df: Dockerfile):
    env = " ".join(i.args for i in shipped(df) if i.keyword == "ENV")
    if "PIP_NO_CACHE_DIR" in env:
        return
    for ins in shipped(df):
        for c in commands(ins):
            found = _installs(c)
            if found and found[0] == "pip" and "--no-cache-dir" not in c.words and not _cache_mount(ins, "pip"):
                yield ins, "pip install without --no-cache-dir"


_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz|txz|zip)$")


def add_instead_of_copy(df: Dockerfile):
    for stage in df.stages:
        for ins in stage.instructions:
            if ins.keyword == "ADD" and not ins.heredocs:
                sources = (ins.json_args or ins.args.split())[:-1]
                local = [s for s in sources if "://" not in s and not _ARCHIVE.search(s) and not s.startswith("git@")]
                if local:
                    yield ins, f"ADD {' '.join(local)}"


def shell_form_cmd(df: Dockerfile):
    for ins in shipped(df):
        if ins.keyword in ("CMD", "ENTRYPOINT") and ins.json_args is None and ins.args.strip():
            yield ins, f"{ins.keyword} in shell form"


def pipefail(df: Dockerfile):
    shell_sets = False
    for stage in df.stages:
        for ins in stage.instructions:
            if ins.keyword == "SHELL" and "pipefail" in ins.args:
                shell_sets = True
            unsafe = ins.keyword == "RUN" and not shell_sets and "pipefail" not in ins.script
            if unsafe and any(c.after == "|" for c in commands(ins)):
                yield ins, "pipe without set -o pipefail"


def cd_in_run(df: Dockerfile):
    for stage in df.stages:
        for ins in stage.instructions:
            if any(c.program == "cd" for c in commands(ins)) and not ins.heredocs:
                yield ins, "cd in RUN"


def maintainer(df: Dockerfile):
    for stage in df.stages:
        for ins in stage.instructions:
            if ins.keyword == "MAINTAINER":
                yield ins, "MAINTAINER"


def duplicate_stage(df: Dockerfile):
    seen: set[str] = set()
    for stage in df.stages:
        if stage.name and stage.name.lower() in seen:
            yield _from(stage), f"stage name {stage.name} used twice"
        seen.add((stage.name or "").lower())


def _pairs(ins: Instruction) -> list[tuple[str, str | None]]:
    text = ins.args.strip()
    if ins.keyword == "ENV" and "=" not in text.split(" ", 1)[0]:
        name, _, value = text.partition(" ")  # legacy `ENV NAME value`
        return [(name, value.strip())]
    out: list[tuple[str, str | None]] = []
    for token in re.findall(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""", text):
        name, eq, value = token.partition("=")
        out.append((name, value.strip("\"'") if eq else None))
    return out


def secrets(df: Dockerfile):
    for stage in df.stages:
        for ins in (*df.args_before_from, *stage.instructions) if stage.index == 0 else stage.instructions:
            if ins.keyword not in ("ARG", "ENV"):
                continue
            for name, value in _pairs(ins):
                if value is not None and looks_secret(name, value):
                    yield ins, f"{ins.keyword} {name} has a literal value"
                elif value is None and ins.keyword == "ARG" and sensitive_name(name):
                    yield ins, f"ARG {name} is kept in the image history"


BUILD_TOOLS = re.compile(
    r"^(gcc|g\+\+|clang|make|cmake|build-essential|build-base|musl-dev|libc6?-dev|golang(-go)?|go|rustc|cargo"
    r"|default-jdk|openjdk-\d+-jdk(-headless)?|maven|gradle|.*-dev(el)?)$"
)
SDK_IMAGES = re.compile(
    r"(^|/)(golang|rust|maven|gradle|gcc|buildpack-deps)(:|$)|dotnet/sdk"
    r"|(openjdk|eclipse-temurin|amazoncorretto):[^ ]*jdk"
)
BUILD_COMMANDS = {"gcc", "g++", "cc", "make", "cmake", "javac", "mvn", "gradle", "rustc"}


def compilers(df: Dockerfile):
    chain = lineage(df, df.stages[-1])
    root = chain[0]
    if SDK_IMAGES.search(root.base):
        yield _from(df.stages[-1]), f"final image is built on the SDK image {root.base}"
    for ins in shipped(df):
        for c in commands(ins):
            found = _installs(c)
            if found and found[0] in ("apt", "apk", "yum"):
                tools = [p.split("=")[0] for p in found[1] if BUILD_TOOLS.match(p.split("=")[0])]
                if tools:
                    yield ins, f"installs {', '.join(tools[:4])}"
            elif c.program in BUILD_COMMANDS or (c.program in ("go", "cargo") and c.args()[:1] == ["build"]):
                yield ins, f"runs {c.program} in the final stage"


def processes(df: Dockerfile):
    for ins in shipped(df):
        if ins.keyword in ("CMD", "ENTRYPOINT") and ins.args.strip():
            argv = ins.json_args or ["/bin/sh", "-c", ins.args]
            problem = process_problem(argv)
            if problem:
                yield ins, f"{ins.keyword} {problem}"


def _r(id_, severity, title, why, fix, check) -> Rule:
    return Rule(id_, Group.DOCKERFILE, severity, title, why, fix, check)


S = Severity
RULES: list[Rule] = [
    _r("DL3002", S.HIGH, "last USER is root", "The container runs as root: a process escape is root on the node.",
       "End the final stage with USER <non-root uid>.", last_user_root),
    _r("dockerfile-user-missing", S.LOW, "final stage never sets USER",
       "Without USER the image runs as root unless every pod sets runAsUser.",
       "Add `USER 10001` (a numeric uid) at the end of the final stage.", no_user),
    _r("DL3004", S.MEDIUM, "sudo in RUN", "RUN already runs as the build user; sudo hides who runs what.",
       "Drop sudo; switch with USER where needed.", sudo),
    _r("DL3006", S.HIGH, "base image without a tag", "An untagged FROM builds on whatever `latest` is that day.",
       "Pin the base image: FROM name:version (and @sha256 for reproducible builds).", untagged),
    _r("DL3007", S.HIGH, "base image tag is latest", "`latest` changes under you: builds stop being reproducible.",
       "Pin the base image: FROM name:version.", latest),
    _r("DL3008", S.LOW, "apt package not pinned", "Unpinned packages make the same Dockerfile build different images.",
       "Pin versions: apt-get install pkg=1.2.3-1.", _unpinned("apt")),
    _r("DL3018", S.LOW, "apk package not pinned", "Unpinned packages make the same Dockerfile build different images.",
       "Pin versions: apk add pkg=1.2.3-r0.", _unpinned("apk")),
    _r("DL3013", S.LOW, "pip package not pinned", "Unpinned packages make the same Dockerfile build different images.",
       "Pin versions (pkg==1.2.3) or install from a locked requirements file.", _unpinned("pip")),
    _r("DL3016", S.LOW, "npm package not pinned", "Unpinned packages make the same Dockerfile build different images.",
       "Pin versions (pkg@1.2.3) or run npm ci with a lockfile.", _unpinned("npm")),
    _r("DL3009", S.LOW, "apt lists left in the image", "/var/lib/apt/lists adds tens of MB to every pull.",
       "End the RUN with `rm -rf /var/lib/apt/lists/*` (or use a cache mount).", apt_lists),
    _r("DL3015", S.LOW, "apt installs recommended packages", "Recommended packages bloat the image and its CVE list.",
       "Use apt-get install --no-install-recommends.", apt_recommends),
    _r("DL3019", S.LOW, "apk cache left in the image", "The apk index stays in the layer.",
       "Use apk add --no-cache.", apk_cache),
    _r("DL3042", S.LOW, "pip cache left in the image", "pip's wheel cache stays in the layer.",
       "Use pip install --no-cache-dir (or a cache mount).", pip_cache),
    _r("DL3020", S.MEDIUM, "ADD for local files", "ADD also fetches URLs and unpacks archives: surprises in review.",
       "Use COPY for files and directories.", add_instead_of_copy),
    _r("DL3025", S.MEDIUM, "CMD/ENTRYPOINT in shell form",
       "In shell form PID 1 is /bin/sh, which does not forward SIGTERM: pods are killed after the grace period.",
       'Use the exec form: CMD ["app", "--flag"].', shell_form_cmd),
    _r("DL4006", S.LOW, "pipe without pipefail", "Without pipefail a failing command before | does not fail the build.",
       'Add SHELL ["/bin/bash", "-o", "pipefail", "-c"] (or set -o pipefail in the RUN).', pipefail),
    _r("DL3003", S.LOW, "cd in RUN", "cd in a RUN line is easy to misread; WORKDIR states it once.",
       "Use WORKDIR.", cd_in_run),
    _r("DL4000", S.LOW, "MAINTAINER is deprecated", "MAINTAINER is deprecated.",
       'Use LABEL org.opencontainers.image.authors="…".', maintainer),
    _r("DL3024", S.HIGH, "duplicate stage name", "Two stages with one name: COPY --from picks the wrong one.",
       "Rename one of the stages.", duplicate_stage),
    _r("dockerfile-secret", S.HIGH, "secret in ARG or ENV",
       "ARG and ENV values are stored in the image config and history: anyone who can pull the image reads them.",
       "Use RUN --mount=type=secret at build time and a Kubernetes Secret at run time.", secrets),
    _r("dockerfile-build-tools-in-final-stage", S.MEDIUM, "compiler or build tool in the final image",
       "No compiler in production: build tools enlarge the image, its CVE list and what an intruder can do.",
       "Use a multi-stage build: compile in a builder stage, COPY --from=builder only the artefacts.", compilers),
    _r("dockerfile-multiple-processes", S.MEDIUM, "image starts several processes",
       "One process per container: Kubernetes restarts, probes and limits act on the container, not the daemons.",
       "Run each process in its own container (sidecars in one pod if they share files or localhost).", processes),
]  # fmt: skip
