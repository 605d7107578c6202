"""An image recipe for a VM service: a Dockerfile from what the VM has.

From a package listing taken on the VM (`--packages`: `dpkg -S` lines `pkg: /path` for the
binaries, and `dpkg-query -W` lines `pkg<TAB>version`), the package that owns the ExecStart
binary is installed at its pinned version on the matching Debian base; the unit's user becomes a
fixed numeric non-root uid; a daemonizing command is turned into its foreground form where the
daemon is known (nginx, redis, memcached, apache), else the report says it is a blocker; the
config files the unit reads are listed for COPY (copy them from the VM beside the Dockerfile).
Pure: text in, text out.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from shiplane.importing.report import ServiceReport

UID = 10001  # a fixed non-root uid: a Debian system user's uid differs from VM to VM
BASE = "debian:12-slim"  # the packages' release (bookworm); a digest is pinned by test/prod (images.pin)


@dataclass
class UnitFacts:
    argv: list[str]
    type: str = "simple"
    user: str | None = None
    dirs: list[str] = field(default_factory=list)  # RuntimeDirectory/StateDirectory/… as absolute paths
    env_files: list[str] = field(default_factory=list)


def parse_packages(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(path → package, package → version) from `dpkg -S` and `dpkg-query -W` output, mixed."""
    owners: dict[str, str] = {}
    versions: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if ": /" in line:  # dpkg -S: "redis-server: /usr/bin/redis-server" (also "a, b: /path")
            pkgs, _, path = line.partition(": ")
            owners[path.strip()] = pkgs.split(",")[0].strip().split(":")[0]
        elif "\t" in line or re.fullmatch(r"\S+\s+\S+", line):  # dpkg-query -W: "pkg\tversion"
            pkg, version = line.split(None, 1)
            versions[pkg.split(":")[0]] = version.strip()
    return owners, versions


def _foreground(argv: list[str], kind: str, r: ServiceReport) -> list[str] | None:
    base = argv[0].rsplit("/", 1)[-1]
    out = list(argv)
    if base == "nginx":
        for i, a in enumerate(out):
            if i and out[i - 1] == "-g":
                out[i] = re.sub(r"daemon\s+on\s*;", "daemon off;", a)
        if not any("daemon off" in a for a in out):
            out += ["-g", "daemon off;"]
        return out
    if base == "redis-server":
        out = [a for a in out]
        for flag, value in (("--daemonize", "no"), ("--supervised", "no")):
            if flag in out and out.index(flag) + 1 < len(out):
                out[out.index(flag) + 1] = value
            else:
                out += [flag, value]
        return out
    if base == "memcached":
        return [a for a in out if a not in ("-d", "--daemon")]
    if base in ("apache2", "httpd", "apachectl"):
        return [a for a in out if a not in ("-k", "start")] + ["-DFOREGROUND"]
    if kind == "forking":
        r.blockers.append(
            f"Type=forking: {base} daemonizes and its foreground flag is not known to shiplane; find it "
            "(often -f, --foreground or --no-daemon) and set CMD in the Dockerfile"
        )
        return None
    return out


def _configs(argv: list[str], env_files: list[str]) -> list[str]:
    found = [a for a in argv[1:] if a.startswith("/etc/")]
    found += [a.split("=", 1)[1] for a in argv[1:] if a.startswith("--") and "=/etc/" in a]
    found += [f for f in env_files if f.startswith("/etc/")]
    return list(dict.fromkeys(found))


def dockerfile(
    name: str, unit: UnitFacts, owners: dict[str, str], versions: dict[str, str], r: ServiceReport
) -> str | None:
    binary = unit.argv[0]
    package = owners.get(binary)
    if package is None:
        r.blockers.append(
            f"no image recipe: the package listing does not say which package owns {binary} "
            f"(run `dpkg -S {binary}` on the VM and add its line to --packages)"
        )
        return None
    version = versions.get(package)
    pin = f"{package}={version}" if version else package
    if not version:
        r.guessed.append(f"package {package}: no version in the listing, so the recipe installs the latest one")
    cmd = _foreground(unit.argv, unit.type, r)
    lines = [
        f"# Image recipe for {name}, from its systemd unit and the VM's package listing (shiplane import).",
        f"FROM {BASE}",
        "RUN apt-get update \\",
        f"    && apt-get install -y --no-install-recommends {shlex.quote(pin)} \\",
        "    && rm -rf /var/lib/apt/lists/*",
    ]
    configs = _configs(unit.argv, unit.env_files)
    for path in configs:
        lines.append(f"COPY {path.lstrip('/')} {path}")
    if configs:
        r.guessed.append(
            f"config files to copy from the VM beside the Dockerfile: {', '.join(configs)} "
            "(the recipe COPYs them; without them the build fails)"
        )
    dirs = [d for d in unit.dirs if d.startswith("/")]
    if dirs:
        lines.append(f"RUN install -d -o {UID} -g {UID} {' '.join(dirs)}")
    who = f"User={unit.user}" if unit.user else "no User= (root)"
    lines.append(f"USER {UID}:{UID}")
    r.guessed.append(
        f"the image runs as uid {UID} ({who} on the VM has no fixed uid); the recipe creates its directories for it"
    )
    if cmd is not None:
        lines.append("CMD " + _json_list(cmd))
        if cmd != unit.argv:
            r.mapped.append(f"ExecStart in the foreground for a container: {' '.join(cmd)}")
    return "\n".join(lines) + "\n", cmd


def _json_list(items: list[str]) -> str:
    import json

    return json.dumps(items)
