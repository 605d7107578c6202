"""Real packages for image tests, fetched once into a cache outside the repository.

Debian packages come from `apt-get download`, Python wheels from `pip download`, Go binaries are
built here with the installed Go toolchain. When a download or build fails the test is skipped
with the reason, except in CI, where that is a failure. Nothing fetched is ever committed.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CACHE = Path(os.environ.get("SHIPLANE_TEST_CACHE", Path.home() / ".cache" / "shiplane" / "testdata"))


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"test data unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"test data unavailable: {reason}")


def _run(cmd: list[str], cwd: Path, what: str, env: dict | None = None) -> str:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        _unavailable(f"{what}: {err}")
    if done.returncode != 0:
        _unavailable(f"{what}: {' '.join(cmd)} failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout


def debian_package(name: str, version: str | None = None) -> Path:
    """The .deb of `name` (at `version`, else the candidate) as this machine's apt sources serve it."""
    folder = CACHE / "deb"
    folder.mkdir(parents=True, exist_ok=True)
    quoted = (version or "*").replace(":", "%3a")
    found = sorted(folder.glob(f"{name}_{quoted}_*.deb"))
    if not found:
        spec = f"{name}={version}" if version else name
        _run(["apt-get", "download", spec], folder, f"apt-get download {spec}")
        found = sorted(folder.glob(f"{name}_{quoted}_*.deb"))
    if not found:
        _unavailable(f"apt-get download {name} produced no .deb")
    return found[-1]


def debian_versions(name: str) -> list[str]:
    """Every version of `name` the apt sources serve at once (apt-cache madison), oldest first."""
    out = _run(["apt-cache", "madison", name], Path.cwd(), f"apt-cache madison {name}")
    versions = list(dict.fromkeys(line.split("|")[1].strip() for line in out.splitlines() if "|" in line))
    cmp = subprocess.run
    ordered: list[str] = []
    for v in versions:  # insertion sort with dpkg itself as the judge
        i = 0
        while i < len(ordered) and cmp(["dpkg", "--compare-versions", ordered[i], "lt", v]).returncode == 0:
            i += 1
        ordered.insert(i, v)
    return ordered


def deb_files(deb: Path) -> tuple[dict[str, str], list[tuple[tarfile.TarInfo, bytes | None]]]:
    """(control fields, tar members of its data) of a .deb, read with dpkg-deb."""
    control = _run(["dpkg-deb", "-f", str(deb)], deb.parent, "dpkg-deb -f")
    fields: dict[str, str] = {}
    key = ""
    for line in control.splitlines():
        if line[:1] in (" ", "\t"):
            fields[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    raw = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    members = []
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for m in tf.getmembers():
            data = tf.extractfile(m).read() if m.isreg() else None
            members.append((m, data))
    return fields, members


def dpkg_layer(debs: list[Path], extra: list[tuple[str, bytes]] = (), installed_before: list[Path] = ()) -> bytes:
    """A layer as `apt-get install` leaves it: the packages' files, var/lib/dpkg/status (which also lists
    `installed_before`, packages of lower layers) and the new packages' .list files."""
    buf = io.BytesIO()
    stanzas = [_stanza(deb_files(deb)[0]) for deb in installed_before]
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        seen: set[str] = set()
        for deb in debs:
            fields, members = deb_files(deb)
            paths = []
            for m, data in members:
                name = m.name.lstrip("./")
                if not name or name in seen:
                    continue
                seen.add(name)
                m.name = name
                tf.addfile(m, io.BytesIO(data) if data is not None else None)
                paths.append("/" + name)
            arch = fields.get("Architecture", "all")
            listed = "\n".join(paths).encode() + b"\n"
            _add(
                tf,
                f"var/lib/dpkg/info/{fields['Package']}:{arch}.list"
                if arch != "all"
                else f"var/lib/dpkg/info/{fields['Package']}.list",
                listed,
            )
            stanzas.append(_stanza(fields))
        _add(tf, "var/lib/dpkg/status", ("\n\n".join(stanzas) + "\n").encode())
        for path, data in extra:
            _add(tf, path, data)
    return buf.getvalue()


def _stanza(fields: dict[str, str]) -> str:
    lines = [f"Package: {fields['Package']}", "Status: install ok installed"]
    return "\n".join(lines + [f"{k}: {v}" for k, v in fields.items() if k != "Package"])


def _add(tf: tarfile.TarFile, path: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(path)
    info.size, info.mode = len(data), mode
    tf.addfile(info, io.BytesIO(data))


def wheel(requirement: str) -> Path:
    """A wheel from PyPI (`pip download --no-deps --only-binary :all:`)."""
    name, _, version = requirement.partition("==")
    folder = CACHE / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(folder.glob(pattern))
    if not found:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "-q",
                "-d",
                str(folder),
                requirement,
            ],
            folder,
            f"pip download {requirement}",
        )
        found = sorted(folder.glob(pattern))
    if not found:
        _unavailable(f"pip download {requirement} produced no wheel matching {pattern}")
    return found[-1]


def site_packages_layer(wheels: list[Path], prefix: str = "usr/local/lib/python3.11/site-packages") -> bytes:
    """Wheels unpacked into site-packages, as pip installs them (purelib content only)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for whl in wheels:
            with zipfile.ZipFile(whl) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        _add(tf, f"{prefix}/{info.filename}", zf.read(info))
    return buf.getvalue()


GO_MAIN = """package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.MustParse("en-US")) }
"""


def go_binary(module_version: str = "v0.3.5") -> Path:
    """A Go program built with golang.org/x/text at `module_version` (GO-2021-0113 names < v0.3.7)."""
    key = hashlib.sha256((GO_MAIN + module_version).encode()).hexdigest()[:12]
    folder = CACHE / "go" / key
    binary = folder / "textdemo"
    if binary.is_file():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.go").write_text(GO_MAIN)
    (folder / "go.mod").write_text(
        f"module example.test/textdemo\n\ngo 1.21\n\nrequire golang.org/x/text {module_version}\n"
    )
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    _run(["go", "build", "-trimpath", "-o", str(binary), "."], folder, "go build of the test program", env)
    return binary
