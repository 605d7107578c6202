"""The edge where import meets the disk: Dockerfiles and the host paths compose refers to,
surveyed once so the mapping itself stays a pure function."""

from __future__ import annotations

import os
from pathlib import Path

from shiplane.importing import images
from shiplane.importing.composefile import Project
from shiplane.importing.images import ImageFacts
from shiplane.importing.storage import PathInfo

_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv"}


def _is_text(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            chunk = fh.read(4096)
        chunk.decode("utf-8")
        return b"\0" not in chunk
    except (OSError, UnicodeDecodeError):
        return False


def path_info(path: Path, limit: int = 200) -> PathInfo:
    if path.is_file():
        st = path.stat()
        return PathInfo("file", executable=bool(st.st_mode & 0o111), text=_is_text(path), size=st.st_size)
    if path.is_dir():
        files = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            for n in sorted(names):
                p = Path(root, n)
                st = p.stat()
                files.append((str(p.relative_to(path)), bool(st.st_mode & 0o111), _is_text(p), st.st_size))
                if len(files) > limit:
                    return PathInfo("dir", files=tuple(files))
        return PathInfo("dir", files=tuple(files))
    return PathInfo("missing")


def image_facts(svc: dict) -> ImageFacts:
    build = svc.get("build") or {}
    if build.get("context") and "://" not in build["context"]:
        path = Path(build["context"], build.get("dockerfile") or "Dockerfile")
        if path.is_file():
            args = {k: v for k, v in (build.get("args") or {}).items() if v is not None}
            return images.dockerfile(path.read_text(encoding="utf-8", errors="replace"), build.get("target"), args)
    return images.known(svc.get("image") or "") or ImageFacts()


def survey(project: Project) -> tuple[dict[str, ImageFacts], dict[str, PathInfo]]:
    facts = {s: image_facts(svc) for s, svc in project.services.items()}
    paths: dict[str, PathInfo] = {}
    for svc in project.services.values():
        for vol in svc.get("volumes") or []:
            if vol.get("type") == "bind" and vol.get("source"):
                paths[vol["source"]] = path_info(Path(vol["source"]))
    for group in (project.secrets, project.configs):
        for opts in group.values():
            if opts.get("file"):
                file = (project.directory / opts["file"]).resolve()
                paths[str(file)] = path_info(file)
    return facts, paths
