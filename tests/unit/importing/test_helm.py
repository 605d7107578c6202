"""`shiplane import helm` round-trips a chart: the imported spec renders objects equivalent to what
`helm template` renders (a real helm, built by shiplane.localcluster.tools). Every difference is
listed here exactly, and explained in docs/import.md ("Helm and Kustomize")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shiplane import rendering, schemas, spec
from shiplane.importing import rendered, writing
from shiplane.spec.inputs import gather
from tests.conftest import go_tool

CHART = Path(__file__).parents[2] / "data" / "helm-chart"
WORKLOADS = ("Deployment", "StatefulSet")


def _env(obj: dict, pod: dict, configmaps: dict[str, dict]) -> dict[str, str]:
    c = pod["containers"][0]
    out: dict[str, str] = {}
    for ref in c.get("envFrom") or []:
        out.update(configmaps.get((ref.get("configMapRef") or {}).get("name"), {}))
    # An env entry with `value:` empty or absent sets the variable to "" (the API server's reading).
    out.update({e["name"]: e.get("value") or "" for e in c.get("env") or [] if "valueFrom" not in e})
    return out


def _probe(probe: dict | None, container: dict) -> dict | None:
    """A probe as the kubelet runs it: its handler with a named port resolved to its number, the
    request's path and headers, and its timings (HTTP is the default scheme, written or not)."""
    if not probe:
        return None
    named = {p["name"]: p["containerPort"] for p in container.get("ports") or [] if p.get("name")}
    out = {k: v for k, v in probe.items() if isinstance(v, int)}
    for kind in ("httpGet", "tcpSocket", "grpc", "exec"):
        if kind in probe:
            handler = {k: v for k, v in probe[kind].items() if not (k == "scheme" and v == "HTTP")}
            if "port" in handler:
                handler["port"] = named.get(handler["port"], handler["port"])
            out[kind] = handler
    return out


def _target_ports(service: dict, workloads: list[dict]) -> list[tuple[int, str]]:
    """A Service's (port, target) with a named targetPort resolved to the number of the container
    port it names in the workload the Service selects: a name and its number are the same target."""
    selector = service["spec"].get("selector") or {}
    named: dict[str, int] = {}
    for w in workloads:
        labels = w["spec"]["template"]["metadata"].get("labels") or {}
        if selector and selector.items() <= labels.items():
            for c in w["spec"]["template"]["spec"]["containers"]:
                named.update({p["name"]: p["containerPort"] for p in c.get("ports") or [] if p.get("name")})
    out = []
    for p in service["spec"]["ports"]:
        target = p.get("targetPort", p["port"])
        out.append((p["port"], str(named.get(target, target))))
    return sorted(out)


def view(objects: list[dict]) -> dict[str, Any]:
    """What a user would compare: per workload its image, replicas, ports, effective env, probes,
    resources, claims, service account; per Service its ports; other objects by kind/name."""
    configmaps = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o["kind"] == "ConfigMap"}
    out: dict[str, Any] = {}
    for o in objects:
        key = f"{o['kind']}/{o['metadata']['name']}"
        if o["kind"] in WORKLOADS:
            pod = o["spec"]["template"]["spec"]
            c = pod["containers"][0]
            out[key] = {
                "image": c["image"],
                "replicas": o["spec"].get("replicas", 1),
                "ports": sorted(
                    ((p.get("name"), p["containerPort"]) for p in c.get("ports") or []), key=lambda t: t[1]
                ),
                "env": _env(o, pod, configmaps),
                "readiness": _probe(c.get("readinessProbe"), c),
                "liveness": _probe(c.get("livenessProbe"), c),
                "user": (c.get("securityContext") or {}).get("runAsUser")
                or (pod.get("securityContext") or {}).get("runAsUser"),
                "resources": c.get("resources"),
                "claims": {
                    t["metadata"]["name"]: t["spec"]["resources"]["requests"]["storage"]
                    for t in o["spec"].get("volumeClaimTemplates") or []
                },
                "mounts": sorted(
                    (m["name"], m["mountPath"]) for m in c.get("volumeMounts") or [] if m["name"] == "data"
                ),
                "serviceAccountName": pod.get("serviceAccountName"),
                "fsGroup": (pod.get("securityContext") or {}).get("fsGroup"),
            }
        elif o["kind"] == "Service" and o["spec"].get("clusterIP") != "None":
            out[key] = _target_ports(o, [w for w in objects if w["kind"] in WORKLOADS])
        elif o["kind"] == "ServiceAccount":
            out[key] = o["metadata"].get("annotations") or {}
        else:
            out.setdefault("other", []).append(key)
    return out


