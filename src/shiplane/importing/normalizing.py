"""Compose short syntax → the long syntax `docker compose config` prints, per service key.

Relative host paths are made absolute against the directory compose resolves them
from (the project directory, or an extended file's own directory), so files merged
or extended later keep pointing at the right place.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from shiplane.errors import InputError
from shiplane.importing.yamlfile import Override, Reset

# Every key the compose specification allows on a service (compose-spec schema).
SERVICE_KEYS = frozenset(
    """annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs
    container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus
    cpuset credential_spec depends_on deploy develop device_cgroup_rules devices dns dns_opt dns_search
    domainname entrypoint env_file environment expose extends external_links extra_hosts gpus group_add
    healthcheck hostname image init ipc isolation label_file labels links logging mac_address mem_limit
    mem_reservation mem_swappiness memswap_limit network_mode networks oom_kill_disable oom_score_adj pid
    pids_limit platform ports post_start pre_stop privileged profiles provider pull_policy read_only restart
    runtime scale secrets security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls
    tmpfs tty ulimits use_api_socket user userns_mode uts volumes volumes_from
    working_dir""".split()  # noqa: SIM905
)
TOP_KEYS = frozenset({"version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"})


class Invalid(ValueError):
    """A value compose itself would reject; the caller adds file:line and the field path."""


def _str_list(v: Any, what: str) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str | int | float) for x in v):
        return [str(x) for x in v]
    raise Invalid(f"{what} must be a string or a list of strings")


def command(v: Any) -> list[str] | None:
    """Compose splits a string command like a POSIX shell would, without running one."""
    if v is None:
        return None
    if isinstance(v, str):
        try:
            return shlex.split(v)
        except ValueError as err:
            raise Invalid(f"cannot split the command line: {err}") from None
    return _str_list(v, "a command")


def mapping(v: Any, what: str) -> dict[str, str | None]:
    """`KEY=VALUE` lists or mappings; `KEY` alone (no value) stays None."""
    if v is None:
        return {}
    if isinstance(v, dict):
        return {str(k): (None if x is None else _scalar(x)) for k, x in v.items()}
    if isinstance(v, list):
        out: dict[str, str | None] = {}
        for item in v:
            if not isinstance(item, str):
                raise Invalid(f"{what} entries must be KEY=VALUE strings")
            key, sep, value = item.partition("=")
            out[key] = value if sep else None
        return out
    raise Invalid(f"{what} must be a mapping or a list of KEY=VALUE")


def _kind(x: Any) -> str:
    """What was found, by type only (the value itself may be a secret)."""
    return {dict: "a mapping", list: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(x), "a string" if isinstance(x, str) else type(x).__name__
    )


def _scalar(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int | float | str):
        return str(x)
    raise Invalid(f"expected a string, number or boolean, found {type(x).__name__}")


# Port ranges up to this size become one named port each; larger ones (RTP media ranges,
# `1-65535`) are kept as one range entry that the mapping reports instead of expanding: a
# container with thousands of ports is useless to Kubernetes, and expanding them is slow.
MAX_PORT_RANGE = 100


def _bounds(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,5})(?:-(\d{1,5}))?", text)
    if not m:
        raise Invalid(f"invalid port {text!r}")
    low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    if not 0 < low <= high <= 65535:
        raise Invalid(f"invalid port range {text!r}")
    return low, high


def _range(text: str) -> list[int]:
    low, high = _bounds(text)
    return list(range(low, high + 1))


def ports(v: Any) -> list[dict[str, Any]]:
    """`[[ip:]published:]target[/proto]` (ranges allowed) or long syntax → long syntax."""
    if not isinstance(v, list):
        raise Invalid("ports must be a list")
    out: list[dict[str, Any]] = []
    for item in v:
        if isinstance(item, dict):
            if "target" not in item:
                raise Invalid("a port needs a target")
            if not re.fullmatch(r"\d{1,5}", str(item["target"])):
                raise Invalid(f"ports: target must be a port number, found {_kind(item['target'])}")
            entry = {"target": int(item["target"]), "protocol": str(item.get("protocol", "tcp")).lower()}
            if item.get("published") is not None:
                entry["published"] = str(item["published"])
            if item.get("host_ip"):
                entry["host_ip"] = item["host_ip"]
            if item.get("name"):
                entry["name"] = item["name"]
            if item.get("app_protocol"):
                entry["app_protocol"] = item["app_protocol"]
            out.append(entry)
            continue
        text = str(item)
        text, _, proto = text.partition("/")
        host_ip = None
        if text.startswith("["):  # [::1]:8080:80
            host_ip, _, text = text[1:].partition("]:")
        parts = text.rsplit(":", 2) if host_ip is None else text.split(":")
        if len(parts) == 3:
            host_ip, published, target = parts
        elif len(parts) == 2:
            published, target = parts
        else:
            published, target = None, parts[0]
        low, high = _bounds(target)
        if high - low + 1 > MAX_PORT_RANGE:
            if published and (lambda b: b[1] - b[0])(_bounds(published)) not in (0, high - low):
                raise Invalid(f"port ranges of different sizes in {item!r}")
            entry = {"target": low, "range_end": high, "protocol": (proto or "tcp").lower()}
            if published:
                entry["published"] = published
            out.append(entry)
            continue
        targets = list(range(low, high + 1))
        publisheds = _range(published) if published else [None] * len(targets)
        if len(publisheds) == 1 and len(targets) > 1:
            publisheds = publisheds * len(targets)
        if len(publisheds) != len(targets):
            raise Invalid(f"port ranges of different sizes in {item!r}")
        for t, p in zip(targets, publisheds, strict=True):
            entry = {"target": t, "protocol": (proto or "tcp").lower()}
            if p is not None:
                entry["published"] = str(p)
            if host_ip:
                entry["host_ip"] = host_ip
            out.append(entry)
    return out


def expose(v: Any) -> list[dict[str, Any]]:
    out = []
    for item in _str_list(v, "expose"):
        port, _, proto = item.partition("/")
        low, high = _bounds(port)
        if high - low + 1 > MAX_PORT_RANGE:
            out.append({"target": low, "range_end": high, "protocol": (proto or "tcp").lower()})
            continue
        out += [{"target": p, "protocol": (proto or "tcp").lower()} for p in range(low, high + 1)]
    return out


def _host_path(source: str, base: Path) -> str:
    if source.startswith("~"):
        return str(Path(source).expanduser())
    return str((base / source).resolve()) if not source.startswith("/") else source


def volumes(v: Any, base: Path) -> list[dict[str, Any]]:
    """`[source:]target[:mode]` → {type: bind|volume, source, target, read_only}; bare target = anonymous."""
    if not isinstance(v, list):
        raise Invalid("volumes must be a list")
    out = []
    for item in v:
        if isinstance(item, dict):
            entry = dict(item)
            if "target" not in entry:
                raise Invalid("a volume needs a target")
            entry.setdefault("type", "volume")
            if entry["type"] == "bind" and entry.get("source"):
                entry["source"] = _host_path(str(entry["source"]), base)
            out.append(entry)
            continue
        if not isinstance(item, str):
            raise Invalid("volumes entries must be strings or mappings")
        parts = item.split(":")
        if len(parts) > 1 and re.fullmatch(r"[A-Za-z]", parts[0]):  # C:\path on Windows hosts
            parts = [parts[0] + ":" + parts[1], *parts[2:]]
        if len(parts) == 1:
            out.append({"type": "volume", "target": parts[0]})
            continue
        source, target, mode = parts[0], parts[1], (parts[2] if len(parts) > 2 else "")
        is_path = source.startswith((".", "/", "~")) or "/" in source
        entry = {
            "type": "bind" if is_path else "volume",
            "source": _host_path(source, base) if is_path else source,
            "target": target,
        }
        if "ro" in mode.split(","):
            entry["read_only"] = True
        out.append(entry)
    return out


def tmpfs(v: Any) -> list[dict[str, Any]]:
    out = []
    for item in _str_list(v, "tmpfs"):
        target, _, opts = item.partition(":")
        entry: dict[str, Any] = {"type": "tmpfs", "target": target}
        size = re.search(r"size=([0-9]+[a-zA-Z]*)", opts)
        if size:
            entry["tmpfs"] = {"size": size.group(1)}
        out.append(entry)
    return out


def build(v: Any, base: Path) -> dict[str, Any]:
    if not isinstance(v, str | dict):
        raise Invalid(f"build must be a path or a mapping with a context, found {_kind(v)}")
    entry = {"context": v} if isinstance(v, str) else dict(v)
    if not isinstance(entry.get("context", "."), str):
        raise Invalid("build.context must be a path")
    context = str(entry.get("context", "."))
    if "://" not in context and not context.startswith("git@"):
        entry["context"] = _host_path(context, base)
    if "args" in entry:
        entry["args"] = mapping(entry["args"], "build.args")
    entry.setdefault("dockerfile", "Dockerfile")
    return entry


def depends_on(v: Any) -> dict[str, dict[str, Any]]:
    if isinstance(v, list):
        return {str(s): {"condition": "service_started", "required": True} for s in v}
    if isinstance(v, dict):
        out = {}
        for name, opts in v.items():
            if not isinstance(opts, dict | None):
                raise Invalid(f"depends_on.{name} must be a mapping (condition, required, restart)")
            opts = dict(opts or {})
            opts.setdefault("condition", "service_started")
            opts.setdefault("required", True)
            if opts["condition"] not in ("service_started", "service_healthy", "service_completed_successfully"):
                raise Invalid(f"depends_on.{name}.condition: unknown condition {opts['condition']!r}")
            out[str(name)] = opts
        return out
    raise Invalid("depends_on must be a list of services or a mapping")


def networks(v: Any) -> dict[str, Any]:
    if isinstance(v, list):
        return {str(n): {} for n in v}
    if isinstance(v, dict):
        return {str(k): (x or {}) for k, x in v.items()}
    raise Invalid("networks must be a list or a mapping")


def references(v: Any, what: str) -> list[dict[str, Any]]:
    """Service `secrets:`/`configs:` → [{source, target?, mode?, uid?, gid?}]."""
    if not isinstance(v, list):
        raise Invalid(f"{what} must be a list")
    out = []
    for item in v:
        if isinstance(item, str):
            out.append({"source": item})
        elif isinstance(item, dict) and "source" in item:
            out.append(dict(item))
        else:
            raise Invalid(f"{what} entries must be names or mappings with a source")
    return out


def env_files(v: Any, base: Path) -> list[dict[str, Any]]:
    items = v if isinstance(v, list) else [v]
    out = []
    for item in items:
        if not isinstance(item, str | dict):
            raise Invalid("env_file entries must be paths or mappings with a path")
        entry = {"path": item, "required": True} if isinstance(item, str) else dict(item)
        if not isinstance(entry.get("path"), str):
            raise Invalid("env_file entries must be paths")
        entry["path"] = _host_path(entry["path"], base)
        out.append(entry)
    return out


def service(svc: dict[str, Any], base: Path) -> dict[str, Any]:
    """Normalize one service's keys in place of a copy; raise (key, Invalid) on the first bad one."""
    out = dict(svc)
    steps = {
        "build": lambda x: build(x, base),
        "command": command,
        "entrypoint": command,
        "environment": lambda x: mapping(x, "environment"),
        "labels": lambda x: mapping(x, "labels"),
        "annotations": lambda x: mapping(x, "annotations"),
        "sysctls": lambda x: mapping(x, "sysctls"),
        "ports": ports,
        "expose": expose,
        "volumes": lambda x: volumes(x, base),
        "depends_on": depends_on,
        "networks": networks,
        "secrets": lambda x: references(x, "secrets"),
        "configs": lambda x: references(x, "configs"),
        "env_file": lambda x: env_files(x, base),
        "cap_add": lambda x: _str_list(x, "cap_add"),
        "cap_drop": lambda x: _str_list(x, "cap_drop"),
        "profiles": lambda x: _str_list(x, "profiles"),
        "dns": lambda x: _str_list(x, "dns"),
    }
    for key, step in steps.items():
        value = out.get(key)
        if value is None or isinstance(value, Reset):
            continue
        try:
            out[key] = Override(step(value.value)) if isinstance(value, Override) else step(value)
        except Invalid as err:
            raise KeyedInvalid(key, str(err)) from None
    if out.get("tmpfs") is not None and not isinstance(out["tmpfs"], Reset | Override):
        try:
            out["volumes"] = [*(out.get("volumes") or []), *tmpfs(out.pop("tmpfs"))]
        except Invalid as err:
            raise KeyedInvalid("tmpfs", str(err)) from None
    return out


class KeyedInvalid(InputError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
