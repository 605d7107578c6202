"""Round-trip: what Helm, Kustomize and a GitOps checkout build from an export is exactly what
`shiplane render --stage` gives (canonical order; Secrets compared by everything but their values,
which no export carries), for the voting example, real-world compose imports and hostile values.
`helm lint --strict` passes with every stage's values, and no exported file holds a secret value.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from shiplane import exporting, rendering, spec
from shiplane.exporting import files, gitops, helm, kustomize
from shiplane.spec.inputs import gather
from tests.conftest import go_tool
from tests.unit.exporting.roundtrip import differences, kustomize_command, load_stream

ROOT = Path(__file__).parents[3]
VOTING_PASSWORD = "voting-pw-{{ .Release.Name }}-$(x)"


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr}"
    return done.stdout


def _placeholders(directory: Path) -> list[dict]:
    return [o for p in sorted(directory.glob("*.yaml")) for o in load_stream(p.read_text())]


def _check(spec_file: Path, environ: dict[str, str], tmp: Path, stages: list[str] | None = None) -> None:
    loaded = spec.load([spec_file])
    names = stages or list(loaded.stages)
    stage_specs = [loaded.stage(n) for n in names]
    inputs = {s.name: gather(s, environ) for s in stage_specs}
    units = [exporting.unit(s, inputs[s.name]) for s in stage_specs]
    app = stage_specs[0].doc.app
    out = {
        "helm": files.write(tmp / "chart", helm.chart(units, app=app.name, version=app.version)),
        "kustomize": files.write(tmp / "kustomize", kustomize.tree(units, app=app.name)),
        "gitops": files.write(tmp / "gitops", gitops.layout(units, app=app.name, flavor="argocd")),
    }
    # No secret value in any exported file, in any form a reader could use.
    values = [v for i in inputs.values() for v in i.secrets.values() if len(v) >= 4]
    for kind, written in out.items():
        for path in written.files:
            data = path.read_bytes()
            for v in values:
                assert v not in data, f"{kind}: {path} holds a secret value"

    helm_bin = str(go_tool("helm"))
    build = kustomize_command()
    for s in stage_specs:
        want = rendering.render(s, inputs[s.name])
        lint = _run([helm_bin, "lint", "--strict", str(tmp / "chart"), "-f", str(tmp / f"chart/values-{s.name}.yaml")])
        assert "0 chart(s) failed" in lint
        got = load_stream(
            _run(
                [
                    helm_bin,
                    "template",
                    "release",
                    str(tmp / "chart"),
                    "-f",
                    str(tmp / f"chart/values-{s.name}.yaml"),
                    "--namespace",
                    s.namespace,
                ]
            )
        )
        got += _placeholders(tmp / "chart" / "secrets" / s.name)
        assert not differences(got, want), f"helm, {s.name}:\n" + "\n".join(differences(got, want))
        if s is stage_specs[0]:  # values.yaml holds the first stage's values: no -f gives that stage
            bare = load_stream(_run([helm_bin, "template", "release", str(tmp / "chart"), "--namespace", s.namespace]))
            assert not differences(bare + _placeholders(tmp / "chart" / "secrets" / s.name), want)

        # Kustomize: the user provides each secret value as a file; then even Secret data round-trips.
        overlay = tmp / "kustomize" / "overlays" / s.name
        generators = yaml.safe_load((overlay / "kustomization.yaml").read_text()).get("secretGenerator", [])
        by_name = {o["metadata"]["name"]: o for o in want if o["kind"] == "Secret"}
        for gen in generators:
            secret = by_name[gen["name"]]
            spec_name = secret["metadata"]["labels"]["shiplane.io/secret"]
            for entry in gen["files"]:
                _key, rel = entry.split("=", 1)
                (overlay / rel).write_bytes(inputs[s.name].secrets[spec_name])
        got = load_stream(_run([*build, str(overlay)]))
        assert not differences(got, want), f"kustomize, {s.name}:\n" + "\n".join(differences(got, want))
        assert {o["metadata"]["name"]: o["data"] for o in got if o["kind"] == "Secret"} == {
            n: o["data"] for n, o in by_name.items()
        }

        got = load_stream(_run([*build, str(tmp / "gitops" / "stages" / s.name)]))
        got += _placeholders(tmp / "gitops" / "secrets" / s.name)
        assert not differences(got, want), f"gitops, {s.name}:\n" + "\n".join(differences(got, want))


def test_voting_round_trips(tmp_path: Path) -> None:
    _check(ROOT / "examples" / "voting" / "shiplane.yaml", {"VOTING_POSTGRES_PASSWORD": VOTING_PASSWORD}, tmp_path)


REALWORLD = ["nextcloud-postgres", "react-express-mysql", "nginx-nodejs-redis", "example-voting-app"]


@pytest.mark.parametrize("name", REALWORLD)
def test_realworld_import_round_trips(name: str, tmp_path: Path) -> None:
    """An imported app's dev stage and a prod stage that differs in resources and version. (The import's
    own test/prod stages pin images, and images still to build are placeholders they refuse to render.)"""
    from tests.unit.importing.realworld import SECRET_ENV, import_sample

    _imported, written = import_sample(name, tmp_path / "import")
    doc = yaml.safe_load(written.read_text())
    doc["stages"] = {"dev": doc["stages"]["dev"]}
    doc["stages"]["prod"] = {
        "namespace": f"{doc['app']['name']}-prod",
        "overrides": {
            "app": {"version": "2.1.0"},
            "defaults": {"resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}},
        },
    }
    written.write_text(yaml.safe_dump(doc, sort_keys=False))
    # The samples' own passwords are words their compose files also use in the clear ("nextcloud");
    # distinctive values make the no-secret-in-any-file check mean something.
    for i, secret_file in enumerate(sorted((written.parent / ".shiplane-secrets").glob("*"))):
        secret_file.write_text(f"rw-secret-{i}-Zq8{{{{ x }}}}")
    environ = {k: f"rw-env-{k}-9xK" for k in SECRET_ENV}
    _check(written, environ, tmp_path / "export")


HOSTILE = """\
apiVersion: shiplane.io/v1alpha1
app: {name: tricky, version: "1.0.0"}
secrets:
  api-token: {fromEnv: TRICKY_TOKEN}
