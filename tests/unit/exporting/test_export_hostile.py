"""Hostile specs through `shiplane export …` (docs/input-safety.md): the fuzz harness's promises hold
for exports too: a documented exit code, no traceback, no secret marker in any output or written
file, nothing written outside the output directory or through a planted link, no user file changed."""

from __future__ import annotations

import dataclasses
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.hostile import strategies as S
from tests.unit.hostile.test_properties import check_project, fuzz_settings

EXPORTS = {
    "helm": ["export", "helm"],
    "kustomize": ["export", "kustomize"],
    "argocd": ["export", "gitops", "--flavor", "argocd"],
}
EXAMPLES = int(os.environ.get("SHIPLANE_FUZZ_EXAMPLES", "30"))


@settings(fuzz_settings, max_examples=EXAMPLES)
@given(
    project=S.spec_projects(), kind=st.sampled_from(sorted(EXPORTS)), setup=st.sampled_from(["none", "user", "links"])
)
def test_hostile_specs_exported(project: S.Project, kind: str, setup: str) -> None:
    argv = [*EXPORTS[kind], "-f", "shiplane.yaml", "-o", "out", "--stage", "dev"]
    out_setup = {"none": "none", "user": "user-file", "links": "symlink-out"}[setup]
    check_project(dataclasses.replace(project, command="export", argv=argv, out_setup=out_setup), f"export-{kind}")
