"""The 21 real-world compose inputs (copies under tests/data/realworld) and what their import must say.

Shared by the golden unit test and the deploy integration test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from shiplane.importing import Imported, import_compose, writing

REALWORLD = Path(__file__).parents[2] / "data" / "realworld"
GOLDEN = Path(__file__).parents[2] / "data" / "golden"
SAMPLES = {
    **{p.parent.name: p for p in sorted((REALWORLD / "compose").glob("*/compose.y*ml"))},
    "example-voting-app": REALWORLD / "example-voting-app" / "docker-compose.yml",
}
# Secrets whose files the samples do not ship: the import reads them from these variables.
SECRET_ENV = {"DB_PASSWORD": "test-only-db-password"}

# Where a sample cannot run faithfully, the report must say why (one entry per reason).
UNFAITHFUL = {
    "nginx-golang": [
        "proxy/nginx.conf does not exist next to the compose file",
        "proxy uses it, but no port is known",
    ],
    "nginx-golang-mysql": [
        "proxy/nginx.conf does not exist next to the compose file",
        "proxy uses it, but no port is known",
    ],
    "nginx-wsgi-flask": ["nginx/default.conf does not exist next to the compose file"],
    "wasmedge-mysql-nginx": [
        "frontend does not exist next to the compose file",
        "the image mariadb keeps its data in /var/lib/mysql, which is on no volume",
        "a RuntimeClass named wasmedge",
    ],
    "wireguard": [
        "host path /lib/modules → /lib/modules: needs that machine's /lib/modules",
        "host path /usr/src → /usr/src",
        "state kept on the host; now a persistent volume 'config'",
        "several processes in one container: linuxserver images run an s6-overlay init",
        "sysctls net.ipv4.conf.all.src_valid_mark → sysctls",
        "published port(s) 51820:51820/udp → serviceType LoadBalancer",
    ],
    "flask-redis": ["the image redislabs/redismod keeps its data in /data, which is on no volume"],
    "nginx-nodejs-redis": ["the image redislabs/redismod keeps its data in /data, which is on no volume"],
    "example-voting-app": ["the image redis keeps its data in /data, which is on no volume"],
}


def import_sample(name: str, tmp: Path) -> tuple[Imported, Path]:
    """Copy the sample (so nothing is written into the repo), import it, write the spec next to it."""
    src = SAMPLES[name]
    work = tmp / name
    shutil.copytree(src.parent, work)
    imported = import_compose([work / src.name], out_dir=work, environ={})
    written = writing.write(work, imported.spec, imported.report, imported.secret_values)
    return imported, written
