"""The shape each importer's mapping relies on, checked before mapping (pydantic v2 models).

The mappers read plain dicts; these models say which types those dicts must have, so a
`build: 5` or a Deployment without `spec` is an input error at `file:line:col` naming the
field, what was expected and what was found, not a traceback. Extra keys are allowed:
what a mapper does not read, it reports as dropped. Values under secret-like names are
described, never quoted (shiplane.redaction).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shiplane.errors import InputErrors
from shiplane.importing import health
from shiplane.redaction import describe, sensitive_path
from shiplane.spec.reporting import format_path

Scalar = str | int | float | bool
INT32 = 2**31 - 1


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _check(fn: Callable[[Any], Any], what: str) -> Callable[[Any], Any]:
    def run(v: Any) -> Any:
        if v is None:
            return v
        try:
            fn(v)
        except (ValueError, TypeError, OverflowError):
            raise ValueError(f"expected {what}") from None
        return v

    return run


def _cpus(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError
    n = float(v)
    if not 0 <= n < float("inf"):
        raise ValueError
    return n


_is_cpus = _check(_cpus, "a number of CPUs such as 0.5")
_is_size = _check(health.quantity, "a size such as 512m or 1g")
_is_duration = _check(health.seconds, "a duration such as 10s or 1m30s")


# ---- compose (after normalization: the long syntax) ----


class ComposeBuild(_Open):
    context: str
    dockerfile: str | None = None
    target: str | None = None
    args: dict[str, str | None] | None = None


class Healthcheck(_Open):
    test: str | list[Scalar] | None = None
    interval: Scalar | None = None
    timeout: Scalar | None = None
    start_period: Scalar | None = None
    retries: int | None = Field(default=None, ge=0, le=INT32)
    disable: bool | None = None

    _duration = field_validator("interval", "timeout", "start_period")(lambda v: _is_duration(v))


class Limits(_Open):
    cpus: Scalar | None = None
    memory: Scalar | None = None
    pids: int | None = None

    _c = field_validator("cpus")(lambda v: _is_cpus(v))
    _m = field_validator("memory")(lambda v: _is_size(v))


class Device(_Open):
    capabilities: list[str] | None = None
    count: int | Literal["all"] | None = None


class Reservations(Limits):
    devices: list[Device] | None = None


class Resources(_Open):
    limits: Limits | None = None
    reservations: Reservations | None = None


class Deploy(_Open):
    replicas: int | None = Field(default=None, ge=0, le=INT32)
    mode: str | None = None
    resources: Resources | None = None


class Port(_Open):
    target: int = Field(ge=1, le=65535)
    protocol: str = "tcp"
    published: str | None = None
    host_ip: str | None = None
    name: str | None = None


class TmpfsOpts(_Open):
    size: Scalar | None = None

    _s = field_validator("size")(lambda v: _is_size(v))


class Volume(_Open):
    type: str
    target: str
    source: str | None = None
    read_only: bool | None = None
    tmpfs: TmpfsOpts | None = None

    @model_validator(mode="after")
    def _bind_source(self) -> Volume:
        if self.type == "bind" and not self.source:
            raise ValueError("expected a source for a bind mount")
        return self


def _octal(v: Any) -> Any:
    if isinstance(v, str) and not re.fullmatch(r"0?o?[0-7]{1,4}", v):
        raise ValueError("expected an octal file mode such as 0440")
    return v


class Ref(_Open):
    source: str
    target: str | None = None
    mode: int | str | None = Field(default=None)

    _mode = field_validator("mode")(lambda v: _octal(v))


class ComposeService(_Open):
    image: str | None = None
    build: ComposeBuild | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    working_dir: Annotated[str, Field(pattern=r"^/")] | None = None
    user: str | int | None = None
    environment: dict[str, str | None] | None = None
    ports: list[Port] | None = None
    expose: list[Port] | None = None
    healthcheck: Healthcheck | None = None
    deploy: Deploy | None = None
    scale: int | None = Field(default=None, ge=0, le=INT32)
    cpus: Scalar | None = None
    mem_limit: Scalar | None = None
    mem_reservation: Scalar | None = None
    shm_size: Scalar | None = None
    read_only: bool | None = None
    privileged: bool | None = None
    cap_add: list[str] | None = None
    cap_drop: list[str] | None = None
    security_opt: list[Scalar] | None = None
    restart: str | bool | None = None
    runtime: str | None = None
    network_mode: str | None = None
    pid: str | None = None
    ipc: str | None = None
    devices: list[Any] | None = None
    volumes: list[Volume] | None = None
    secrets: list[Ref] | None = None
    configs: list[Ref] | None = None
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    depends_on: dict[str, dict[str, Any]] | None = None

    _c = field_validator("cpus")(lambda v: _is_cpus(v))
    _m = field_validator("mem_limit", "mem_reservation", "shm_size")(lambda v: _is_size(v))


class DriverOpts(_Open):
    size: Scalar | None = None

    _s = field_validator("size")(lambda v: _is_size(v))


class TopLevel(_Open):
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool | dict[str, Any] | None = None
    driver_opts: DriverOpts | None = None


class ComposeProject(_Open):
    services: dict[str, ComposeService]
    volumes: dict[str, TopLevel] = Field(default_factory=dict)
    secrets: dict[str, TopLevel] = Field(default_factory=dict)
    configs: dict[str, TopLevel] = Field(default_factory=dict)


# Patterns the Kubernetes models (`manifestshapes`) use; their messages are here so every
# importer words them alike.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
KIND = r"^[A-Za-z][A-Za-z0-9]{0,62}$"


_PATTERNS = {
    r"^/": "an absolute path starting with '/'",
    DNS_SUBDOMAIN: "a DNS name: lowercase letters, digits, '-' and '.', at most 253 characters",
    KIND: "a kind: letters and digits, starting with a letter",
}


def _problems(err: ValidationError, data: Any) -> dict[tuple, tuple[list[str], Any]]:
    """path → (messages, found). Pydantic's loc also names union members (`user.int`): the path
    keeps only the parts that exist in the data, so alternatives merge into one line."""
    out: dict[tuple, tuple[list[str], Any]] = {}
    for e in err.errors():
        path: list[Any] = []
        node = data
        loc = list(e["loc"])
        for i, part in enumerate(loc):
            present = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            )
            if present:
                path.append(part)
                node = node[part]
            elif e["type"] == "missing" and i == len(loc) - 1:
                path.append(part)
        if e["type"] == "missing":
            msg = f"missing required field {loc[-1]!r}"
        else:
            msg = e["msg"].removeprefix("Value error, ").removeprefix("Input should be ").removeprefix("expected ")
            msg = re.sub(r"a valid dictionary( or instance of \w+)?", "a mapping", msg)
            msg = re.sub(r", unable to parse string as an? \w+", "", msg.replace("a valid list", "a list"))
            pattern = (e.get("ctx") or {}).get("pattern")
            if pattern:
                msg = _PATTERNS.get(pattern, f"a value matching {pattern!r}")
            elif e["type"] == "too_short":
                msg = f"at least {e['ctx']['min_length']} item(s)"
        messages, _ = out.setdefault(tuple(path), ([], e.get("input")))
        if msg not in messages:
            messages.append(msg)
    return out


def validate(
    model: type[BaseModel], data: Any, where: Callable[[tuple], str], prefix: tuple = (), *, secret: bool = False
) -> list[str]:
    """Problems of `data` against `model`, each `file:line:col: field.path: expected …, found …`."""
    try:
        model.model_validate(data)
    except ValidationError as err:
        lines = []
        for path, (messages, found) in _problems(err, data).items():
            missing = [m for m in messages if m.startswith("missing required field")]
            others = [m for m in messages if m not in missing]
            text = "; ".join([*missing, *(["expected " + " or ".join(others)] if others else [])])
            if others:
                text += f" (found {describe(found, sensitive=secret or sensitive_path(path))})"
            lines.append(f"{where((*prefix, *path))}: {text}")
        return lines
    return []


def check(model: type[BaseModel], data: Any, where: Callable[[tuple], str], prefix: tuple = ()) -> None:
    problems = validate(model, data, where, prefix)
    if problems:
        raise InputErrors(problems)


def where_in(marks: dict, file: str, root: tuple = ()) -> Callable[[tuple], str]:
    """`file:line:col: path` of the nearest marked ancestor of `root + path`."""

    def at(path: tuple) -> str:
        full = (*root, *path)
        for i in range(len(full), -1, -1):
            if full[:i] in marks:
                return f"{marks[full[:i]]}: {format_path(path)}" if path else str(marks[full[:i]])
        return f"{file}: {format_path(path)}" if path else file

    return at
