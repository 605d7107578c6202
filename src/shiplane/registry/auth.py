"""Registry credentials from Docker's config file, and the `WWW-Authenticate` challenge grammar.

`~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`) keeps `auths` per registry: `auth`
(base64 `user:password`), or `username`/`password`, or an `identitytoken` (an OAuth2 refresh
token, exchanged at the token realm). Credential helpers (`credsStore`, `credHelpers`) are
not run: shiplane does not execute programs named in a config file; log in with
`docker login --password-stdin` into a config without a store, or pass the file's path.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from shiplane.errors import InputError
from shiplane.fileio.reading import decode, read_bytes
from shiplane.redaction import REDACTED

_HUB_KEYS = {"https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"}


@dataclass(frozen=True)
class Credentials:
    """One registry's login; `repr` never shows the secret parts."""

    username: str = field(default="")
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def __repr__(self) -> str:
        secret = REDACTED if (self.password or self.identity_token) else ""
        return f"Credentials(username={self.username!r}, secret={secret!r})"


def _host_of(key: str) -> str:
    """`https://host:port/v1/` → `host:port`; Docker Hub's many spellings → `docker.io`."""
    if key in _HUB_KEYS or key.rstrip("/") in {k.rstrip("/") for k in _HUB_KEYS}:
        return "docker.io"
    host = re.sub(r"^[a-z]+://", "", key).split("/", 1)[0]
    return "docker.io" if host in _HUB_KEYS else host


@dataclass(frozen=True)
class DockerConfig:
    """The `auths` of a Docker config file, by registry host (`docker.io` for Docker Hub)."""

    auths: dict[str, Credentials] = field(default_factory=dict)
    path: str | None = None

    @classmethod
    def default_path(cls) -> Path:
        root = os.environ.get("DOCKER_CONFIG")
        return Path(root) / "config.json" if root else Path.home() / ".docker" / "config.json"

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> DockerConfig:
        """Read the config; a missing default file is no credentials, a missing named file an error."""
        target = Path(path) if path is not None else cls.default_path()
        if path is None and not target.exists():
            return cls()
        name = str(target)
        text = decode(read_bytes(target, name=name, what="Docker config file", limit=4 * 1024 * 1024), name)
        try:
            data = json.loads(text)
        except ValueError as err:
            # json's message carries line and column only, never the file's text
            raise InputError(f"{name}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
        return cls.parse(data, name=name)

    @classmethod
    def parse(cls, data: object, *, name: str = "Docker config") -> DockerConfig:
        if not isinstance(data, dict):
            raise InputError(f"{name}: expected a JSON object at the top level, found {type(data).__name__}")
        auths = data.get("auths")
        auths = {} if auths is None else auths
        if not isinstance(auths, dict):
            raise InputError(f"{name}: `auths` must be an object of registry → login, found {type(auths).__name__}")
        found: dict[str, Credentials] = {}
        for key, entry in auths.items():
            where = f"{name}: auths.{key}"
            if not isinstance(entry, dict):
                raise InputError(f"{where}: expected an object, found {type(entry).__name__}")
            username = str(entry.get("username") or "")
            password = str(entry.get("password") or "")
            if encoded := entry.get("auth"):
                try:
                    pair = base64.b64decode(str(encoded), validate=True).decode("utf-8")
                except (binascii.Error, ValueError, UnicodeDecodeError):
                    raise InputError(f"{where}.auth: not base64 of `username:password`") from None
                if ":" not in pair:
                    raise InputError(f"{where}.auth: decodes to no `username:password` pair (no ':')")
                username, password = pair.split(":", 1)
            token = str(entry.get("identitytoken") or "")
            if username or password or token:
                found[_host_of(str(key))] = Credentials(username, password, token)
        return cls(found, name)

    def credentials(self, registry: str) -> Credentials | None:
        return self.auths.get(_host_of(registry))


@dataclass(frozen=True)
class Challenge:
    """A parsed `WWW-Authenticate` header: scheme (`basic`/`bearer`) and its parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


_PARAM = re.compile(r'\s*([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="…",service="…",scope="…"` → Challenge; None for an empty or unknown header."""
    header = (header or "").strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
    return Challenge(scheme.lower(), params)
