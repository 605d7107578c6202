"""The CLI process keeps python-jsonschema's optional IRI grammars out of every cluster command.

kubernetes' dynamic client imports kubernetes-validate, which imports python-jsonschema; where
rfc3987-syntax is installed (any environment with `jsonschema[format-nongpl]`), that import
compiles 38 lark grammars: 1.5 s of CPU that `plan`, `deploy` and `status` paid before talking
to the cluster. Only the console entry point blocks it; a library caller's process is left alone.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

ENTRY = """
import json, sys
from shiplane.cli import run
sys.argv = ["shiplane", "--version"]
try:
    run()
except SystemExit:
    pass
import kubernetes.dynamic  # what every command that talks to a cluster imports
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("lark", "rfc3987_syntax") and sys.modules[m] is not None)
print(json.dumps(loaded))
"""

LIBRARY = """
import json, sys
import shiplane.kube
import rfc3987_syntax
print(json.dumps(rfc3987_syntax.is_valid_syntax("iri", "https://example.com/a")))
"""


def last_json(code: str):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(importlib.util.find_spec("rfc3987_syntax") is None, reason="rfc3987-syntax is not installed")
def test_cli_process_does_not_compile_jsonschema_iri_grammars():
    assert last_json(ENTRY) == []


@pytest.mark.skipif(importlib.util.find_spec("rfc3987_syntax") is None, reason="rfc3987-syntax is not installed")
def test_library_callers_keep_rfc3987_syntax():
    assert last_json(LIBRARY) is True
