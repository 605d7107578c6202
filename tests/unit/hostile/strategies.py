"""Hypothesis strategies for every input shiplane reads: specs, compose projects, manifests, systemd
units, Procfiles and raw bytes. Each draws a *plausible* input (so the run gets past the first
check and into the mapping code) and then breaks it: a field replaced by a wrong type, a huge value
or odd unicode, keys deleted, YAML anchors and aliases, deep nesting, duplicate keys, non-UTF-8
bytes, names that collide once normalised.

A secret marker is planted only where the redaction rule (docs/input-safety.md) says a value is
secret: a variable or flag whose name marks it sensitive, a secret source (an env var read by
`fromEnv`, a secret file, a Kubernetes Secret), a URL's password. No output may show it.

An input is a `Project`: files to write (path → bytes, relative to the working directory), the
command line, the environment, and the markers planted.
"""

from __future__ import annotations

import base64
import string
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.unit.hostile.mutations import mutated, yaml_text

MARK_PREFIX = "Zq5ecretMk"


@dataclass
class Project:
    command: str  # render | check | import | schema
    argv: list[str]
    files: dict[str, bytes]
    env: dict[str, str] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    stdin: bytes = b""
    out_setup: str = "none"  # what already exists in the output directory, see test_properties.prepare
    specials: dict[str, str] = field(default_factory=dict)  # path → "fifo" | "dir": not a regular file

    def describe(self) -> str:
        shown = {k: v[:4000].decode("utf-8", "replace") for k, v in self.files.items()}
        return f"argv={self.argv} env={self.env} out_setup={self.out_setup} specials={self.specials}\n" + "\n".join(
            f"--- {k}\n{v}" for k, v in shown.items()
        )


markers = st.text(string.ascii_letters + string.digits, min_size=8, max_size=8).map(lambda s: MARK_PREFIX + s)


# ---------------------------------------------------------------- specs (shiplane.yaml)

dns_name = st.sampled_from(["web", "api", "db", "worker", "cache", "shop", "a", "x" * 40, "x" * 64, "Web", "a_b"])
port_name = st.sampled_from(["http", "grpc", "metrics", "postgres", "web-ui", "x" * 16])


@st.composite
def spec_service(draw, secret: str | None) -> dict:
    svc: dict[str, Any] = {"image": draw(st.sampled_from(["nginx:1.27", "ghcr.io/acme/api:1.0", "redis", "Nginx"]))}
    svc["kind"] = draw(st.sampled_from(["stateless", "stateless", "stateful", "job", "cronjob", "daemon"]))
    if svc["kind"] == "cronjob":
        svc["schedule"] = draw(st.sampled_from(["*/5 * * * *", "every day", "@hourly", "* * * *", "61 * * * *"]))
    if draw(st.booleans()):
        svc["ports"] = draw(st.dictionaries(port_name, st.integers(1, 65535), min_size=1, max_size=3))
    if draw(st.booleans()):
        svc["replicas"] = draw(st.one_of(st.integers(0, 5), st.sampled_from([2**31, 2**53, 2**63])))
    if draw(st.booleans()):
        svc["env"] = {"LOG_LEVEL": "info"}
        if secret:
            svc["env"]["DB_PASSWORD"] = {"secret": secret}
    if draw(st.booleans()):
        svc["files"] = {"/etc/app/app.conf": {"content": "a = 1\n"}}
        if secret and draw(st.booleans()):
            svc["files"]["/run/secrets/key"] = {"secret": secret}
    if draw(st.booleans()):
        svc["volumes"] = {"tmp": {"scratch": {}}}
        svc["mounts"] = {"tmp": "/tmp"}
    if draw(st.booleans()):
        svc["probes"] = {"readiness": {"http": {"port": next(iter(svc.get("ports") or {"http": 1})), "path": "/"}}}
    if draw(st.booleans()):
        svc["connectsTo"] = draw(
            st.sampled_from(
                [
                    ["db"],
                    [{"cidr": "10.0.0.0/8", "ports": [443]}],
                    [{"cidr": draw(st.sampled_from(["10.0.0.0/33", "::/129", "300.1.1.1/8", "fe80::/64", "x"]))}],
                    [{"cidr": "10.0.0.0/8", "ports": [draw(st.sampled_from([0, 70000, 2**31, 53]))]}],
                ]
            )
        )
    if draw(st.integers(0, 3)) == 0:
        svc["runtimeClassName"] = draw(st.sampled_from(["kata", "gvisor", "Kata_Containers!", "a" * 300, "a.b"]))
    if draw(st.integers(0, 3)) == 0:
        caps = draw(st.sampled_from([["NET_BIND_SERVICE"], ["not a cap"], ["net_admin"], ["CAP_SYS_ADMIN"], [""]]))
        svc["security"] = {"addCapabilities": caps}
    if draw(st.integers(0, 3)) == 0:
        svc["files"] = {**svc.get("files", {}), "/etc/app/extra.conf": {"fromFile": "conf/extra.conf"}}
    if draw(st.booleans()):
        svc["autoscaling"] = {"minReplicas": 1, "maxReplicas": 3}
    if draw(st.booleans()):
        svc["public"] = {"host": "shop.example.com"}
    return svc


