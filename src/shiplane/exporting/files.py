"""The only I/O of an export: its files written through `fileio.writing.OutputDir`, or not at all."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from shiplane.errors import InputErrors
from shiplane.fileio.writing import OutputDir


def write(root: Path, files: dict[str, str], *, force: bool = False, dry_run: bool = False) -> list[Path]:
    """Write every file (relative POSIX paths) under `root`; the paths written, or that would be.

    Everything is checked before the first write (a file shiplane did not write, a symlink, a
    non-directory on the way), so a refused export changes nothing. Files shiplane wrote earlier
    into the same directories and no longer produces (a stage left out this time) are removed.
    A dry run checks the same and writes nothing.
    """
    out = OutputDir(root, force=force)
    refused = [why for rel in files if (why := out.existing(rel))]
    if refused:
        raise InputErrors(refused, hint="pass --force to replace them, or choose another output directory")
    paths = [root / rel for rel in files]
    if dry_run:
        return paths
    for rel, text in files.items():
        out.write(rel, text)
    dirs = {str(PurePosixPath(rel).parent) for rel in files}
    for d in sorted(dirs):
        sub = None if d == "." else d
        for name in out.names(sub):
            rel = name if sub is None else f"{sub}/{name}"
            if rel not in files:
                out.remove_own(rel)
    return paths