def _same(field: str, helm: Any, ours: Any) -> bool:
    if field == "ports":  # a port the chart left unnamed gets a name (`port-N`): compare the numbers
        numbers_match = [p for _, p in helm] == [p for _, p in ours]
        return numbers_match and all(n is None or n == o for (n, _), (o, _) in zip(helm, ours, strict=True))
    return helm == ours


def differences(helm: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    found = []
    for key in sorted(set(helm) | set(ours)):
        if key == "other":
            continue
        a, b = helm.get(key), ours.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key.split("/")[0] in WORKLOADS:
            found += [f"{key} {f}: helm {a[f]!r}, shiplane {b[f]!r}" for f in a if not _same(f, a[f], b[f])]
        elif a != b:
            found.append(f"{key}: helm {a!r}, shiplane {b!r}")
    extra = sorted(set(ours.get("other", [])) - set(helm.get("other", [])))
    found.append("shiplane adds: " + ", ".join(sorted({k.split("/")[0] for k in extra})))
    return found


# By design (docs/import.md, "Helm and Kustomize"): pods without an account of their own run as the
# app's ServiceAccount (no API token); the app's default requests fill in what the chart left out;
# and shiplane adds its firewall, PDBs, the StatefulSet's headless Service and hash-named ConfigMaps
# for literal env.
EXPECTED = [
    "Deployment/web serviceAccountName: helm None, shiplane 'shop'",
    "ServiceAccount/shop: helm None, shiplane {}",
    "StatefulSet/db resources: helm {'limits': {'cpu': '1', 'memory': '1Gi'}}, shiplane "
    "{'requests': {'cpu': '100m', 'memory': '128Mi'}, 'limits': {'cpu': '1', 'memory': '1Gi'}}",
    "StatefulSet/db serviceAccountName: helm None, shiplane 'shop'",
    "shiplane adds: ConfigMap, NetworkPolicy, PodDisruptionBudget, Service",
]


@pytest.fixture(scope="module")
def helm_bin() -> Path:
    return go_tool("helm")


def test_helm_chart_round_trips(helm_bin: Path, tmp_path: Path) -> None:
    values = [CHART / "values-prod.yaml"]
    text = rendered.helm_template(helm_bin, CHART / "shop", values, "shop")
    docs = rendered.documents(text, "shop")
    imported = rendered.convert(docs, "shop", "helm", "shop")
    assert not (tmp_path / "raw").exists()
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    ours = rendering.render(stage, gather(stage, {}))
    schemas.validate(ours, stage.kubernetes_version)
    helm_view, our_view = view([o for _, o in docs]), view(ours)
    assert differences(helm_view, our_view) == EXPECTED, "\n".join(differences(helm_view, our_view))
    moved = imported.report.moved
    assert "Deployment web (shop/templates/web.yaml) → services.web" in moved
    assert "ServiceAccount shop-api (shop/templates/serviceaccount.yaml) → objects: (as it is)" in moved
    assert our_view["StatefulSet/db"]["claims"] == {"data": "20Gi"}  # the second values file won


def test_helm_errors_are_input_errors(helm_bin: Path, tmp_path: Path) -> None:
    from shiplane.errors import InputError

    bad = tmp_path / "bad"
    (bad / "templates").mkdir(parents=True)
    (bad / "Chart.yaml").write_text("apiVersion: v2\nname: bad\nversion: 0.1.0\n")
    (bad / "templates" / "x.yaml").write_text("kind: {{ .Values.nope.deeper }}\n")
    with pytest.raises(InputError, match=r"helm template .* failed"):
        rendered.helm_template(helm_bin, bad, [], "bad")
    with pytest.raises(InputError, match="no such values file"):
        rendered.helm_template(helm_bin, CHART / "shop", [tmp_path / "missing.yaml"], "shop")


def test_kustomize_directory_imports_through_kubectl(tmp_path: Path) -> None:
    """`kubectl kustomize` (/usr/bin/kubectl) applies the generator, image and label transforms first."""
    import shutil

    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    if not Path(kubectl).exists():
        pytest.skip("kubectl not installed")
    text = rendered.kustomize(Path(kubectl), CHART / "kustomize")
    imported = rendered.convert(rendered.documents(text, "kustomize"), "shop", "kustomize", "kustomize")
    api = imported.spec["services"]["api"]
    assert api["image"] == "registry.example.com/shop/api:2.4.1"  # the images: transform
    assert api["env"]["LOG_LEVEL"] == "debug"  # the generated, hash-named ConfigMap, inlined
    assert api["connectsTo"] == ["db"]  # DATABASE_URL names db:5432; the DSN's user is not printed
    report = imported.report.to_text()
    assert "connects to db (env DATABASE_URL → db:5432)" in report and "shop@" not in report
    assert any(m.startswith("ConfigMap api-config-") and "env/files" in m for m in imported.report.moved)
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    stage = spec.load([written]).stage("dev")
    schemas.validate(rendering.render(stage, gather(stage, {})), stage.kubernetes_version)
    from shiplane.errors import InputError

    with pytest.raises(InputError, match=r"no kustomization\.yaml"):
        rendered.kustomize(Path(kubectl), tmp_path)


BOUTIQUE = Path(__file__).parents[2] / "data" / "realworld" / "online-boutique"

# Online Boutique's own chart (a public chart nobody here wrote), with its default values. By design
# (docs/import.md): the second Service of the same pods (frontend-external, a LoadBalancer) becomes
# the type of the service's own Service; pods run as the app's ServiceAccount where the chart gave
# none (none here: only the account itself is added); shiplane adds its firewall and hash-named
# ConfigMaps for literal env.
BOUTIQUE_EXPECTED = [
    "Service/frontend-external: helm [(80, '8080')], shiplane None",
    "ServiceAccount/onlineboutique: helm None, shiplane {}",
    "shiplane adds: ConfigMap, NetworkPolicy",
]


def test_public_chart_round_trips(helm_bin: Path, tmp_path: Path) -> None:
    """Every workload's image, replicas, ports, env (an empty Helm value stays empty), probes with
    their headers, resources, user and account come through; the pod-level user (runAsUser 1000) is
    kept, or the images would run as root against runAsNonRoot and never start."""
    text = rendered.helm_template(helm_bin, BOUTIQUE / "helm-chart", [], "onlineboutique")
    docs = rendered.documents(text, "onlineboutique")
    imported = rendered.convert(docs, "onlineboutique", "helm", "onlineboutique")
    written = writing.write(tmp_path, imported.spec, imported.report, imported.secret_values)
    assert not (tmp_path / "raw").exists()
    stage = spec.load([written]).stage("dev")
    ours = rendering.render(stage, gather(stage, {}))
    schemas.validate(ours, stage.kubernetes_version)
    helm_view, our_view = view([o for _, o in docs]), view(ours)
    assert differences(helm_view, our_view) == BOUTIQUE_EXPECTED, "\n".join(differences(helm_view, our_view))
    assert len([k for k in our_view if k.startswith("Deployment/")]) == 12
    assert our_view["Deployment/frontend"]["readiness"]["httpGet"]["httpHeaders"] == [
        {"name": "Cookie", "value": "shop_session-id=x-readiness-probe"}
    ]
    assert our_view["Deployment/productcatalogservice"]["env"]["EXTRA_LATENCY"] == ""
    assert {v["user"] for k, v in our_view.items() if k.startswith("Deployment/")} == {1000}
    frontend = next(o for o in ours if o["kind"] == "Service" and o["metadata"]["name"] == "frontend")
    assert frontend["spec"]["type"] == "LoadBalancer"
    moved = imported.report.moved
    assert "ServiceAccount frontend (onlineboutique/templates/frontend.yaml) → objects: (as it is)" in moved
