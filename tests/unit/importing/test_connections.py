"""Least-privilege connections inferred from configuration, and a report that stays short at any size."""

from __future__ import annotations

import time
from pathlib import Path

from shiplane import rendering, spec
from shiplane.importing import import_compose, writing
from shiplane.importing.connections import references
from shiplane.spec.inputs import gather

HOSTS = {n: n for n in ("db", "cache", "api", "productcatalogservice", "web")}


def test_references_read_urls_dsns_host_ports_and_bare_names() -> None:
    found = references(
        [
            ("env DATABASE_URL", "mysql://user:s3cr3t-Pass@db:3306/shop"),
            ("env CACHE", "redis://cache"),
            ("env UPSTREAM", "http://api:8080/x"),
            ("env PRODUCT_CATALOG_SERVICE_ADDR", "productcatalogservice:3550"),
            ("env NOT_A_PEER", "webhook-url"),
        ],
        HOSTS,
    )
    assert found == {
        "db": "env DATABASE_URL → db:3306",
        "cache": "env CACHE → cache",
        "api": "env UPSTREAM → api:8080",
        "productcatalogservice": "env PRODUCT_CATALOG_SERVICE_ADDR → productcatalogservice:3550",
    }
    # userinfo without a scheme: the host is the evidence, the password never is
    assert references([("env DB_ADDR", "admin:s3cretPW@db:5432")], HOSTS) == {"db": "env DB_ADDR → db:5432"}
    assert references([("env REDIS_HOST", "cache"), ("command", "--db-host=db.internal")], HOSTS) == {
        "cache": "env REDIS_HOST → cache",
        "db": "command → db.internal",
    }


COMPOSE = """\
services:
  web:
    image: example/web:1.0
    ports: ["8080:8080"]
    environment:
      DATABASE_URL: mysql://shop:s3cr3t-Pass-9@db:3306/shop
      CACHE_URL: redis://cache
  worker:
    image: example/worker:1.0
    networks: [back]
  db:
    image: mariadb:11
    networks: [default, back]
  cache:
    image: redis:7
  other:
    image: example/other:1.0
    networks: [elsewhere]
    environment: {DB: db:3306}
networks: {back: {}, elsewhere: {}}
"""


def test_compose_connections_least_privilege_with_evidence_and_networks_bound_it(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={})
    services = imported.spec["services"]
    assert services["web"]["connectsTo"] == ["db", "cache"]
    text = imported.report.to_text()
    assert "connects to db (env DATABASE_URL → db:3306); cache (env CACHE_URL → cache)" in text
    assert "s3cr3t" not in text and "s3cr3t" not in imported.report.to_json()
    assert "shop:" not in text  # the DSN's user stays out too
    # worker names nobody: the broad rule for its network, one rule, with a warning
    assert services["worker"]["connectsTo"] == [{"network": "back"}]
    assert "back" in services["db"]["networks"]
    assert "WARNING: worker (1 service(s)) share network back and no configuration names a peer" in text
    # other names db:3306, but they share no network: compose would not let it connect either
    assert "connectsTo" not in services["other"]
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, {}))
    policies = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "NetworkPolicy"}
    assert policies["worker"]["egress"] == [
        {"to": [{"podSelector": {"matchLabels": {"network.shiplane.io/back": "true"}}}]}
    ]
    db_from = [peer for rule in policies["db"]["ingress"] for peer in rule["from"]]
    assert {"podSelector": {"matchLabels": {"reaches.shiplane.io/back": "true"}}} in db_from
    db = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "db")
    assert db["spec"]["template"]["metadata"]["labels"]["network.shiplane.io/back"] == "true"
    assert "network.shiplane.io/back" not in db["spec"]["selector"]["matchLabels"]


def _many(path: Path, n: int) -> None:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  svc{i:03d}:", f"    image: example/app:1.{i}"]
        if i % 3 == 0:
            lines.append(f"    ports: ['{10000 + i}:80']")
    path.write_text("\n".join(lines) + "\n")


def test_a_200_service_report_fits_on_a_screen_or_two(tmp_path: Path) -> None:
    _many(tmp_path / "compose.yaml", 200)
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={}, project_name="big")
    text = imported.report.to_text()
    lines = text.splitlines()
    assert len(lines) <= 60, text
    assert max(len(line) for line in lines) <= 400
    assert "WARNING: svc000…svc199 (200 service(s)) share network default and no configuration names a peer: " in text
    assert "they may connect to the 67 service(s) with ports on it (svc000, svc003, svc006, … svc198)" in text
    assert "svc001, svc002, svc004, … svc199 (133 services, <name> below is each one's name):" in text
    # the JSON keeps every detail
    data = imported.report.to_json()
    assert data.count('"network": "default"') == 200


def test_one_big_network_is_linear(tmp_path: Path) -> None:
    """1,000 services on one network: one rule per network, not a million pairs (25 s and 1.3 GB before)."""
    _many(tmp_path / "compose.yaml", 1000)
    start = time.monotonic()
    imported = import_compose([tmp_path / "compose.yaml"], out_dir=tmp_path, environ={}, project_name="big")
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    spec.load([written])
    elapsed = time.monotonic() - start
    assert elapsed < 15, f"{elapsed:.1f}s"
    assert all(s["connectsTo"] == [{"network": "default"}] for s in imported.spec["services"].values())
