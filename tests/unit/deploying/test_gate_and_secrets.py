"""The policy gate inside the Deploy action; which commands ask for secret values, and how."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane.actions import desired
from shiplane.actions.deploy import Deploy, Options
from shiplane.actions.gate import Policy, PolicyRefused
from shiplane.actions.target import Target
from shiplane.cli import main
from shiplane.events import result


class NoCluster:
    """A Kube stand-in that records every call: the gate must refuse before the first one."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls.append(name)
            raise RuntimeError(f"the cluster was touched: {name}")

        return call


def latest_web() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:latest"}]},
            },
        },
    }


def test_a_library_caller_of_deploy_cannot_skip_the_gate() -> None:
    kube = NoCluster()
    action = Deploy(Target(kube, "shop", "dev", "shop"), [latest_web()])  # no policy given: the defaults gate
    seen = []
    with pytest.raises(PolicyRefused) as refused:
        result(action.run(), seen.append)
    assert [type(e).__name__ for e in seen] == ["Failed"]  # announced, then raised
    assert refused.value.exit_code == 5
    assert "policy (baseline) refuses this deploy" in refused.value.message
    assert "image-tag-latest" in refused.value.message
    with pytest.raises(PolicyRefused):
        action.preview()  # the dry-run refuses as the real run would
    assert kube.calls == []  # not even the namespace was created


def test_the_gate_settings_come_from_the_options_and_overrides_are_kept_for_the_record() -> None:
    kube = NoCluster()
    reason = "upstream publishes only :latest"
    lenient = Policy(overrides=("image-tag-latest=" + reason, "resources-memory-limit=" + reason))
    action = Deploy(
        Target(kube, "shop", "dev", "shop"), [latest_web()], options=Options(policy=lenient, preflight=False)
    )
    with pytest.raises(RuntimeError, match="the cluster was touched: apply"):
        next(action.run())  # past the gate: the first write is the namespace
    assert {o["rule"] for o in action.overrides} >= {"image-tag-latest", "resources-memory-limit"}
    assert all(o["reason"] == reason for o in action.overrides)
    off = Deploy(
        Target(NoCluster(), "shop", "dev", "shop"),
        [latest_web()],
        options=Options(policy=Policy(fail_on="never"), preflight=False),
    )
    with pytest.raises(RuntimeError, match="touched"):
        next(off.run())


SPEC = """\
app: {name: demo}
defaults:
  resources:
    limits: {cpu: 100m, memory: 64Mi}
secrets:
  token: {fromEnv: DEMO_TOKEN}
  db-password: {fromEnv: DEMO_DB_PASSWORD}
  tls-key: {fromFile: keys/tls.key}
services:
  web:
    image: nginx:1.27
    env:
      TOKEN: {secret: token}
      DB_PASSWORD: {secret: db-password}
    files:
      /etc/tls/key.pem: {secret: tls-key}
stages:
  dev: {namespace: demo-dev}
  test: {namespace: demo-test}
"""


@pytest.fixture
def no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("DEMO_TOKEN", "DEMO_DB_PASSWORD", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "shiplane.yaml"
    path.write_text(SPEC)
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["render", "--stage", "dev"],
        ["plan", "--stage", "dev"],
        ["deploy", "--stage", "dev"],
        ["deploy", "--stage", "dev", "--dry-run"],
        ["promote", "--from", "dev", "--to", "test"],
    ],
)
def test_commands_that_render_secrets_name_every_missing_value_at_once(no_secrets, capsys, args) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "secret 'token': environment variable DEMO_TOKEN is not set" in err
    assert "secret 'db-password': environment variable DEMO_DB_PASSWORD is not set" in err
    assert "secret 'tls-key': keys/tls.key: no such file" in err
    assert "Traceback" not in err


def test_the_stage_structure_reads_no_secret_value(no_secrets) -> None:
    where = desired.locate([no_secrets], "dev")
    assert (where.app, where.namespace, where.context) == ("demo", "demo-dev", None)
    objects = desired.structure([no_secrets], "dev")
    secrets = [o for o in objects if o["kind"] == "Secret"]
    assert {o["metadata"]["labels"]["shiplane.io/secret"] for o in secrets} == {"token", "db-password", "tls-key"}
    assert all(o["data"] == {"value": ""} for o in secrets)  # placeholders, never read


def ref_obj(kind: str, name: str, api: str = "v1", secret: str | None = None) -> dict:
    labels = {"shiplane.io/secret": secret} if secret else {}
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "shop", "labels": labels}}


def test_prune_only_never_guesses_about_secrets_whose_name_depends_on_an_unread_value() -> None:
    from types import SimpleNamespace

    from shiplane.actions import inspect
    from shiplane.releases import Outcome, Release
    from shiplane.releases.store import MemoryStore

    store = MemoryStore()
    web, cache = ref_obj("Deployment", "web", "apps/v1"), ref_obj("Deployment", "cache", "apps/v1")
    first, second, third = (ref_obj("Secret", f"api-key-{h}") for h in ("aaaa", "bbbb", "dddd"))
    token = ref_obj("Secret", "old-token-cccc")
    retained = [
        {"apiVersion": "v1", "kind": "Secret", "name": o["metadata"]["name"], "namespace": "shop"}
        for o in (first, token)
    ]
    store.put(Release("shop", "dev", 1, 0.0, outcome=Outcome.SUPERSEDED, objects=[web, cache, first, token]))
    store.put(Release("shop", "dev", 2, 0.0, outcome=Outcome.DEPLOYED, objects=[web, cache, second], retained=retained))
    store.put(Release("shop", "dev", 3, 0.0, outcome=Outcome.FAILED, objects=[web, cache, third]))
    # The spec now: web only, still using the api-key secret (its real name unknown: a placeholder).
    structure = [web, ref_obj("Secret", "api-key-ffff", secret="api-key")]
    found = inspect.prune_only(SimpleNamespace(store=lambda: store), structure)
    pruned = {(r["kind"], r["name"]) for r in found.prune}
    assert ("Deployment", "cache") in pruned  # dropped from the spec
    assert ("Secret", "old-token-cccc") in pruned  # a spec secret no longer used
    undecided = {r["name"] for r, why in found.kept if why == inspect.UNDECIDED}
    assert undecided == {"api-key-aaaa", "api-key-dddd"}  # pruned or not by the deploy, by the unread value
    assert {r["name"] for r in found.retain} == {"api-key-bbbb"}  # the last success's: kept for a rollback
