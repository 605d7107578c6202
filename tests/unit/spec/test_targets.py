"""`targets:`: expansion of the shop example (golden), precedence, selection, and reference errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from shiplane import spec
from shiplane.errors import InputError
from shiplane.spec.targets import Rollout, parse_selector, wave_plan
from tests.unit.spec import golden

ROOT = Path(__file__).parents[3]
SHOP = ROOT / "examples" / "shop" / "shiplane.yaml"
GOLDEN = ROOT / "tests" / "data" / "golden"


def test_shop_expansion_matches_golden() -> None:
    loaded = spec.load([SHOP])
    rows = [s.target.as_dict() for s in loaded.targets]
    # 3 stages x 2 regions x 3 tenants = 18, minus dev/us (3) and test/initech (2)
    assert len(rows) == 13
    golden.check(GOLDEN / "shop-targets.json", json.dumps(rows, indent=2) + "\n")


def test_precedence_defaults_stage_dimensions_include() -> None:
    loaded = spec.load([SHOP])
    pick = {s.target.name: s.doc for s in loaded.targets}
    # stage prod sets 3 replicas; region us (a later layer) sets 4 and wins
    assert pick["prod/region=eu,tenant=acme"].services["web"].replicas == 3
    assert pick["prod/region=us,tenant=acme"].services["web"].replicas == 4
    # the include entry (last layer) applies to prod/us only
    assert pick["prod/region=us,tenant=initech"].services["api"].replicas == 2
    assert pick["test/region=us,tenant=acme"].services["api"].replicas == 1
    # components: only globex opted in to sso
    assert "SSO_ISSUER" in pick["dev/region=eu,tenant=globex"].services["web"].env
    assert "SSO_ISSUER" not in pick["dev/region=eu,tenant=acme"].services["web"].env
    # the tenant layer (later in the matrix) and the region layer both reach web's env
    env = pick["prod/region=us,tenant=globex"].services["web"].env
    assert (env["REGION"].value, env["TENANT"].value) == ("us", "globex")


def test_select_one_several_and_globs() -> None:
    loaded = spec.load([SHOP])
    [one] = loaded.select("prod", {"region": "eu", "tenant": "acme"})
    assert (one.namespace, one.stage.context) == ("shop-acme-prod", "shiplane-eu")
    assert len(loaded.select("prod", {"tenant": "a*"}, all_targets=True)) == 2
    with pytest.raises(InputError) as err:
        loaded.select("prod", {"region": "eu"})
    assert "3 targets" in str(err.value) and "prod/region=eu,tenant=initech" in str(err.value)
    with pytest.raises(InputError, match=r"no dimension 'regoin'.*did you mean 'region'"):
        loaded.select("prod", {"regoin": "eu"})
    with pytest.raises(InputError, match="no target"):
        loaded.select("dev", {"region": "us"})


def test_waves_canary_first_then_by_region() -> None:
    loaded = spec.load([SHOP])
    prod = [s.target for s in loaded.select("prod", {}, all_targets=True)]
    waves = wave_plan(prod, loaded.targeting.rollout)
    assert [[t.id for t in w] for w in waves] == [
        ["eu-acme"],
        ["eu-globex", "eu-initech"],
        ["us-acme", "us-globex", "us-initech"],
    ]
    assert [len(w) for w in wave_plan(prod, Rollout())] == [6]


def test_parse_selector() -> None:
    assert parse_selector("region=eu, tenant=a*") == {"region": "eu", "tenant": "a*"}
    with pytest.raises(ValueError, match="dimension=value"):
        parse_selector("region")


def _load(tmp_path: Path, targets: str) -> Exception:
    text = textwrap.dedent(
        """\
        app: {name: shop}
        services:
          web: {image: nginx:1.27, resources: {limits: {cpu: 100m, memory: 64Mi}}}
        stages:
          dev: {namespace: shop-dev}
          prod: {namespace: shop-prod}
        """
    ) + textwrap.dedent(targets)
    path = tmp_path / "shiplane.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        spec.load([path])
    return err.value


@pytest.mark.parametrize(
    ("targets", "line", "message"),
    [
        (
            """\
            targets:
              dimensions:
                region: {eu: {}, us: {}}
              exclude:
                - {stage: dev, region: asia}
            """,
            11,
            "no region 'asia' (known: eu, us)",
        ),
        (
            """\
            targets:
              dimensions:
                tenant:
                  acme: {components: [sso]}
            """,
            10,
            "no component 'sso'",
        ),
        (
            """\
            targets:
              dimensions:
                region: {eu: {}}
              include:
                - {stage: staging, region: eu}
            """,
            11,
            "no stage 'staging'",
        ),
        (
            """\
            targets:
              dimensions:
                tenant:
                  acme: {namespace: "shop-{tenant}-{regoin}"}
            """,
            10,
            "unknown placeholder {regoin}",
        ),
        (
            """\
            targets:
              dimensions:
                tenant:
                  Big_Co: {}
            """,
            10,
            "invalid name 'Big_Co'",
        ),
        (
            """\
            targets:
              dimensions:
                region:
                  eu: {overrides: {services: {web: {replicas: many}}}}
            """,
            10,
            "replicas",
        ),
        (
            """\
            targets:
              dimensions:
                region: {eu: {}}
              matrix: [stage, region, tenant]
            """,
            10,
            "no dimension 'tenant'",
        ),
        (
            """\
            targets:
              dimensions:
                region: {eu: {}}
              include:
                - {region: eu, components: [{sso: true}]}
            """,
            11,
            "expected a component name, got dict",
        ),
    ],
)
def test_reference_errors_name_file_and_line(tmp_path: Path, targets: str, line: int, message: str) -> None:
    err = str(_load(tmp_path, targets))
    assert f"shiplane.yaml:{line}:" in err, err
    assert message in err, err


INCLUDE = """\
targets:
  dimensions:
    region: {eu: {}, us: {}}
  include:
    - region: eu
      ENTRY
