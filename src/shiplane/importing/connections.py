"""Who may talk to whom, inferred from configuration: least privilege where there is evidence.

A service's `connectsTo` lists the peers its configuration names — env values and command words
that are URLs and DSNs (`mysql://user@db:3306`, `redis://cache`, `http://api:8080/x`), `host:port`
(`PRODUCT_CATALOG_SERVICE_ADDR: productcatalogservice:3550`), a bare host name (`REDIS_HOST: redis`),
config file contents — plus its `depends_on`. Compose networks still bound it. A service whose
configuration names no peer keeps the broad rule (every service with ports on its networks), as one
`{network: N}` rule per network instead of a list of pairs, with a warning.

Evidence is shown as `where → host[:port]`, never the value: a DSN's user and password stay out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from shiplane.importing.report import Report, ServiceReport, ranged

_URL = re.compile(r"\b[a-zA-Z][\w+.-]*://(?:[^@/\s]*@)?([A-Za-z0-9][\w.-]*)(?::(\d{1,5}))?")
# user:password@host[:port] without a scheme: only the host is evidence, never the userinfo.
_USERINFO = re.compile(r"(?<![\w.~%+:/-])[\w.~%+-]+:[^\s/@:]+@([A-Za-z][\w.-]*)(?::(\d{1,5}))?")
_HOST_PORT = re.compile(r"(?<![\w.@/:-])([A-Za-z][\w.-]*):(\d{2,5})\b")
_WORD = re.compile(r"[A-Za-z][\w.-]*")


def _host(name: str, hosts: dict[str, str]) -> str | None:
    name = name.lower()
    if name in hosts:
        return hosts[name]
    first = name.split(".", 1)[0]  # db.default.svc.cluster.local, db.internal
    return hosts.get(first) if "." in name else None


def references(texts: Iterable[tuple[str, str]], hosts: dict[str, str]) -> dict[str, str]:
    """target service → the first evidence naming it (`env DATABASE_URL → db:3306`)."""
    found: dict[str, str] = {}
    for where, text in texts:
        hits: list[tuple[str, str]] = []
        for m in _URL.finditer(text):
            hits.append((m.group(1), m.group(1) + (f":{m.group(2)}" if m.group(2) else "")))
        for m in _USERINFO.finditer(text):
            hits.append((m.group(1), m.group(1) + (f":{m.group(2)}" if m.group(2) else "")))
        for m in _HOST_PORT.finditer(text):
            hits.append((m.group(1), m.group(0)))
        stripped = text.strip()
        if _WORD.fullmatch(stripped):
            hits.append((stripped, stripped))
        else:
            for token in re.split(r"[\s=,;\"']+", text):
                if _WORD.fullmatch(token) and _host(token, hosts) is not None:
                    hits.append((token, token))
        for host, shown in hits:
            target = _host(host, hosts)
            if target is not None and target not in found:
                found[target] = f"{where} → {shown}"
    return found


def compose_texts(svc: dict) -> list[tuple[str, str]]:
    texts = [(f"env {k}", str(v)) for k, v in (svc.get("environment") or {}).items() if v is not None]
    for key in ("entrypoint", "command"):
        if svc.get(key):
            texts.append((key, " ".join(map(str, svc[key]))))
    return texts


def spec_texts(out: dict[str, Any]) -> list[tuple[str, str]]:
    """Env values (not secret references), command, args and inline files of a spec service."""
    texts: list[tuple[str, str]] = []
    for c in [out, *(out.get("sidecars") or {}).values(), *(out.get("initContainers") or {}).values()]:
        texts += [(f"env {k}", str(v)) for k, v in (c.get("env") or {}).items() if isinstance(v, (str, int))]
        for key in ("command", "args"):
            if c.get(key):
                texts.append((key, " ".join(map(str, c[key]))))
    for path, f in (out.get("files") or {}).items():
        if isinstance(f, dict) and isinstance(f.get("content"), str):
            texts.append((f"file {path}", f["content"]))
    return texts


def infer(
    services: dict[str, dict[str, Any]],
    reports: dict[str, ServiceReport],
    report: Report,
    *,
    texts: dict[str, list[tuple[str, str]]],
    hosts: dict[str, str],
    networks: dict[str, set[str]],
    depends: dict[str, list[str]],
    reachable: set[str],
    mode: str = "inferred",
) -> None:
    """Set `connectsTo` (and `networks` where the broad rule applies). Keys are spec names.

    mode: `inferred` (evidence, else the broad rule with a warning), `evidence` (evidence only),
    `network` (the broad rule for every service, as compose allows)."""
    broad: dict[str, list[str]] = {}
    for s in services:
        found = references(texts.get(s, []), hosts) if mode != "network" else {}
        for d in depends.get(s, []):
            found.setdefault(d, "depends_on")
        evidence = {  # in spec order, so the spec reads the same whatever order the evidence came in
            t: found[t]
            for t in services
            if t in found and t != s and t in reachable and networks[s] & networks.get(t, set())
        }
        r = reports[s]
        if evidence:
            services[s]["connectsTo"] = list(evidence)
            r.connections = [{"to": t, "evidence": why} for t, why in evidence.items()]
            r.mapped.append("connects to " + "; ".join(f"{t} ({why})" for t, why in evidence.items()))
            continue
        if mode == "evidence" or (found and mode != "network"):
            continue
        nets = sorted(n for n in networks[s] if any(t != s and n in networks.get(t, set()) for t in reachable))
        if nets:
            services[s]["connectsTo"] = [{"network": n} for n in nets]
            r.connections = [{"network": n, "evidence": None} for n in nets]
            for n in nets:
                broad.setdefault(n, []).append(s)
    for n, clients in broad.items():
        targets = [t for t in services if t in reachable and n in networks.get(t, set())]
        for t in targets:
            services[t].setdefault("networks", [])
            if n not in services[t]["networks"]:
                services[t]["networks"].append(n)
        why = "" if mode == "network" else " and no configuration names a peer"
        report.connections.append(
            f"WARNING: {ranged(clients)} ({len(clients)} service(s)) share network {n}{why}: they may connect to "
            f"the {len(targets)} service(s) with ports on it ({ranged(targets)}) — one rule, "
            f"connectsTo: [{{network: {n}}}]; replace it with the services each really calls"
        )
    inferred = sum(1 for r in reports.values() if any(c.get("to") for c in r.connections))
    if inferred:
        report.connections.insert(
            0,
            f"{inferred} service(s) connect only to what their configuration or depends_on names "
            "(least privilege; the evidence is on each service's 'connects to' line)",
        )
