"""The edge where import meets the disk: Dockerfiles and the host paths compose refers to,
surveyed once so the mapping itself stays a pure function.

Only the project's own files are read. A bind source outside the project directory (`/`,
`/etc`, `~/data`) is looked at with `stat` alone, never listed or opened: its contents are
that machine's, not the app's (and reading `/dev` would hang on a device). A path inside
the project that leads outside through a symlink is reported as "outside" and not read.
FIFOs, devices and sockets are never opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from shiplane.errors import InputError
from shiplane.fileio import reading
from shiplane.importing import images
from shiplane.importing.composefile import Project
from shiplane.importing.images import ImageFacts
from shiplane.importing.storage import PathInfo

_SKIP_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv"})
_MAX_DOCKERFILE = 4 * 1024 * 1024


def _is_text(path: Path) -> bool:
    chunk = reading.head(path, 4096)
    if chunk is None:
        return False
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\0" not in chunk


def _lexically_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _stat_only(path: Path) -> PathInfo:
    """What is at a path outside the project, without opening or listing it."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return PathInfo("missing")
    if stat.S_ISDIR(st.st_mode):
        return PathInfo("dir")
    return PathInfo("file", executable=bool(st.st_mode & 0o111), text=False, size=st.st_size)


def path_info(path: Path, root: Path | None = None, limit: int = 200) -> PathInfo:
    """What import may use of a host path; with `root`, nothing outside it is read."""
    path = Path(os.path.abspath(path))
    if root is not None:
        root = Path(os.path.abspath(root))
        if not _lexically_inside(path, root):
            return _stat_only(path)
        if (path.exists() or path.is_symlink()) and not reading.within(path, root):
            return PathInfo("outside")
    if reading.is_regular(path):
        st = path.stat()
        return PathInfo("file", executable=bool(st.st_mode & 0o111), text=_is_text(path), size=st.st_size)
    if path.is_dir():
        files = []
        for p in reading.walk_files(path, root=root or path, skip_dirs=_SKIP_DIRS):
            try:
                st = p.stat()
            except OSError:
                continue
            files.append((str(p.relative_to(path)), bool(st.st_mode & 0o111), _is_text(p), st.st_size))
            if len(files) > limit:
                break
        return PathInfo("dir", files=tuple(files))
    if path.exists():  # a FIFO, device or socket: nothing to import
        return PathInfo("file", text=False)
    return PathInfo("missing")


def image_facts(svc: dict) -> ImageFacts:
    build = svc.get("build") or {}
    if build.get("context") and "://" not in build["context"]:
        path = Path(build["context"], build.get("dockerfile") or "Dockerfile")
        if reading.is_regular(path):
            try:
                data = reading.read_bytes(path, what="Dockerfile", limit=_MAX_DOCKERFILE)
            except InputError:
                data = None
            if data is not None:
                args = {k: v for k, v in (build.get("args") or {}).items() if v is not None}
                return images.dockerfile(data.decode("utf-8", errors="replace"), build.get("target"), args)
    return images.known(svc.get("image") or "") or ImageFacts()


def survey(project: Project) -> tuple[dict[str, ImageFacts], dict[str, PathInfo]]:
    facts = {s: image_facts(svc) for s, svc in project.services.items()}
    paths: dict[str, PathInfo] = {}
    root = project.directory
    for svc in project.services.values():
        for vol in svc.get("volumes") or []:
            if vol.get("type") == "bind" and vol.get("source"):
                paths[vol["source"]] = path_info(Path(vol["source"]), root)
    for group in (project.secrets, project.configs):
        for opts in group.values():
            if opts.get("file"):
                file = (project.directory / opts["file"]).resolve()
                paths[str(file)] = path_info(file, root)
    return facts, paths
