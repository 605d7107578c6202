"""Image references: the distribution grammar (github.com/distribution/reference), pure.

`nginx` is `docker.io/library/nginx:latest`, as Docker reads it; a first component with a
`.` or `:` (or `localhost`) is a registry host. A reference may carry a tag, a digest or
both (`repo:tag@sha256:…`: the digest decides, the tag stays for people to read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from shiplane.errors import BadReference
from shiplane.redaction import REDACTED

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io's API actually answers
_HUB_ALIASES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_HOST = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
MAX_NAME = 255
_USERINFO = re.compile(r"^(?:[a-z]+://)?[^/@\s]*:[^/@\s]*@[^/]*/")  # user:password@ before the first '/'


def check_digest_ok(digest: str) -> bool:
    return bool(_DIGEST.match(digest)) and (not digest.startswith("sha256:") or bool(_SHA256.match(digest)))


def check_digest(digest: str, *, what: str = "digest") -> str:
    """A digest as `algorithm:hex`; sha256 (the one every registry speaks) must be 64 lowercase hex."""
    if not _DIGEST.match(digest) or (digest.startswith("sha256:") and not _SHA256.match(digest)):
        raise BadReference(f"{what} {digest!r} is not a valid digest (expected sha256: and 64 hex digits)")
    return digest


@dataclass(frozen=True)
class Reference:
    """`registry/repository[:tag][@digest]`; parse with `Reference.parse`."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        if not isinstance(text, str) or not text.strip():
            raise BadReference("empty image reference")
        raw = text.strip()
        if _USERINFO.match(raw):  # `user:password@host/…`: never echo it, the password is in it
            raise BadReference(
                f"image reference '{REDACTED}@{raw.split('@', 1)[1]}': credentials do not belong in an image reference",
                hint="log in with `docker login` (shiplane reads ~/.docker/config.json)",
            )
        where = f"image reference {raw!r}"
        if "://" in raw:
            raise BadReference(f"{where}: an image reference has no URL scheme (write host/repository:tag)")
        if any(c.isspace() for c in raw):
            raise BadReference(f"{where}: contains whitespace")
        rest, digest = raw, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            check_digest(digest, what=f"{where}: digest")
        tag = None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:  # a ':' after the last '/' starts the tag (before it, it is a port)
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _TAG.match(tag):
                raise BadReference(
                    f"{where}: tag {tag!r} is not valid (letters, digits, '_', '.', '-'; at most 128; "
                    "not starting with '.' or '-')"
                )
        if not rest:
            raise BadReference(f"{where}: no repository name")
        first, _, remainder = rest.partition("/")
        if remainder and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
            registry, path = first, remainder
            if not _HOST.match(registry):
                raise BadReference(f"{where}: registry host {registry!r} is not a valid host[:port]")
        else:
            registry, path = DOCKER_HUB, rest
        if registry in _HUB_ALIASES:
            registry = DOCKER_HUB
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        if not _PATH.match(path):
            hint = " (repository names are lowercase)" if path != path.lower() else ""
            raise BadReference(
                f"{where}: repository {path!r} is not valid{hint}: components of [a-z0-9] separated by "
                "'.', '_', '__' or '-', joined by '/'"
            )
        if len(registry) + 1 + len(path) > MAX_NAME:
            raise BadReference(f"{where}: the name is longer than {MAX_NAME} characters")
        if tag is None and digest is None:
            tag = "latest"
        return cls(registry, path, tag, digest)

    @property
    def name(self) -> str:
        """`registry/repository`, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host to send API requests to (docker.io answers at registry-1.docker.io)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def identifier(self) -> str:
        """What the registry's manifest endpoint is asked for: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> Reference:
        return replace(self, digest=check_digest(digest))

    def with_tag(self, tag: str | None) -> Reference:
        if tag is not None and not _TAG.match(tag):
            raise BadReference(f"tag {tag!r} is not valid")
        return replace(self, tag=tag)

    def in_repository(self, repository: str, registry: str | None = None) -> Reference:
        """The same tag and digest in another repository (and registry): where a copy goes."""
        return Reference.parse(str(replace(self, registry=registry or self.registry, repository=repository)))

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text
