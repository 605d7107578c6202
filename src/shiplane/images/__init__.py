"""Image audit: read container images offline, inventory their packages, match advisories.

Everything here works on the bytes of local inputs (OCI layouts, `docker save` archives, root
filesystem directories) and never extracts anything to disk; only `shiplane.cli` prints.
"""

from __future__ import annotations

from shiplane.images.errors import ImageError
from shiplane.images.filesystem import Entry, FileSystem, Limits
from shiplane.images.reading import open_image

__all__ = ["Entry", "FileSystem", "ImageError", "Limits", "open_image"]
