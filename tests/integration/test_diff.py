"""`shiplane diff` on the local control plane: after a deploy nothing drifted; fields changed by
other field managers are named with the manager; Secrets never show a value."""

from __future__ import annotations

import json

import pytest

from shiplane.kube import Ref
from tests.integration.deploying import SECRET_VALUE, cli, no_secret_in, spec, write
from tests.integration.test_dry_run import bare

pytestmark = pytest.mark.integration


def test_diff_names_fields_other_managers_changed(local_cluster, namespace, tmp_path):
    kube, kc = local_cluster.kube, local_cluster.kubeconfig
    path = write(tmp_path, spec(namespace))
    deployed = cli("deploy", "-f", str(path), "--stage", "dev", "--plain", kubeconfig=kc)
    assert deployed.returncode == 0, deployed.stderr

    clean = bare("diff", "-f", str(path), "--stage", "dev", kubeconfig=kc)  # no secret value needed
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "diff: 0 of" in clean.stdout

    # Another tool takes the replica count (as an HPA would); someone edits the image by hand.
    deployments = kube.resource("apps/v1", "Deployment")
    deployments.server_side_apply(
        body={
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": 3},
        },
        name="web",
        namespace=namespace,
        field_manager="hpa-tuner",
        force_conflicts=True,
    )
    live = kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    container = live["spec"]["template"]["spec"]["containers"][0]["name"]
    deployments.patch(
        body={"spec": {"template": {"spec": {"containers": [{"name": container, "image": "nginx:1.99"}]}}}},
        name="web",
        namespace=namespace,
        content_type="application/strategic-merge-patch+json",
        field_manager="kubectl-edit",
    )
    # ...and adds a label the release never set.
    deployments.patch(
        body={"metadata": {"labels": {"team": "night-shift"}}},
        name="web",
        namespace=namespace,
        content_type="application/merge-patch+json",
        field_manager="kubectl-label",
    )

    # A Secret (immutable: only its metadata can change) gets a label from another tool.
    (secret,) = [
        s for s in kube.list("v1", "Secret", namespace=namespace) if s["metadata"]["name"].startswith("api-key-")
    ]
    kube.resource("v1", "Secret").patch(
        body={"metadata": {"labels": {"rotated-by": "vault"}}},
        name=secret["metadata"]["name"],
        namespace=namespace,
        content_type="application/merge-patch+json",
        field_manager="vault-sync",
    )

    out = bare("diff", "-f", str(path), "--stage", "dev", "-o", "json", kubeconfig=kc)
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    (web,) = [d for d in data["drifted"] if d["kind"] == "Deployment" and d["name"] == "web"]
    (key,) = [d for d in data["drifted"] if d["kind"] == "Secret"]
    assert len(data["drifted"]) == 2  # nothing else drifted
    assert [(f["path"], f["live"], f["managers"][0].split()[0]) for f in key["added"]] == [
        ("metadata.labels.rotated-by", "vault", "vault-sync")
    ]
    assert key["changed"] == []  # its values are what the release applied (compared by digest)
    changed = {f["path"]: f for f in web["changed"]}
    assert changed["spec.replicas"]["applied"] == 2 and changed["spec.replicas"]["live"] == 3
    assert any(m.startswith("hpa-tuner") for m in changed["spec.replicas"]["managers"])
    image = changed["spec.template.spec.containers[0].image"]
    assert image["live"] == "nginx:1.99" and any(m.startswith("kubectl-edit") for m in image["managers"])
    added = {f["path"]: f for f in web["added"]}
    assert added["metadata.labels.team"]["managers"][0].startswith("kubectl-label")

    text = bare("diff", "-f", str(path), "--stage", "dev", kubeconfig=kc)
    assert text.returncode == 1
    assert "~ Deployment" in text.stdout and "hpa-tuner" in text.stdout and "kubectl-edit" in text.stdout
    assert "spec.replicas: 2 -> 3" in text.stdout
    no_secret_in(out.stdout, text.stdout, text.stderr)
    assert SECRET_VALUE not in out.stdout
