"""Limits the Kubernetes API server (or the kubelet) enforces, checked before anything is sent.

Each check returns None when the value is acceptable, else a message that says what was
expected; callers add the file:line and field. The numbers and grammars are the API
server's own (k8s.io/apimachinery validation, robfig/cron as used by CronJob validation).
"""

from __future__ import annotations

import ipaddress
import re

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
MAX_CONFIG_BYTES = 1024 * 1024  # ConfigMap and Secret data, all values together (core.MaxSecretSize)
MAX_ANNOTATION_BYTES = 256 * 1024  # keys and values of one object's annotations together

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # RFC 1123 label, at most 63 characters
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")  # at most 253
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")  # at most 63
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")  # ConfigMap/Secret keys, at most 253


def file_key(path: str) -> str:
    """ConfigMap key of a mounted file: its path with '/' as '_' (keys allow [-._a-zA-Z0-9])."""
    return path.strip("/").replace("/", "_")


def dns_label(value: str) -> str | None:
    if len(value) > 63:
        return f"at most 63 characters (found {len(value)})"
    if not DNS_LABEL.match(value):
        return "a lowercase DNS label: a-z, 0-9 and '-', starting and ending with a letter or digit"
    return None


def dns_subdomain(value: str) -> str | None:
    if len(value) > 253:
        return f"at most 253 characters (found {len(value)})"
    if not DNS_SUBDOMAIN.match(value):
        return "a lowercase DNS name: labels of a-z, 0-9 and '-' separated by '.'"
    return None


def qualified_name(key: str) -> str | None:
    """A label or annotation key: an optional DNS-subdomain prefix and '/', then a name of at most 63."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or dns_subdomain(prefix)):
        return f"key {key!r}: the prefix before '/' must be a DNS subdomain (e.g. example.com)"
    if len(name) > 63:
        return f"key {key!r}: the name after any prefix is at most 63 characters (found {len(name)})"
    if not _QUALIFIED_NAME.match(name):
        return f"key {key!r}: expected letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
    return None


def sub_path(value: str) -> str | None:
    if value.startswith("/") or ".." in value.split("/"):
        return "a relative path without '..' parts"
    return None


_FIELD_PATHS = re.compile(
    r"^(metadata\.(name|namespace|uid)|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs)"
    r"|metadata\.(labels|annotations)\['[^']+'\])$"
)


def field_path(value: str) -> str | None:
    """The pod fields an env var may read through the downward API (fieldRef)."""
    if _FIELD_PATHS.match(value):
        return None
    return (
        "a pod field: metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'], "
        "metadata.annotations['<key>'], spec.nodeName, spec.serviceAccountName, status.hostIP(s) or status.podIP(s)"
    )


def extended_resource(value: str) -> str | None:
    if "/" not in value or qualified_name(value):
        return "a domain-prefixed resource name such as nvidia.com/gpu"
    return None


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def label_value(value: str) -> str | None:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return f"label value {value!r}: at most 63 letters, digits, '-', '_' and '.', starting and ending alphanumeric"
    return None


def size(values: dict[str, str] | dict[str, bytes], *, keys: bool = False) -> int:
    """Bytes as the API server counts them (UTF-8), values only unless `keys`."""
    total = 0
    for k, v in values.items():
        total += len(v.encode() if isinstance(v, str) else v) + (len(k.encode()) if keys else 0)
    return total


def human(n: int) -> str:
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{n} bytes"


def annotations(values: dict[str, str]) -> str | None:
    for key in values:
        if problem := qualified_name(key):
            return problem
    total = size(values, keys=True)
    if total > MAX_ANNOTATION_BYTES:
        return f"annotations total {human(total)}; Kubernetes allows {human(MAX_ANNOTATION_BYTES)} per object"
    return None


def cidr(value: str) -> str | None:
    """An IPv4 or IPv6 network in CIDR notation (host bits may be set, as the API server allows)."""
    if "/" in value:
        try:
            ipaddress.ip_network(value, strict=False)
            return None
        except ValueError:
            pass
    return "a CIDR such as 10.0.0.0/8 or 2001:db8::/32"


# Linux capabilities (capabilities(7)), as container runtimes accept them: with or without CAP_.
CAPABILITIES = frozenset(
    {
        "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
        "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
        "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST",
        "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT",
        "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME",
        "SYS_TTY_CONFIG", "WAKE_ALARM", "ALL",
    }
)  # fmt: skip


def capability(value: str) -> str | None:
    if value.upper().removeprefix("CAP_") in CAPABILITIES:
        return None
    return "a Linux capability name such as NET_BIND_SERVICE or SYS_TIME (see capabilities(7))"


# --- cron: the grammar of robfig/cron v3 ParseStandard, which CronJob validation uses ---

_MONTHS = {
    m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (field name, min, max, names)
_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_GO_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$")
_NUMBER = re.compile(r"^\+?\d+$")


def _int_or_name(text: str, names: dict[str, int] | None) -> int | str:
    if names and text.lower() in names:
        return names[text.lower()]
    if not _NUMBER.match(text):
        return f"{text!r} is not a number" + (f" or a name ({', '.join(names)})" if names else "")
    return int(text)


def _cron_range(expr: str, name: str, low: int, high: int, names: dict[str, int] | None) -> str | None:
    range_, *step = expr.split("/")
    if len(step) > 1:
        return f"{name}: too many '/' in {expr!r}"
    bounds = range_.split("-")
    if bounds[0] in ("*", "?"):
        start, end = low, high
    else:
        if len(bounds) > 2:
            return f"{name}: too many '-' in {expr!r}"
        parsed = [_int_or_name(b, names) for b in bounds]
        for p in parsed:
            if isinstance(p, str):
                return f"{name}: {p}"
        start = end = parsed[0]  # type: ignore[assignment]
        if len(parsed) == 2:
            end = parsed[1]  # type: ignore[assignment]
        elif step:
            end = high  # N/step means N, N+step, … up to the maximum
    if step and (not _NUMBER.match(step[0]) or int(step[0]) == 0):
        return f"{name}: the step in {expr!r} must be a positive number"
    if start < low:
        return f"{name}: {start} is below {low}"
    if end > high:
        return f"{name}: {end} is above {high}"
    if start > end:
        return f"{name}: range {expr!r} starts after it ends"
    return None


def cron(schedule: str) -> str | None:
    """None if the CronJob controller accepts `schedule`, else what is wrong.

    Five fields (minute hour day-of-month month day-of-week), each a comma list of `*`,
    `?`, N, N-M, with an optional /step; months and weekdays also by name (jan, mon).
    Or a macro: @yearly @annually @monthly @weekly @daily @midnight @hourly, @every <duration>.
    """
    text = schedule.strip()
    if "TZ" in text:
        return "a time zone cannot be set in the schedule (TZ= / CRON_TZ=)"
    if text.startswith("@"):
        if text in _MACROS:
            return None
        macro, _, duration = text.partition(" ")
        if macro == "@every" and _GO_DURATION.match(duration.strip()):
            return None
        return f"unknown macro (expected one of {', '.join(sorted(_MACROS))} or '@every 1h30m')"
    fields = text.split()
    if len(fields) != 5:
        return (
            f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(fields)}; "
            "e.g. '0 3 * * *' for 03:00 every day"
        )
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for expr in filter(None, value.split(",")):  # robfig skips empty list items ("1,,2")
            if problem := _cron_range(expr, name, low, high, names):
                return problem
    return None
