"""Incremental deploys on the local control plane: only what changed (or drifted) is sent."""

from __future__ import annotations

import pytest

from shiplane.actions import desired, inspect
from shiplane.actions.deploy import Deploy, Options
from shiplane.events import Applied, Note, StatusChanged
from shiplane.kube import Ref
from tests.integration.deploying import SECRET_VALUE, cli, drain, keyed, spec, target, write

pytestmark = pytest.mark.integration

API = {"api": {"image": "nginx:1.27", "ports": {"http": 8080}}}


def app(tmp_path, namespace, *, web_image="nginx:1.27", name="shiplane.yaml"):
    data = spec(namespace, extra_services=API)
    data["services"]["web"]["image"] = web_image  # only the image: app.version (a label on all) stays
    return write(tmp_path, data, name)


def live(kube, objects) -> dict[Ref, dict]:
    return {Ref.of(o): kube.get(Ref.of(o)) for o in objects}


def spec_side(obj: dict) -> dict:
    """An object without what controllers write through the status subresource."""
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    meta["managedFields"] = [e for e in meta.get("managedFields", []) if e.get("subresource") != "status"]
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def written(before: dict[Ref, dict], after: dict[Ref, dict]) -> set[Ref]:
    """Objects whose resourceVersion moved for anything but a controller's status update
    (a PodDisruptionBudget's status follows the pods of the Deployment that changed)."""
    moved = {r for r in before if after[r]["metadata"]["resourceVersion"] != before[r]["metadata"]["resourceVersion"]}
    return {r for r in moved if spec_side(after[r]) != spec_side(before[r])}


def patches(kube, fn) -> list[str]:
    """The PATCH requests (applies, dry-run or not) `fn` makes, as `resource/name?query`."""
    rest = kube.api_client.rest_client
    original, seen = rest.request, []

    def counting(method, url, *args, **kwargs):
        if method == "PATCH":
            where = url.split("/namespaces/")[-1].split("/", 1)[-1]
            seen.append(where.split("?")[0] + ("?dryRun=All" if "dryRun=All" in where else ""))
        return original(method, url, *args, **kwargs)

    rest.request = counting
    try:
        fn()
    finally:
        rest.request = original
    return seen


def load(kube, namespace, path) -> list[dict]:
    """The stage's objects as the CLI renders them (Secrets named with the stage's digest key)."""
    return desired.load([path], "dev", digest_key=keyed(kube, namespace)).objects


def deploy(kube, namespace, path, **options):
    seen: list = []
    release = drain(
        Deploy(target(kube, namespace), load(kube, namespace, path), options=Options(**options)).run(),
        seen.append,
    )
    return release, seen