"""


CONTEXT = "expected a kubeconfig context name (a string)"
NAMESPACE = "expected a namespace or a template like 'shop-{tenant}-{stage}' (a string)"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("context: [kind-eu, kind-us]", f"context: {CONTEXT} (got a list)"),
        ("context: 42", f"context: {CONTEXT} (got 42)"),
        ("context: {name: eu}", f"context: {CONTEXT} (got a mapping)"),
        ("namespace: 5", f"namespace: {NAMESPACE} (got 5)"),
        ("namespace: true", f"namespace: {NAMESPACE} (got True)"),
        ("namespace: [a]", f"namespace: {NAMESPACE} (got a list)"),
        ("overrides: [x]", "overrides: expected a mapping of overrides (got a list)"),
        ("components: sso", "components: expected a list of component names (got 'sso')"),
    ],
)
def test_include_entry_fields_are_type_checked(tmp_path: Path, entry: str, message: str) -> None:
    # Each an InputError at the entry's own line (12), naming the field, expected and found: never a
    # crash later, never a number silently taken as a namespace.
    err = str(_load(tmp_path, INCLUDE.replace("ENTRY", entry)))
    assert f"shiplane.yaml:12:7: targets.include[0].{message}" in err, err
    assert "Traceback" not in err


def test_every_bad_include_field_is_reported_at_once(tmp_path: Path) -> None:
    entry = "context: [a]\n      namespace: 7"
    err = str(_load(tmp_path, INCLUDE.replace("ENTRY", entry).replace("region: eu", "region: 3")))
    assert "shiplane.yaml:11:7: targets.include[0].region: expected a region name (a string) (got 3)" in err, err
    assert f"shiplane.yaml:12:7: targets.include[0].context: {CONTEXT} (got a list)" in err, err
    assert f"shiplane.yaml:13:7: targets.include[0].namespace: {NAMESPACE} (got 7)" in err, err


def test_an_include_entry_may_leave_its_fields_empty(tmp_path: Path) -> None:
    path = tmp_path / "shiplane.yaml"
    text = textwrap.dedent(
        """\
        app: {name: shop}
        services:
          web: {image: nginx:1.27, resources: {limits: {cpu: 100m, memory: 64Mi}}}
        stages:
          dev: {namespace: shop-dev}
        """
    ) + INCLUDE.replace("ENTRY", "context:").replace("  - region: eu", "  - region: eu\n      namespace: shop-{region}")
    path.write_text(text)
    [eu, us] = spec.load([path]).select("dev", None, all_targets=True)
    assert (eu.namespace, us.namespace) == ("shop-eu", "shop-dev")


def test_templated_namespace_must_be_a_dns_label(tmp_path: Path) -> None:
    err = str(
        _load(
            tmp_path,
            """\
            targets:
              dimensions:
                tenant:
                  acme: {namespace: "Shop_{tenant}"}
            """,
        )
    )
    assert "shiplane.yaml:10:" in err and "'Shop_acme'" in err and "not a DNS label" in err


def test_targets_ls_json_and_selection_errors(capsys) -> None:
    from shiplane.cli import main

    assert main(["targets", "ls", "-f", str(SHOP), "--stage", "test", "-o", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {
        "stage": "test",
        "region": "eu",
        "tenant": "acme",
        "context": "shiplane-eu",
        "namespace": "shop-acme-test",
    }
    assert len(rows) == 4
    assert main(["render", "-f", str(SHOP), "--stage", "prod", "--target", "tenant=acme"]) == 2
    err = capsys.readouterr().err
    assert "2 targets" in err and "prod/region=us,tenant=acme" in err
    assert main(["render", "-f", str(SHOP), "--stage", "prod", "--target", "tenant"]) == 2
