"""Existing manifests → spec services (reverse render) plus `objects:` for what the model cannot hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from shiplane import rendering, schemas, spec
from shiplane.errors import InputError
from shiplane.importing import manifests, writing
from shiplane.spec.inputs import gather
from tests.unit.spec import golden

CASES = Path(__file__).parents[2] / "data" / "import-cases-vm"
GOLDEN = Path(__file__).parents[2] / "data" / "golden"
VOTING = Path(__file__).parents[2] / "data" / "realworld" / "example-voting-app" / "k8s-specifications"


def _render(imported, tmp: Path, environ: dict[str, str]) -> list[dict]:
    written = writing.write(tmp, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    objects = rendering.render(stage, gather(stage, environ))
    schemas.validate(objects, stage.kubernetes_version)
    return objects


def test_mixed_manifests(tmp_path: Path) -> None:
    case = CASES / "manifests-mixed"
    docs, names = manifests.load([case])
    imported, raw = manifests.convert(docs, "shop", names)
    out = GOLDEN / "import-manifests-mixed"
    out.mkdir(exist_ok=True)
    golden.check(out / "shiplane.yaml", writing.to_yaml(imported.spec, imported.report))
    golden.check(out / "report.txt", imported.report.to_text())
    api = imported.spec["services"]["api"]
    assert api["ports"] == {"http": {"port": 8000, "servicePort": 80}}
    assert api["env"]["LOG_LEVEL"] == "info"  # envFrom a ConfigMap of the input, inlined
    assert imported.spec["services"]["db"]["volumes"] == {"data": {"persistent": {"size": "5Gi"}}}
    assert raw == []  # nothing left for kubectl: the Role is managed as it is
    assert [(o["kind"], o["metadata"]["name"]) for o in imported.spec["objects"]] == [("Role", "api-reader")]
    assert "namespace" not in imported.spec["objects"][0]["metadata"]
    rendered = _render(imported, tmp_path, {"DB_PASSWORD": "x"})
    assert {"Deployment", "StatefulSet", "Service", "Role"} <= {o["kind"] for o in rendered}
    role = next(o for o in rendered if o["kind"] == "Role")
    assert role["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "shiplane"
    assert role["metadata"]["labels"]["app.kubernetes.io/instance"] == "shop"
    assert role["rules"] == next(o for _, o in docs if o["kind"] == "Role")["rules"]


def test_voting_k8s_specifications(tmp_path: Path) -> None:
    docs, names = manifests.load([VOTING])
    imported, raw = manifests.convert(docs, "voting", names)
    assert raw == []
    assert set(imported.spec["services"]) == {"db", "redis", "result", "vote", "worker"}
    assert imported.spec["services"]["db"]["env"]["POSTGRES_PASSWORD"] == {"secret": "postgres-password"}
    assert "NodePort" in imported.report.to_text()
    objects = _render(imported, tmp_path, {})
    assert sum(o["kind"] == "Deployment" for o in objects) == 5


BOUTIQUE = Path(__file__).parents[2] / "data" / "realworld" / "online-boutique" / "release"
# What Online Boutique's frontend names in its env (one *_SERVICE_ADDR each; shoppingassistantservice
# is named too but defined nowhere, so it is no peer).
FRONTEND_PEERS = {
    "adservice",
    "cartservice",
    "checkoutservice",
    "currencyservice",
    "productcatalogservice",
    "recommendationservice",
    "shippingservice",
}


def test_online_boutique_connections_from_env(tmp_path: Path) -> None:
    """Online Boutique's released manifests name each peer in env (`PRODUCT_CATALOG_SERVICE_ADDR:
    productcatalogservice:3550`): those become least-privilege connectsTo with their evidence; a name
    no manifest defines (shoppingassistantservice) is not a peer; the services that name nobody keep
    the broad rule, with the warning; the ServiceAccounts are managed from objects:, nothing in raw/."""
    docs, names = manifests.load([BOUTIQUE])
    imported, raw = manifests.convert(docs, "online-boutique", names)
    assert raw == []
    services = imported.spec["services"]
    assert len(services) == 12
    assert set(services["frontend"]["connectsTo"]) == FRONTEND_PEERS
    assert services["cartservice"]["connectsTo"] == ["redis-cart"]
    assert services["loadgenerator"]["connectsTo"] == ["frontend"]
    assert services["redis-cart"]["connectsTo"] == [{"network": "default"}]
    text = imported.report.to_text()
    assert "cartservice (env CART_SERVICE_ADDR → cartservice:7070)" in text
    assert "WARNING: " in text and "no configuration names a peer" in text
    assert sorted(o["metadata"]["name"] for o in imported.spec["objects"] if o["kind"] == "ServiceAccount") == sorted(
        n for n in services if n != "redis-cart"
    )
    # The pods' user is set on the pod, not the container: it must come through.
    assert {s["security"]["runAsUser"] for s in services.values()} == {1000}
    assert services["frontend"]["probes"]["readiness"]["http"]["headers"] == {
        "Cookie": "shop_session-id=x-readiness-probe"
    }
    objects = _render(imported, tmp_path, {})
    assert sum(o["kind"] == "Deployment" for o in objects) == 12


def test_env_values_as_the_api_server_reads_them(tmp_path: Path) -> None:
    """`value:` left empty is the empty string and a YAML boolean is lower-case text, never Python's
    'None' or 'True'."""
    (tmp_path / "app.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n"
        "  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n"
        "    spec:\n      containers:\n      - name: api\n        image: example/api:1.0\n"
        "        env:\n        - {name: EMPTY, value: }\n        - {name: FLAG, value: true}\n"
        "        - {name: N, value: 3}\n"
    )
    docs, names = manifests.load([tmp_path / "app.yaml"])
    imported, _ = manifests.convert(docs, "app", names)
    assert imported.spec["services"]["api"]["env"] == {"EMPTY": "", "FLAG": "true", "N": "3"}


def test_not_kubernetes_yaml(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("services:\n  web: {image: nginx}\n")
    with pytest.raises(InputError) as err:
        manifests.load([tmp_path / "x.yaml"])
    assert "document 1 is not a Kubernetes object" in str(err.value)