@st.composite
def spec_projects(draw) -> Project:
    marker = draw(markers)
    secret_source = draw(st.sampled_from(["env", "file", "pasted", "none"]))
    doc: dict[str, Any] = {
        "app": {"name": draw(st.sampled_from(["shop", "app", "Bad_App"]))},
        "defaults": {"resources": {"limits": {"cpu": "200m", "memory": "128Mi"}}},
    }
    files: dict[str, bytes] = {}
    env: dict[str, str] = {}
    secret = None
    if secret_source == "env":
        doc["secrets"] = {"db-password": {"fromEnv": "FUZZ_DB_PASSWORD"}}
        env["FUZZ_DB_PASSWORD"] = marker
        secret = "db-password"
    elif secret_source == "file":
        doc["secrets"] = {"db-password": {"fromFile": "secrets/db"}}
        files["secrets/db"] = marker.encode()
        secret = "db-password"
    elif secret_source == "pasted":  # a value pasted where a source belongs
        doc["secrets"] = {"db-password": marker}
        secret = "db-password"
    names = draw(st.lists(dns_name, min_size=1, max_size=3, unique=True))
    doc["services"] = {n: draw(spec_service(secret)) for n in names}
    doc["stages"] = {"dev": {"namespace": draw(st.sampled_from(["shop-dev", "dev", "Bad NS"]))}}
    if draw(st.booleans()):
        doc["stages"]["dev"]["overrides"] = {"services": {names[0]: {"replicas": 2}}}
    doc = draw(mutated(doc))
    files["shiplane.yaml"] = draw(yaml_text(doc))
    specials = {}
    what = draw(st.sampled_from(["file"] * 4 + ["fifo", "dir"]))
    if what == "file":
        files["conf/extra.conf"] = b"x = 1\n"
    else:
        specials["conf/extra.conf"] = what
    if secret_source == "file" and draw(st.integers(0, 5)) == 0:
        del files["secrets/db"]
        specials["secrets/db"] = draw(st.sampled_from(["fifo", "dir"]))
    how = draw(st.sampled_from(["render-stdout", "render-dir", "check"]))
    argv = {
        "render-stdout": ["render", "-f", "shiplane.yaml", "-s", "dev"],
        "render-dir": ["render", "-f", "shiplane.yaml", "-s", "dev", "-o", "out"],
        "check": ["check", "--stage", "dev", "-f", "shiplane.yaml", "-o", "json"],
    }[how]
    out_setup = draw(st.sampled_from(["none"] * 5 + ["user-file", "symlink-out"])) if how == "render-dir" else "none"
    return Project(argv[0], argv, files, env, [marker], out_setup=out_setup, specials=specials)


# ---------------------------------------------------------------- compose projects

compose_service_names = st.sampled_from(["web", "WEB", "db", "a_b", "a-b", "worker", "redis", "Web.1", "x" * 70])


