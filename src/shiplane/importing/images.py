"""What we know about an image without pulling it: a table of well-known images, and the
Dockerfile of a build context (EXPOSE, USER and the base image of the target stage).

Ports matter most: a compose service reachable only on its container port (no `ports:`
or `expose:`) still needs a Kubernetes Service, or nothing can reach it by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ImageFacts:
    ports: tuple[int, ...] = ()
    uid: int | None = None  # a known non-root uid the image works with
    root: bool = False  # known to need root (binds :80, chowns at start)
    data: str | None = None  # where it keeps its state
    writable: tuple[str, ...] = ()  # paths it writes besides `data` (scratch under a read-only root)
    env: dict[str, str] = field(default_factory=dict)  # env that makes it work on a volume
    http: bool = False
    several_processes: str | None = None
    user: str | None = None  # USER from a Dockerfile, when not numeric
    source: str = ""  # where these facts come from, for the report


def _pg(tag: str) -> ImageFacts:
    return ImageFacts(
        ports=(5432,),
        uid=70 if "alpine" in tag else 999,
        data="/var/lib/postgresql/data",
        writable=("/var/run/postgresql", "/tmp"),
        # A fresh volume has lost+found at its root, which initdb refuses: use a subdirectory.
        env={"PGDATA": "/var/lib/postgresql/data/pgdata"},
    )


_MYSQL = ImageFacts(ports=(3306,), uid=999, data="/var/lib/mysql", writable=("/var/run/mysqld", "/tmp"))
_REDIS = ImageFacts(ports=(6379,), uid=999, data="/data", writable=("/tmp",))
_NGINX = ImageFacts(ports=(80,), root=True, http=True)
_APACHE = ImageFacts(ports=(80,), root=True, http=True)
_KNOWN = {
    "postgres": _pg,
    "mysql": lambda tag: _MYSQL,
    "mariadb": lambda tag: _MYSQL,
    "redis": lambda tag: _REDIS,
    "redislabs/redismod": lambda tag: _REDIS,
    "mongo": lambda tag: ImageFacts(ports=(27017,), uid=999, data="/data/db", writable=("/tmp",)),
    "nginx": lambda tag: _NGINX,
    "httpd": lambda tag: _APACHE,
    "nextcloud": lambda tag: ImageFacts(ports=(80,), root=True, http=True, data="/var/www/html"),
    "php": lambda tag: _APACHE if "apache" in tag else ImageFacts(ports=(9000,), root=True),
    "rabbitmq": lambda tag: ImageFacts(ports=(5672,), uid=999, data="/var/lib/rabbitmq"),
    "memcached": lambda tag: ImageFacts(ports=(11211,), uid=11211),
}


def split(image: str) -> tuple[str, str]:
    """`docker.io/library/postgres:15-alpine@sha…` → ('postgres', '15-alpine')."""
    name = image.split("@", 1)[0]
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        name = name.removeprefix(prefix)
    return name, tag


def known(image: str) -> ImageFacts | None:
    name, tag = split(image)
    if name.startswith(("linuxserver/", "lscr.io/linuxserver/")):
        return ImageFacts(
            root=True,
            several_processes="linuxserver images run an s6-overlay init with several services",
            source=f"image {name}",
        )
    make = _KNOWN.get(name)
    return replace(make(tag), source=f"image {name}") if make else None


_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$", re.I)


def _logical_lines(text: str) -> list[str]:
    lines, buf = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        lines.append((buf + stripped).strip())
        buf = ""
    if buf:
        lines.append(buf.strip())
    return lines


def dockerfile(text: str, target: str | None = None, args: dict[str, str] | None = None) -> ImageFacts:
    """Facts of the target stage (default: the last), following `FROM <stage>` chains."""
    stages: list[dict] = []
    for line in _logical_lines(text):
        m = _FROM.match(line)
        if m:
            stages.append({"base": m.group(1), "name": (m.group(2) or "").lower(), "lines": []})
        elif stages:
            stages[-1]["lines"].append(line)
    if not stages:
        return ImageFacts()
    by_name = {s["name"]: s for s in stages if s["name"]}
    stage = by_name.get(target.lower()) if target else stages[-1]
    if stage is None:
        return ImageFacts()
    chain = []
    while stage is not None and stage not in chain:
        chain.append(stage)
        stage = by_name.get(stage["base"].lower())
    base = known(chain[-1]["base"]) or ImageFacts()
    ports: list[int] = list(base.ports)
    user: str | None = None
    values = dict(args or {})
    for st in reversed(chain):  # base stage first
        for line in st["lines"]:
            word, _, rest = line.partition(" ")
            word = word.upper()
            if word in ("ARG", "ENV"):
                for k, _, v in (p.partition("=") for p in rest.split()):
                    if v and k not in values:
                        values[k] = v.strip("\"'")
            elif word == "EXPOSE":
                for item in rest.split():
                    item = re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), ""), item)
                    m = re.fullmatch(r"(\d+)(?:/tcp)?", item)
                    if m and int(m.group(1)) not in ports:
                        ports.append(int(m.group(1)))
            elif word == "USER":
                user = rest.split(":")[0].strip()
    facts = replace(base, ports=tuple(ports), source=f"Dockerfile (base {chain[-1]['base']})")
    if user is not None:
        if user.isdigit():
            facts = replace(facts, uid=int(user) or None, root=user == "0", user=None)
        else:
            facts = replace(facts, uid=None, root=user == "root", user=None if user == "root" else user)
    return facts
