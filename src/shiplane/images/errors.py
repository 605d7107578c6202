"""Errors of the image audit: bad or hostile input is an InputError (exit 2)."""

from __future__ import annotations

from shiplane.errors import EnvironmentProblem, InputError


class ImageError(InputError):
    """The image cannot be read safely: malformed, hostile (escape, loop, bomb) or truncated."""


class DatabaseMissing(EnvironmentProblem):
    """No advisory data has been imported (exit 3: run `shiplane images db import`)."""
