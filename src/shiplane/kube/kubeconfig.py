"""Kubeconfig files, checked before the `kubernetes` library reads them.

The library opens whatever path it is given (a directory or a FIFO raises or blocks),
parses it with PyYAML's unbounded pure-Python loader and assumes its shape (a list where
a mapping belongs is a traceback). Each file is therefore read first through
`shiplane.fileio` (regular file, size cap, UTF-8, alias budget) and its shape checked, so
a broken kubeconfig is an InputError naming the file and what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

from shiplane.errors import InputError
from shiplane.fileio import reading, yamlload

MAX_BYTES = 4 * 1024 * 1024
_LISTS = ("clusters", "contexts", "users")


def location(kubeconfig: str | Path | None) -> str:
    """The path (or os.pathsep-separated paths) the library will read, as it resolves them."""
    if kubeconfig:
        return str(kubeconfig)
    return os.environ.get("KUBECONFIG") or "~/.kube/config"


def check(kubeconfig: str | Path | None) -> str:
    """Validate every kubeconfig file that will be read; returns `location(kubeconfig)`."""
    where = location(kubeconfig)
    files = [where] if kubeconfig else [p for p in where.split(os.pathsep) if p]
    for raw in files:
        path = Path(raw).expanduser()
        if not kubeconfig and not (path.exists() or path.is_symlink()):
            continue  # as the library does: missing files in $KUBECONFIG are skipped
        check_file(path)
    return where


def check_file(path: Path) -> None:
    name = str(path)
    data = yamlload.load(reading.read_text(path, name=name, what="kubeconfig", limit=MAX_BYTES), name)
    if data is None:
        raise InputError(f"{name}: the kubeconfig is empty")
    if not isinstance(data, dict):
        raise InputError(
            f"{name}: a kubeconfig is a mapping (apiVersion, clusters, contexts, users), found {type(data).__name__}"
        )
    for key in _LISTS:
        entries = data.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise InputError(f"{name}: {key}: expected a list, found {type(entries).__name__}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise InputError(f"{name}: {key}[{i}]: expected a mapping with a name")
            inner = key[:-1]  # cluster, context, user
            if entry.get(inner) is not None and not isinstance(entry[inner], dict):
                raise InputError(f"{name}: {key}[{i}].{inner}: expected a mapping, found {type(entry[inner]).__name__}")
    current = data.get("current-context")
    if current is not None and not isinstance(current, str):
        raise InputError(f"{name}: current-context: expected a context name, found {type(current).__name__}")