def test_a_one_image_redeploy_applies_only_that_deployment(local_cluster, namespace, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube, kc = local_cluster.kube, local_cluster.kubeconfig
    first, seen = deploy(kube, namespace, app(tmp_path, namespace))
    objects = desired.load([app(tmp_path, namespace)], "dev", digest_key=keyed(kube, namespace)).objects
    assert len([e for e in seen if isinstance(e, Applied)]) == len(objects)  # the first deploy sends everything
    web = Ref("apps/v1", "Deployment", "web", namespace)
    before = live(kube, objects)

    changed = app(tmp_path, namespace, web_image="nginx:1.28", name="v2.yaml")
    second, seen = deploy(kube, namespace, changed)
    assert [(e.ref, e.action) for e in seen if isinstance(e, Applied)] == [(str(web), "update")]
    assert {e.ref for e in seen if isinstance(e, StatusChanged)} == {str(web)}  # only what changed is waited for
    after = live(kube, objects)
    assert written(before, after) == {web}
    assert kube.get(web)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    notes = [e.message for e in seen if isinstance(e, Note)]
    assert (
        f"{len(objects) - 1} of {len(objects)} object(s) unchanged since the last successful release: not sent again"
        in notes
    )
    # the record still lists every object and what shiplane owns on each, for the next comparison
    assert len(second.objects) == len(objects) and set(second.managed) == set(first.managed)

    # Nothing changed: nothing is sent; `plan` counts the unchanged objects instead of listing them.
    _, seen = deploy(kube, namespace, changed)
    assert [e for e in seen if isinstance(e, Applied)] == []
    assert written(after, live(kube, objects)) == set()
    quiet = cli("plan", "-f", str(changed), "--stage", "dev", kubeconfig=kc)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert f"{len(objects)} object(s) unchanged (--show-unchanged lists them)" in quiet.stdout
    assert "(unchanged)" not in quiet.stdout
    listed = cli("plan", "-f", str(changed), "--stage", "dev", "--show-unchanged", kubeconfig=kc)
    assert f"= Deployment {namespace}/api (unchanged)" in listed.stdout
    # and a change shows as before: only that object, with its diff
    v3 = app(tmp_path, namespace, web_image="nginx:1.29", name="v3.yaml")
    planned = cli("plan", "-f", str(v3), "--stage", "dev", kubeconfig=kc)
    assert planned.returncode == 1
    assert "~ spec.template.spec.containers[0].image: nginx:1.28 -> nginx:1.29" in planned.stdout
    assert f"{len(objects) - 1} object(s) unchanged" in planned.stdout
    # ... and only that object is dry-run on the server (no request per unchanged object)
    sent = patches(kube, lambda: inspect.plan(target(kube, namespace), load(kube, namespace, v3)))
    assert sent == ["deployments/web?dryRun=All"]


def test_an_edit_by_another_manager_to_a_field_shiplane_owns_is_sent_again(
    local_cluster, namespace, tmp_path, monkeypatch
):
    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube = local_cluster.kube
    path = app(tmp_path, namespace)
    deploy(kube, namespace, path)
    web = Ref("apps/v1", "Deployment", "web", namespace)
    # As `kubectl edit` does: an update (not an apply) under its own field manager.
    hotfix = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:hotfix"}]}}}}
    kube.resource("apps/v1", "Deployment").patch(
        body=hotfix,
        name="web",
        namespace=namespace,
        content_type="application/strategic-merge-patch+json",
        field_manager="kubectl-edit",
    )
    # The spec did not change, yet web is sent: kubectl-edit now owns its image.
    _, seen = deploy(kube, namespace, path, force_conflicts=True)
    assert [e.ref for e in seen if isinstance(e, Applied)] == [str(web)]
    assert any("kubectl-edit" in e.message and str(web) in e.message for e in seen if isinstance(e, Note))
    assert kube.get(web)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    # shiplane owns the field again, so the next deploy sends nothing
    _, seen = deploy(kube, namespace, path)
    assert [e for e in seen if isinstance(e, Applied)] == []


def test_a_rollback_sends_only_what_differs_from_the_running_release(local_cluster, namespace, tmp_path, monkeypatch):
    from shiplane.actions.rollback import Rollback

    monkeypatch.setenv("SHOP_API_KEY", SECRET_VALUE)
    kube = local_cluster.kube
    deploy(kube, namespace, app(tmp_path, namespace))
    deploy(kube, namespace, app(tmp_path, namespace, web_image="nginx:1.28", name="v2.yaml"))
    web = Ref("apps/v1", "Deployment", "web", namespace)
    seen: list = []
    rolled = drain(Rollback(target(kube, namespace)).run(), seen.append)
    assert rolled.rollback_of == 1
    assert [e.ref for e in seen if isinstance(e, Applied)] == [str(web)]
    assert kube.get(web)["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    # The release the rollback recorded is a full baseline (its kept Secrets included): deploying
    # what now runs sends nothing.
    _, seen = deploy(kube, namespace, app(tmp_path, namespace))
    assert [e for e in seen if isinstance(e, Applied)] == []