services:
  web:
    image: nginx:1.27
    ports: {http: 8080}
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 100m, memory: 64Mi}}
    env:
      SHARED_TEMPLATE: "{{ .Values.secrets }} and {{- end }}"
      DIFFERS: "dev {{ .Release.Name }}"
      QUOTES: "a \\"quoted\\" 'value': # not a comment"
      NUMBERISH: "0012"
      TOKEN: {secret: api-token}
    labels: {team: "a-b"}
    annotations: {example.com/note: "dev {{ .Values }} {{/* c */}}", example.com/other: "x"}
stages:
  dev:
    namespace: tricky-dev
  test:
    namespace: tricky-test
    overrides: {services: {web: {annotations: null}}}
  prod:
    namespace: tricky
    overrides:
      services:
        web:
          replicas: 3
          annotations: {example.com/note: "prod {{ .Release.Namespace }}", example.com/other: null}
          env:
            DIFFERS: "prod {{ template \\"x\\" }} }}"
            ONLY_PROD: "yes"
"""


def test_template_syntax_in_values_stays_data(tmp_path: Path) -> None:
    """`{{` in shared fields and in per-stage values reaches the objects as text, never as template code."""
    spec_file = tmp_path / "shiplane.yaml"
    spec_file.write_text(HOSTILE)
    _check(spec_file, {"TRICKY_TOKEN": "tok-en-{{ secret }}"}, tmp_path / "export")


def test_one_stage_exports_round_trip(tmp_path: Path) -> None:
    """A single --stage: everything is shared, nothing is conditional."""
    _check(
        ROOT / "examples" / "voting" / "shiplane.yaml",
        {"VOTING_POSTGRES_PASSWORD": VOTING_PASSWORD},
        tmp_path,
        stages=["prod"],
    )


def test_many_secret_references_in_one_object(tmp_path: Path) -> None:
    """Twelve Secrets used by one workload: each reference resolves to its own Secret's name."""
    names = [f"key-{i}" for i in range(12)]
    secrets_ = "\n".join(f"  {n}: {{fromEnv: K{i}}}" for i, n in enumerate(names))
    env = "\n".join(f"      V{i}: {{secret: {n}}}" for i, n in enumerate(names))
    spec_file = tmp_path / "shiplane.yaml"
    spec_file.write_text(
        "apiVersion: shiplane.io/v1alpha1\napp: {name: many}\nsecrets:\n" + secrets_ + "\nservices:\n  web:\n"
        "    image: nginx:1.27\n    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 50m, memory: 32Mi}}\n"
        "    env:\n" + env + "\nstages:\n  dev: {namespace: many-dev}\n  prod: {namespace: many}\n"
    )
    _check(spec_file, {f"K{i}": f"value-number-{i}-of-twelve" for i in range(12)}, tmp_path / "export")
