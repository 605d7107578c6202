"""Container-level mappings shared by every source: command, environment, resources, security."""

from __future__ import annotations

import re
from typing import Any

from shiplane.importing.health import cpus, quantity
from shiplane.importing.images import ImageFacts
from shiplane.importing.report import ServiceReport
from shiplane.importing.sensitive import SecretBook, looks_secret

DEFAULT_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
_GUESS = "requests 100m CPU / 128Mi, limits 1 CPU / 512Mi"


def escape(argv: list[str]) -> list[str]:
    """Kubernetes expands `$(VAR)` in command and args; a shell's `$(cmd)` must stay literal."""
    return [a.replace("$(", "$$(") for a in argv]


def environment(env: dict[str, str], owner: str, book: SecretBook, r: ServiceReport) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if looks_secret(key, value):
            name = book.add_value(key, value, owner)
            out[key] = {"secret": name}
            r.mapped.append(f"env {key} → secret {name} (value in .shiplane-secrets/{name}, git-ignored)")
        else:
            out[key] = value
    return out


def resources(svc: dict[str, Any], r: ServiceReport) -> dict[str, Any] | None:
    """deploy.resources (or the v2 keys cpus/mem_limit/mem_reservation) → requests and limits."""
    res = ((svc.get("deploy") or {}).get("resources")) or {}
    lim, rsv = res.get("limits") or {}, res.get("reservations") or {}
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    if lim.get("cpus") or svc.get("cpus"):
        limits["cpu"] = cpus(lim.get("cpus") or svc["cpus"])
    if lim.get("memory") or svc.get("mem_limit"):
        limits["memory"] = quantity(lim.get("memory") or svc["mem_limit"])
    if rsv.get("cpus"):
        requests["cpu"] = cpus(rsv["cpus"])
    if rsv.get("memory") or svc.get("mem_reservation"):
        requests["memory"] = quantity(rsv.get("memory") or svc["mem_reservation"])
    out: dict[str, Any] = {}
    gpus = [d for d in rsv.get("devices") or [] if "gpu" in (d.get("capabilities") or [])]
    if gpus:
        count = gpus[0].get("count", 1)
        out["gpu"] = 1 if count == "all" else int(count)
        r.mapped.append(
            f"GPU reservation → gpu: {out['gpu']}" + (" (count 'all' taken as 1)" if count == "all" else "")
        )
    if lim.get("pids"):
        r.dropped.append("deploy.resources.limits.pids: no per-container pid limit in Kubernetes")
    if not limits and not requests:
        r.guessed.append(f"resources: none in compose, so the app defaults apply ({_GUESS})")
        return out or None
    for key, value in limits.items():
        requests.setdefault(key, value)  # a request above the default limit would be rejected
    r.mapped.append("resources: " + ", ".join(f"{k} {v}" for k, v in (("limits", limits), ("requests", requests)) if v))
    missing = [k for k in ("cpu", "memory") if k not in limits]
    if missing:
        r.guessed.append(f"{' and '.join(missing)} limit: app default")
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


def _caps(names: list[str]) -> list[str]:
    return [n.upper().removeprefix("CAP_") for n in names]


def security(svc: dict[str, Any], f: ImageFacts, r: ServiceReport, gaps: set[str]) -> tuple[dict, bool]:
    """(spec security block, whether the root filesystem can stay read-only with scratch for `f.writable`)."""
    sec: dict[str, Any] = {}
    user = str(svc["user"]) if svc.get("user") is not None else None
    uid = gid = None
    if user is not None:
        u, _, g = user.partition(":")
        if u.isdigit():
            uid, gid = int(u), int(g) if g.isdigit() else None
        else:
            r.guessed.append(f"user {user!r} is a name; Kubernetes needs a number (set security.runAsUser)")
    elif f.uid:
        uid = gid = f.uid
        r.guessed.append(f"runs as uid {f.uid}, the unprivileged user known from the {f.source}")
    root = uid is None or uid == 0  # an unknown user may well be root: keep compose's behaviour
    if uid:
        sec["runAsUser"] = uid
        sec["runAsGroup"] = gid or uid
    if root:
        sec["runAsNonRoot"] = False
        sec["dropAllCapabilities"] = False
        why = f"the image's USER {f.user!r} has no known uid" if f.user else "the image's user is unknown"
        if f.root or uid == 0:
            why = f"{f.source or 'the image'} runs as root"
        r.guessed.append(
            f"security relaxed to match compose ({why}): runAsNonRoot false, the runtime's default "
            "capabilities; set security.runAsUser to harden"
        )
    read_only = bool(svc.get("read_only"))
    keep_ro = read_only or (not root and f.uid is not None)
    if not keep_ro:
        sec["readOnlyRootFilesystem"] = False
        r.guessed.append("root filesystem writable, as in compose (read_only not set)")
    elif read_only:
        r.mapped.append("read_only → readOnlyRootFilesystem")
    if svc.get("cap_add"):
        sec["addCapabilities"] = _caps(svc["cap_add"])
        r.mapped.append(f"cap_add → addCapabilities {', '.join(sec['addCapabilities'])}")
    drops = _caps(svc.get("cap_drop") or [])
    if "ALL" in drops:
        sec.pop("dropAllCapabilities", None)
        r.mapped.append("cap_drop ALL → dropAllCapabilities")
    elif drops:
        sec["dropCapabilities"] = drops
        r.mapped.append(f"cap_drop {', '.join(drops)} → dropCapabilities")
    if svc.get("privileged"):
        sec.update({"privileged": True, "allowPrivilegeEscalation": True})
        r.blockers.append(
            "privileged: full access to the host; kept as security.privileged, which the policy gate flags "
            "critical (even dev stops on it) — find the capabilities it really needs and use addCapabilities"
        )
    for opt in svc.get("security_opt") or []:
        if str(opt).replace(":", "=") in ("no-new-privileges", "no-new-privileges=true"):
            r.mapped.append("security_opt no-new-privileges → allowPrivilegeEscalation false (the default)")
        else:
            r.dropped.append(f"security_opt {opt}: no equivalent in the spec")
    return sec, keep_ro


_LABEL_KEY = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def annotations(labels: dict[str, Any], r: ServiceReport) -> dict[str, str]:
    out = {}
    for k, v in labels.items():
        if _LABEL_KEY.match(k):
            out[k] = "" if v is None else str(v)
        else:
            r.dropped.append(f"label {k!r}: not a valid Kubernetes annotation key")
    if out:
        r.mapped.append(f"labels → pod annotations ({len(out)})")
    return out
