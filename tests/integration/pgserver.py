"""A throwaway PostgreSQL server on loopback (Debian's `postgresql`, outside the cluster), and the
dual-credential rotation Jobs' effect reproduced against it.

kwok runs no containers, so a rotation Job "succeeds" without touching a database; `SqlJobs` runs
the real Job in the cluster and then does what its container would have done (create/enable the
new role with the new password, or disable the old one) on this server."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from shiplane.actions import rotate
from shiplane.secrets import dual

SUPERUSER_PASSWORD = "pg-super-only-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    bindir: Path
    root: Path
    port: int
    as_user: list[str]

    def dsn(self, user: str, password: str, dbname: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(
            host="127.0.0.1", port=self.port, user=user, password=password, dbname=dbname, connect_timeout=5
        )

    def superuser(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn("postgres", SUPERUSER_PASSWORD), autocommit=True)

    def logs_in(self, credential: bytes) -> bool:
        """Whether `user=… password=…` (a secret's value) logs in."""
        user, password = dual.user_of(credential), dual.password_of(credential)
        try:
            with psycopg.connect(self.dsn(user or "", (password or b"").decode())) as conn:
                return conn.execute("select current_user").fetchone()[0] == user
        except psycopg.OperationalError:
            return False

    def set_login(self, user: str, password: bytes) -> None:
        """CREATE or ALTER ROLE … LOGIN PASSWORD: idempotent, as a prepare Job must be."""
        with self.superuser() as conn:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(password.decode())
                )
            )

    def retire(self, user: str) -> None:
        with self.superuser() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(user)))

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Server | None:
    """initdb + pg_ctl start in a temp dir on 127.0.0.1:<free port>; None without PostgreSQL.
    Root cannot run postgres: as root the server runs as the `postgres` user (runuser)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        return None
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="shiplane-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    pwfile = root / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD)
    if as_user:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    run = dict(capture_output=True, text=True, timeout=120, check=True)
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            "postgres",
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
        ],
        **run,
    )
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(root / "data"),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        **run,
    )
    return Server(bindir, root, port, as_user)


class SqlJobs:
    """A `job_runner` for rotations: the real Job in the cluster, then its effect on the server."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __call__(self, target, name, purpose, spec, env, **kwargs):
        yield from rotate.run_job(target, name, purpose, spec, env, **kwargs)
        if purpose == "prepare":
            self.server.set_login(env["NEW_USER"].decode(), env["NEW_PASSWORD"])
        elif purpose == "retire":
            self.server.retire(env["OLD_USER"].decode())
