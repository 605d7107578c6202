"""Compose volumes, tmpfs, shm_size, secrets and configs → spec volumes, mounts and files.

Named volumes hold state (persistent, so the service is stateful); bind mounts of the
build context are development-only source code (dropped: the image has the code);
bind mounts of files are configuration (files from the repo); tmpfs is memory-backed
scratch space; host system paths are blockers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shiplane.importing.health import quantity
from shiplane.importing.report import ServiceReport

# Host paths that only make sense on that one machine (kernel, devices, the Docker daemon).
_SYSTEM = (
    "/proc",
    "/sys",
    "/dev",
    "/lib",
    "/usr/lib",
    "/usr/src",
    "/boot",
    "/var/run",
    "/run",
    "/etc",
    "/var/lib/docker",
)
_MAX_FILES, _MAX_BYTES = 20, 256 * 1024
DEFAULT_SIZE = "1Gi"
_CONFIG = (".conf", ".cnf", ".ini", ".yaml", ".yml", ".toml", ".properties", ".xml", ".sh", ".env", ".config")


@dataclass(frozen=True)
class PathInfo:
    """What the import saw on disk at a host path (gathered at the edge, see `host.survey`)."""

    kind: str  # missing | file | dir | outside (a symlink out of the project: not read)
    executable: bool = False
    text: bool = True
    size: int = 0
    files: tuple[tuple[str, bool, bool, int], ...] = ()  # (relative path, executable, text, size) of a dir


@dataclass
class Storage:
    volumes: dict[str, Any] = field(default_factory=dict)
    mounts: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    state: list[str] = field(default_factory=list)  # why the service is stateful
    dropped_targets: list[str] = field(default_factory=list)


def label(raw: str, taken: dict[str, Any]) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:36].rstrip("-") or "vol"
    out, n = name, 2
    while out in taken:
        out, n = f"{name}-{n}", n + 1
    return out


def rel(path: str, base: Path) -> str:
    return os.path.relpath(path, base)


def _is_source(src: str, svc: dict[str, Any]) -> bool:
    ctx = (svc.get("build") or {}).get("context")
    if not ctx:
        return False
    a, b = Path(src), Path(ctx)
    return a == b or b in a.parents or a in b.parents


def _add_file(st: Storage, target: str, source: str, info: tuple[bool, bool, int], out_dir: Path) -> bool:
    executable, text, size = info
    if not text or size > _MAX_BYTES:
        return False
    entry: dict[str, Any] = {"fromFile": rel(source, out_dir)}
    if executable:
        entry["mode"] = "0o755"
    st.files[target] = entry
    return True


def bind(
    st: Storage, r: ServiceReport, vol: dict, svc: dict, where: PathInfo, project_dir: Path, out_dir: Path
) -> None:
    src, target = vol["source"], vol["target"]
    inside = Path(project_dir) in Path(src).parents or Path(src) == Path(project_dir)
    shown = rel(src, project_dir) if inside else src
    if _is_source(src, svc) and not (where.kind != "dir" and src.endswith(_CONFIG)):
        st.dropped_targets.append(target)
        r.dropped.append(f"bind mount {shown} → {target}: source code for development; the image must contain it")
        return
    if where.kind == "outside":  # inside by name, but a symlink leads out of the project: not read
        st.dropped_targets.append(target)
        r.blockers.append(
            f"bind mount {shown} → {target}: a symlink to a path outside the project, so it was not read; "
            "copy the files into the project (files:) or bake them into the image"
        )
        return
    if where.kind == "missing" and inside:
        st.dropped_targets.append(target)
        r.blockers.append(
            f"bind mount {shown} → {target}: {shown} does not exist next to the compose file, so it "
            "could not become config files; the container runs without it (add it as files: or bake "
            "it into the image)"
        )
        return
    if not inside:
        if src.startswith(_SYSTEM) or src.endswith("docker.sock"):
            st.dropped_targets.append(target)
            r.blockers.append(
                f"host path {src} → {target}: needs that machine's {src}; no Kubernetes equivalent "
                "without hostPath (dropped)"
            )
            return
        name = label(Path(target).name or "data", st.volumes)
        st.volumes[name] = {"persistent": {"size": DEFAULT_SIZE}}
        st.mounts[name] = target
        st.state.append(f"host directory {src} holds {target}")
        r.blockers.append(
            f"host path {src} → {target}: state kept on the host; now a persistent volume '{name}' "
            "that starts empty (copy the data in)"
        )
        r.guessed.append(f"volume {name} size {DEFAULT_SIZE}")
        return
    if where.kind == "file":
        if _add_file(st, target, src, (where.executable, where.text, where.size), out_dir):
            r.mapped.append(f"bind mount {shown} → {target}: config file (files, from {rel(src, out_dir)})")
        else:
            st.dropped_targets.append(target)
            r.dropped.append(f"bind mount {shown} → {target}: binary or larger than 256 KiB; bake it into the image")
        return
    if len(where.files) > _MAX_FILES:
        st.dropped_targets.append(target)
        r.dropped.append(
            f"bind mount {shown} → {target}: a directory of {len(where.files)} files; bake it into the image"
        )
        return
    kept = [f for f in where.files if _add_file(st, f"{target.rstrip('/')}/{f[0]}", f"{src}/{f[0]}", f[1:], out_dir)]
    r.mapped.append(f"bind mount {shown} → {target}: {len(kept)} config file(s) (files)")
    if len(kept) < len(where.files):
        r.dropped.append(f"bind mount {shown}: {len(where.files) - len(kept)} binary or large file(s) left out")


def named(st: Storage, r: ServiceReport, vol: dict, declared: dict, users: list[str], sname: str) -> None:
    src, target = vol["source"], vol["target"]
    opts = declared.get(src) or {}
    name = label(src, st.volumes)
    cache = re.search(r"cache|notused|node_modules|tmp", src, re.I) or target.rstrip("/").endswith(
        ("node_modules", "/target", "/.cache")
    )
    if cache:
        st.volumes[name] = {"scratch": {}}
        st.mounts[name] = target
        r.guessed.append(f"volume {src} → {target}: looks like a cache, so scratch (emptyDir) rather than persistent")
        return
    size = (opts.get("driver_opts") or {}).get("size")
    others = [u for u in users if u != sname]
    if others:  # one ReadWriteMany claim mounted by each of them
        st.volumes[name] = {"shared": {"claim": name, "size": quantity(size) if size else DEFAULT_SIZE}}
        st.mounts[name] = {"path": target, "readOnly": True} if vol.get("read_only") else target
        r.mapped.append(
            f"volume {src} → {target}: shared with {', '.join(others)}: one ReadWriteMany claim '{name}' "
            "(needs a storage class that supports ReadWriteMany, e.g. NFS or CephFS)"
        )
        if not size:
            r.guessed.append(f"volume {name} size {DEFAULT_SIZE} (compose volumes have no size)")
        return
    st.volumes[name] = {"persistent": {"size": quantity(size) if size else DEFAULT_SIZE}}
    st.mounts[name] = {"path": target, "readOnly": True} if vol.get("read_only") else target
    st.state.append(f"named volume {src} holds {target}")
    r.mapped.append(f"volume {src} → {target}: persistent volume '{name}'")
    if not size:
        r.guessed.append(f"volume {name} size {DEFAULT_SIZE} (compose volumes have no size)")
    if opts.get("external"):
        r.dropped.append(f"volume {src} is external in compose: the claim starts empty (migrate its data)")


def volumes(
    svc: dict,
    sname: str,
    r: ServiceReport,
    paths: dict[str, PathInfo],
    declared: dict,
    users: dict[str, list[str]],
    project_dir: Path,
    out_dir: Path,
) -> Storage:
    st = Storage()
    entries = list(svc.get("volumes") or [])
    for vol in (v for v in entries if v.get("type") == "bind"):
        bind(st, r, vol, svc, paths.get(vol["source"], PathInfo("missing")), project_dir, out_dir)
    for vol in entries:
        kind, target = vol.get("type"), vol["target"]
        if kind == "volume" and vol.get("source"):
            named(st, r, vol, declared, users.get(vol["source"], []), sname)
        elif kind == "volume":
            if any(target == d or target.startswith(d.rstrip("/") + "/") for d in st.dropped_targets):
                r.dropped.append(
                    f"anonymous volume {target}: only kept the image's files visible under a dropped bind mount"
                )
                continue
            name = label(Path(target).name or "data", st.volumes)
            st.volumes[name] = {"scratch": {}}
            st.mounts[name] = target
            r.guessed.append(
                f"anonymous volume {target} → scratch '{name}' (starts empty, unlike Docker's copy "
                "of the image's files)"
            )
        elif kind == "tmpfs":
            name = label(Path(target).name or "tmp", st.volumes)
            scratch: dict[str, Any] = {"memory": True}
            size = (vol.get("tmpfs") or {}).get("size")
            if size:
                scratch["sizeLimit"] = quantity(size)
            st.volumes[name] = {"scratch": scratch}
            st.mounts[name] = target
            r.mapped.append(f"tmpfs {target} → memory-backed scratch '{name}'")
        elif kind not in ("bind",):
            r.dropped.append(f"volume of type {kind} at {target}: no equivalent")
    if svc.get("shm_size"):
        name = label("shm", st.volumes)
        st.volumes[name] = {"scratch": {"memory": True, "sizeLimit": quantity(svc["shm_size"])}}
        st.mounts[name] = "/dev/shm"
        r.mapped.append(f"shm_size {svc['shm_size']} → memory-backed scratch at /dev/shm")
    return st