@st.composite
def compose_service(draw, marker: str) -> dict:
    svc: dict[str, Any] = {}
    svc["image"] = draw(st.sampled_from(["nginx:1.27", "postgres:16", "mysql:8", "redis:7", "python:3.12"]))
    if draw(st.booleans()):
        svc["build"] = draw(st.sampled_from([".", {"context": ".", "dockerfile": "Dockerfile"}, 5, {"context": 5}]))
    if draw(st.booleans()):
        svc["ports"] = draw(
            st.lists(
                st.sampled_from(
                    ["8080:80", "80", "127.0.0.1:5432:5432", "9000-9003:9000-9003", 8080, "x:y", "70000"] * 3
                    + ["30000-30999:30000-30999", "1-65535:1-65535", "0:0", "65536:1"]
                ),
                max_size=3,
            )
        )
    where = draw(st.sampled_from(["env-dict", "env-list", "dotenv-command", "dotenv-healthcheck", "env-file", "url"]))
    environment: dict[str, Any] = {"LOG_LEVEL": "info"}
    if where == "env-dict":
        environment["DB_PASSWORD"] = marker
    elif where == "url":
        environment["DATABASE_URL"] = f"postgres://app:{marker}@db:5432/app"
    elif where == "dotenv-command":
        svc["command"] = draw(st.sampled_from(["app --db-password=${DB_PASSWORD}", ["app", "--token=${API_TOKEN}"]]))
    elif where == "dotenv-healthcheck":
        svc["healthcheck"] = {"test": ["CMD", "mysqladmin", "ping", "-p${MYSQL_ROOT_PASSWORD}"], "interval": "10s"}
    elif where == "env-file":
        svc["env_file"] = draw(st.sampled_from(["app.env", ["app.env"], [{"path": "app.env", "required": False}]]))
    if where == "env-list":
        svc["environment"] = [f"{k}={v}" for k, v in environment.items()] + [f"SECRET_KEY={marker}"]
    else:
        svc["environment"] = environment
    if draw(st.booleans()):
        svc["deploy"] = draw(
            st.sampled_from(
                [{"replicas": 2}, {"replicas": "many"}, {"resources": {"limits": {"cpus": "0.5", "memory": "256M"}}}]
            )
        )
    if draw(st.booleans()):
        svc["volumes"] = draw(st.sampled_from([["data:/var/lib/data"], ["./conf:/etc/conf:ro"], ["tmp:/tmp", 5]]))
    if draw(st.booleans()):
        svc["depends_on"] = draw(st.sampled_from([["db"], {"db": {"condition": "service_healthy"}}, ["nope"]]))
    if draw(st.booleans()):
        svc["healthcheck"] = draw(st.sampled_from([{"test": "curl -f http://localhost/"}, 5, {"test": 5}]))
    return svc


@st.composite
def compose_projects(draw) -> Project:
    marker = draw(markers)
    names = draw(st.lists(compose_service_names, min_size=1, max_size=4, unique=True))
    doc: dict[str, Any] = {"services": {n: draw(compose_service(marker)) for n in names}}
    if draw(st.booleans()):
        doc["volumes"] = {"data": {}}
    if draw(st.booleans()):
        doc["secrets"] = {"db_password": {"file": "./db_password.txt"}}
        for svc in doc["services"].values():
            svc["secrets"] = ["db_password"]
    doc = draw(mutated(doc))
    files = {
        "compose.yaml": draw(yaml_text(doc)),
        ".env": f"DB_PASSWORD={marker}\nAPI_TOKEN={marker}\nMYSQL_ROOT_PASSWORD={marker}\nLOG_LEVEL=debug\n".encode(),
        "app.env": f"SECRET_KEY={marker}\nMODE=prod\n".encode(),
        "db_password.txt": marker.encode(),
        "conf/app.conf": b"a = 1\n",
    }
    if draw(st.booleans()):
        files[".env"] = draw(
            st.sampled_from(
                [
                    f"DB_PASSWORD: {marker}\n".encode(),  # a colon for '='
                    f"DB_PASSWORD='{marker}\n".encode(),  # unbalanced quote
                    b"\xff\xfe=\n",
                ]
            )
        )
    specials = {}
    what = draw(st.sampled_from(["none"] * 6 + ["conf/pipe", "app.env", "db_password.txt", "conf/app.conf"]))
    if what != "none":
        files.pop(what, None)
        specials[what] = "fifo" if what != "conf/app.conf" or draw(st.booleans()) else "dir"
    argv = ["import", "compose", "compose.yaml", "-o", "out"]
    if draw(st.booleans()):
        argv += ["--report", "json"]
    out_setup = draw(st.sampled_from(["none"] * 4 + ["user-file", "symlink-out"]))
    return Project("import", argv, files, {}, [marker], out_setup=out_setup, specials=specials)


