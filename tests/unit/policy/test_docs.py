"""docs/policy.md stays true: every rule and profile is documented, and nothing documented is stale."""

from __future__ import annotations

import re
from pathlib import Path

from shiplane.policy import PROFILES, RULES
from shiplane.policy.dockerfile import RULES as DOCKER_RULES

TEXT = (Path(__file__).parents[3] / "docs" / "policy.md").read_text()


def _first_column(section: str, until: str) -> set[str]:
    body = TEXT.split(f"\n## {section}\n", 1)[1].split(f"\n## {until}", 1)[0]
    return {m.split(" ")[0] for m in re.findall(r"^\| `([^`]+)`", body, flags=re.M)}


def test_every_rule_is_in_the_rule_tables():
    assert _first_column("Rules", "Cross-check") == {r.id for r in RULES} | {r.id for r in DOCKER_RULES}


def test_every_profile_is_described():
    assert _first_column("Profiles", "Suppression") == set(PROFILES)
