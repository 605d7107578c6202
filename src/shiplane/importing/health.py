"""Compose healthchecks → readiness (and startup) probes; compose durations and sizes.

Docker never restarts an unhealthy container, so a healthcheck means "ready", not
"alive": it becomes a readiness probe, plus a startup probe when it has a start_period.
`curl`/`wget` of localhost on a known port becomes an HTTP probe, which needs no tool
inside the image.
"""

from __future__ import annotations

import math
import re
from typing import Any

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}


def seconds(value: Any) -> int | None:
    """'1m30s' → 90; bare numbers are seconds; rounded up, at least 1."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return max(1, math.ceil(value))
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return max(1, int(text))
    parts = _DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"invalid duration {value!r} (expected e.g. 10s, 1m30s)")
    return max(1, math.ceil(sum(float(n) * _UNITS[u] for n, u in parts)))


def quantity(value: Any) -> str:
    """Compose byte sizes (binary units: 512m, 1g, 100kb) → Kubernetes quantities (512Mi, 1Gi)."""
    text = str(value).strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)b?", text)
    if not m:
        raise ValueError(f"invalid size {value!r} (expected e.g. 512m, 1g)")
    number, unit = m.group(1), m.group(2)
    if "." in number and unit:  # Kubernetes wants whole numbers with binary suffixes
        scale = {"k": 1, "m": 2, "g": 3, "t": 4}[unit]
        return str(int(float(number) * 1024**scale))
    return f"{number}{unit.upper()}i" if unit else number


def cpus(value: Any) -> str:
    """Compose `cpus: 0.5` → '500m'; whole numbers stay whole."""
    n = float(value)
    return str(int(n)) if n.is_integer() else f"{round(n * 1000)}m"


_HTTP = re.compile(
    r"\b(?:curl|wget)\b[^|;&]*?(?:https?://)?(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(\d+))?(/[^\s\"'|;&]*)?"
)


def _command(test: Any) -> tuple[list[str] | None, str]:
    """(exec argv, the command as text) of a healthcheck test; argv None when disabled."""
    if isinstance(test, str):
        return ["sh", "-c", test], test
    test = [str(t) for t in test or []]  # the shape check allows numbers in the list
    if not test or test[0] == "NONE":
        return None, ""
    if test[0] == "CMD-SHELL":
        text = " ".join(test[1:])
        return ["sh", "-c", text], text
    argv = test[1:] if test[0] == "CMD" else test
    return list(argv), " ".join(argv)


def probes(hc: dict[str, Any], ports: dict[str, int]) -> tuple[dict[str, Any], list[str]]:
    """(spec `probes`, notes). `ports`: port name → container port of the service."""
    if hc.get("disable"):
        return {}, ["healthcheck disabled: no probes"]
    argv, text = _command(hc.get("test"))
    if argv is None:
        return {}, ["healthcheck 'NONE': no probes"] if "test" in hc else []
    check: dict[str, Any] = {"exec": argv}
    how = f"exec {text!r}"
    m = _HTTP.search(text)
    if m:
        port = int(m.group(1) or 80)
        name = next((n for n, p in ports.items() if p == port), None)
        if name:
            check = {"http": {"port": name, "path": m.group(2) or "/"}}
            how = f"HTTP GET {m.group(2) or '/'} on port {name} (was {text!r})"
    period, timeout = seconds(hc.get("interval")), seconds(hc.get("timeout"))
    retries = hc.get("retries")
    readiness = dict(check)
    if period:
        readiness["periodSeconds"] = period
    if timeout:
        readiness["timeoutSeconds"] = timeout
    if retries:
        readiness["failureThreshold"] = int(retries)
    out = {"readiness": readiness}
    notes = [f"healthcheck → readiness probe: {how}"]
    start = seconds(hc.get("start_period"))
    if start:
        every = period or 10
        out["startup"] = {
            **check,
            "periodSeconds": every,
            "failureThreshold": math.ceil(start / every) + int(retries or 3),
        }
        if timeout:
            out["startup"]["timeoutSeconds"] = timeout
        notes.append(f"healthcheck start_period {start}s → startup probe")
    return out, notes