# ---------------------------------------------------------------- Kubernetes manifests


def _deployment(name: str, marker: str, kind: str = "Deployment") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": "ghcr.io/acme/api:1.0",
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "env": [
                                {"name": "DB_PASSWORD", "value": marker},
                                {
                                    "name": "API_TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}},
                                },
                            ],
                            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                        }
                    ]
                },
            },
        },
    }


def _classifies_secret(docs: Any, path: tuple) -> bool:
    """A field that decides whether a planted value is secret: a Secret's kind/apiVersion, an env var's name."""
    if not path or not isinstance(docs, list) or not isinstance(docs[path[0]], dict):
        return False
    is_secret = docs[path[0]].get("kind") == "Secret"
    return (len(path) == 2 and path[1] in ("kind", "apiVersion") and is_secret) or (
        path[-1] == "name" and "env" in path
    )


@st.composite
def manifest_projects(draw) -> Project:
    marker = draw(markers)
    docs: list[Any] = []
    for name in draw(st.lists(st.sampled_from(["web", "api", "Web", "a/b", "x" * 300]), min_size=1, max_size=3)):
        docs.append(_deployment(name, marker, draw(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet"]))))
    docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "stringData": {"token": marker},
            "data": {"password": base64.b64encode(marker.encode()).decode()},
        }
    )
    if draw(st.booleans()):
        docs.append(
            {
                "apiVersion": "example.com/v1",
                "kind": draw(st.sampled_from(["Widget", "../../../outside/x", "@ROOT@/abs-x", "a/../../b", ""])),
                "metadata": {"name": "w"},
            }
        )
    if draw(st.booleans()):
        docs.append(draw(st.sampled_from([5, "text", None, [], {"kind": "List", "items": 5}, {"items": [5]}])))
    docs = draw(mutated(docs, max_mutations=4, protect=_classifies_secret))
    body = b"---\n".join(draw(yaml_text(d)) for d in (docs if isinstance(docs, list) else [docs]))
    how = draw(st.sampled_from(["import", "import", "check"]))
    argv = ["import", "manifests", "in", "-o", "out"] if how == "import" else ["check", "in", "-o", "json"]
    out_setup = draw(st.sampled_from(["none"] * 4 + ["symlink-out"])) if how == "import" else "none"
    specials = {"in/pipe.yaml": "fifo"} if draw(st.integers(0, 5)) == 0 else {}
    return Project(argv[0], argv, {"in/app.yaml": body}, {}, [marker], out_setup=out_setup, specials=specials)


# ---------------------------------------------------------------- systemd units and Procfiles

unit_values = st.one_of(
    st.sampled_from(["simple", "oneshot", "forking", "-", "", "'unbalanced", '"unbalanced', "a\\", "512M", "150%"]),
    st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s),
)
unit_keys = st.sampled_from(
    [
        "Type",
        "ExecStart",
        "ExecStartPre",
        "User",
        "WorkingDirectory",
        "Environment",
        "EnvironmentFile",
        "MemoryMax",
        "CPUQuota",
        "StateDirectory",
        "After",
        "Requires",
        "Restart",
    ]
)


