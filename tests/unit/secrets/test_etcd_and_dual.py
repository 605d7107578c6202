"""Pure parts of etcd sources and dual rotation: prefix ranges, changed keys, config references,
offline placeholders, the credential form and phase order."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane import rendering, spec
from shiplane.errors import InputError
from shiplane.secrets import dual, etcd
from shiplane.spec.inputs import gather

SPEC = """
app: {name: tuned}
defaults: {resources: {limits: {cpu: 100m, memory: 64Mi}}}
config:
  settings: {fromEtcd: {endpoints: ["http://127.0.0.1:2379"], prefix: /tuned/}}
  motd: {fromEtcd: {endpoints: ["http://127.0.0.1:2379"], key: /motd}}
services:
  web:
    image: nginx:1.27
    env: {FEATURE: {config: settings/feature}, MOTD: {config: motd}, PLAIN: x}
stages: {dev: {namespace: tuned-dev}}
"""


def stage_of(tmp_path: Path, text: str = SPEC):
    (tmp_path / "shiplane.yaml").write_text(text)
    return spec.load([tmp_path / "shiplane.yaml"]).stage("dev")


def test_prefix_range_end() -> None:
    assert etcd._range_end(b"/tuned/") == b"/tuned0"
    assert etcd._range_end(b"a\xff") == b"b"
    assert etcd._range_end(b"\xff\xff") == b"\0"


def test_changes_between_records() -> None:
    before = {"config.s": {"revision": 5, "keys": {"/a": {"mod": 2, "digest": "x"}, "/b": {"mod": 3, "digest": "y"}}}}
    now = {"config.s": {"revision": 9, "keys": {"/a": {"mod": 8, "digest": "z"}, "/c": {"mod": 9, "digest": "w"}}}}
    assert [(c["key"], c["change"]) for c in etcd.changes(before, now)] == [
        ("/a", "changed"),
        ("/b", "removed"),
        ("/c", "added"),
    ]
    assert etcd.changes(now, now) == []


def test_config_references_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        stage_of(
            tmp_path,
            SPEC.replace("{config: settings/feature}", "{config: settings}").replace(
                "{config: motd}", "{config: motd/x}"
            ),
        )
    assert "is a prefix: name one key under it" in str(err.value)
    assert "is one key: refer to it as 'motd'" in str(err.value)
    with pytest.raises(InputError, match="no config 'setings'"):
        stage_of(tmp_path, SPEC.replace("settings/feature", "setings/feature"))


def test_config_values_render_into_the_env_configmap_and_placeholders_offline(tmp_path: Path) -> None:
    stage = stage_of(tmp_path)
    cm = lambda objs: next(o for o in objs if o["kind"] == "ConfigMap")["data"]  # noqa: E731
    values = {"settings/feature": "on", "motd": "hello"}
    assert cm(rendering.render(stage, gather(stage, config=values))) == {"FEATURE": "on", "MOTD": "hello", "PLAIN": "x"}
    offline = cm(rendering.render(stage, gather(stage)))
    assert offline["FEATURE"] == "<from etcd: settings/feature>"


def test_dual_credentials_alternate_roles() -> None:
    value = dual.credential("shop_blue", b"pw-1")
    assert (dual.user_of(value), dual.password_of(value)) == ("shop_blue", b"pw-1")
    assert dual.other(["shop_blue", "shop_green"], "shop_blue") == "shop_green"
    assert dual.other(["shop_blue", "shop_green"], "shop_green") == "shop_blue"
    assert dual.other(["shop_blue", "shop_green"], None) == "shop_blue"
    progress = dual.Progress("prepare", 1, 2, "shop_blue", "shop_green", "manual", 0.0)
    assert [progress.next().phase, progress.next().next().phase, progress.next().next().next().phase] == [
        "rollout",
        "verify",
        "retire",
    ]
    assert dual.Progress.of({**progress.to_json(), "from_a_newer_shiplane": 1}) == progress


def test_rotation_jobs_get_network_policies_through_the_default_deny(tmp_path: Path) -> None:
    from shiplane.rendering import networking

    text = """