@st.composite
def systemd_projects(draw) -> Project:
    marker = draw(markers)
    files: dict[str, bytes] = {}
    units = []
    unit_names = st.sampled_from(["web", "worker", "web@", "WEB", "a_b", "a-b", "db"])
    for name in draw(st.lists(unit_names, min_size=1, max_size=3, unique=True)):
        lines = ["[Unit]", f"Description={name}", "", "[Service]"]
        lines.append(
            draw(
                st.sampled_from(
                    [
                        f"ExecStart=/usr/bin/app --db-password={marker} --port 8080",
                        f'Environment="DB_PASSWORD={marker}" "MODE=prod"',
                        f"Environment=API_TOKEN={marker}",
                        "EnvironmentFile=/etc/default/app",
                    ]
                )
            )
        )
        if not any(line.startswith("ExecStart=") for line in lines):
            lines.append("ExecStart=/usr/bin/app --bind 0.0.0.0:8000")
        for key, value in draw(st.lists(st.tuples(unit_keys, unit_values), max_size=4)):
            lines.append(f"{key}={value}")
        if draw(st.integers(0, 9)) == 0:
            lines.append("ExecStart=/usr/bin/app \\")  # continuation to the end of the file
        text = "\n".join(lines) + "\n"
        data = text.encode("utf-8", "surrogatepass")
        if draw(st.integers(0, 9)) == 0:
            data += b"Description=\xff\xfe\n"
        files[f"{name}.service"] = data
        units.append(f"{name}.service")
    files["app"] = f"SECRET_KEY={marker}\n".encode()  # the VM's /etc/default/app, copied beside the units
    argv = ["import", "systemd", *units, "-o", "out"]
    return Project("import", argv, files, {}, [marker])


@st.composite
def procfile_projects(draw) -> Project:
    marker = draw(markers)
    names = draw(
        st.lists(st.sampled_from(["web", "worker", "release", "WEB", "a_b", "a-b", "", "x" * 80, "we b"]), max_size=4)
    )
    lines = []
    for n in names:
        command = draw(
            st.sampled_from(
                [
                    "bundle exec puma -p $PORT",
                    f"app --password={marker}",
                    f"app --api-token {marker}",
                    "sh -c 'unbalanced",
                    "",
                    "$(rm -rf /)",
                ]
            )
        )
        lines.append(f"{n}: {command}")
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["no colon here", ":", "web:", "# comment", "\t"])))
    data = "\n".join(lines).encode()
    if draw(st.integers(0, 9)) == 0:
        data += b"\nweb: \xff\n"
    files = {"Procfile": data, ".env": f"SECRET_KEY={marker}\nDATABASE_URL=postgres://u:{marker}@db/x\n".encode()}
    argv = ["import", "procfile", "Procfile", "-o", "out"]
    specials = {}
    if draw(st.booleans()):
        argv += ["--env-file", ".env"]
        if draw(st.integers(0, 5)) == 0:
            del files[".env"]
            specials[".env"] = draw(st.sampled_from(["fifo", "dir"]))
    return Project("import", argv, files, {}, [marker], specials=specials)


# ---------------------------------------------------------------- raw bytes to every reader

COMMANDS_ON_A_FILE = {
    "render": ["render", "-f", "input", "-s", "dev"],
    "check": ["check", "input", "-o", "json"],
    "check-stdin": ["check", "-", "-o", "json"],
    "import-compose": ["import", "compose", "input", "-o", "out"],
    "import-manifests": ["import", "manifests", "input", "-o", "out"],
    "import-systemd": ["import", "systemd", "input", "-o", "out"],
    "import-procfile": ["import", "procfile", "input", "-o", "out"],
    "check-dockerfile": ["check", "--dockerfile", "input"],
}


@st.composite
def raw_projects(draw) -> Project:
    data = draw(
        st.one_of(
            st.binary(max_size=300),
            st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
            st.text(alphabet=":-[]{}&*!|>'\"%@`#,? \n\ta1", max_size=200).map(str.encode),
        )
    )
    which = draw(st.sampled_from(sorted(COMMANDS_ON_A_FILE)))
    argv = COMMANDS_ON_A_FILE[which]
    stdin = data if which == "check-stdin" else b""
    return Project(argv[0], list(argv), {"input": data}, {}, [], stdin=stdin)