app: {name: ledger}
defaults: {resources: {limits: {cpu: 100m, memory: 64Mi}}}
secrets:
  db:
    generate: {kind: password}
    rotation:
      preflight: {image: postgres:16, command: [psql], connectsTo: [pg, {cidr: 10.1.0.0/16, ports: [5432]}]}
services:
  pg: {image: postgres:16, ports: {pg: 5432}}
  api: {image: nginx:1.27, env: {DB: {secret: db}}}
stages: {dev: {namespace: ledger-dev}}
"""
    stage = stage_of(tmp_path, text)
    pod = {"shiplane.io/rotation-run": "ledger-preflight-db-abc123"}
    conns = stage.doc.secrets["db"].rotation.preflight.connects_to
    out, into = networking.job_policies(stage, "ledger-dev", "ledger-preflight-db-abc123", pod, conns)
    assert out["spec"]["podSelector"] == {"matchLabels": pod}
    assert out["spec"]["egress"][1] == {
        "to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    }
    assert into["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "pg"
    assert into["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": pod}}]
    with pytest.raises(InputError, match="no service 'pgx'"):
        stage_of(tmp_path, text.replace("connectsTo: [pg,", "connectsTo: [pgx,"))


def test_unreachable_endpoint_error_hides_a_url_password() -> None:
    from shiplane.errors import EnvironmentProblem
    from shiplane.spec.app import FromEtcd

    source = FromEtcd(endpoints=["http://root:s3cretpw@127.0.0.1:1"], key="/motd", timeout=2)
    with pytest.raises(EnvironmentProblem) as err:
        etcd.fetch(source, "config.motd.fromEtcd", Path("."))
    assert "127.0.0.1:1" in str(err.value)
    assert "s3cretpw" not in str(err.value)


def test_missing_tls_file_is_an_input_error_naming_the_field(tmp_path: Path) -> None:
    from shiplane.spec.app import EtcdTls, FromEtcd

    source = FromEtcd(endpoints=["https://127.0.0.1:1"], key="/motd", tls=EtcdTls(ca="certs/ca.pem"), timeout=2)
    with pytest.raises(InputError, match=r"config.motd.fromEtcd.tls.ca: .*certs/ca.pem.* not found"):
        etcd.fetch(source, "config.motd.fromEtcd", tmp_path)


def test_an_endpoint_that_is_not_etcd_is_reported_not_a_traceback() -> None:
    """Another service on the endpoint's port answers JSON that is no object: a clear exit-3 error."""
    import http.server
    import threading

    from shiplane.errors import EnvironmentProblem
    from shiplane.spec.app import FromEtcd

    class NotEtcd(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b'["a", "list"]'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotEtcd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = FromEtcd(endpoints=[f"http://127.0.0.1:{server.server_port}"], key="/motd", timeout=2)
        with pytest.raises(EnvironmentProblem, match="not an etcd v3 JSON gateway"):
            etcd.fetch(source, "config.motd.fromEtcd", Path("."))
    finally:
        server.shutdown()


def test_etcd_value_digests_are_keyed_and_an_old_plain_digest_is_no_change() -> None:
    import hashlib

    key = b"k" * 32
    entry = etcd._entry(b"hunter2", 7, key)
    assert entry["mod"] == 7 and entry["digest"].startswith("hmac-sha256:")
    assert hashlib.sha256(b"hunter2").hexdigest()[:16] not in entry["digest"]
    assert etcd._entry(b"hunter2", 7, None) == {"mod": 7}  # no key: the mod revision alone
    source = "secrets.db"
    old = hashlib.sha256(b"hunter2").hexdigest()[:16]
    plain = {source: {"revision": 7, "keys": {"/db": {"mod": 7, "digest": old}}}}
    keyed = {source: {"revision": 9, "keys": {"/db": entry}}}
    assert etcd.changes(plain, keyed) == []  # same mod revision: the change of digest form is no change
    other = {source: {"revision": 9, "keys": {"/db": etcd._entry(b"hunter3", 7, key)}}}
    assert [c["change"] for c in etcd.changes(keyed, other)] == ["changed"]
