"""Run one dual-credential rotation (or resume one) with the SQL effect of its Jobs; with `kill_at`,
SIGKILL itself as that phase starts (its predecessor done and recorded): a kill -9 between phases.

    python -m tests.integration.dualdriver '{"kubeconfig", "namespace", "spec", "port", "kill_at"}'
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from shiplane import spec
from shiplane.actions import desired
from shiplane.actions.rotate import Rotate
from shiplane.actions.runner import Options
from shiplane.actions.target import Target
from shiplane.events import Step
from shiplane.kube import Kube
from tests.integration.pgserver import Server, SqlJobs

SECRET = "db-credential"


def rotation(kube: Kube, namespace: str, path: Path, server: Server, *, reason: str = "manual") -> Rotate:
    stage = spec.load([path]).stage("dev")
    target = Target(kube, "ledger", "dev", namespace)

    def render(values):
        return desired.load([path], "dev", namespace=namespace, generated=lambda *_: values)

    options = Options(timeout=60, lock_duration=5)
    return Rotate(target, stage, render, names=[SECRET], reason=reason, options=options, job_runner=SqlJobs(server))


def main(args: dict) -> None:
    server = Server(Path(args["bindir"]), Path(args["root"]), args["port"], [])
    action = rotation(Kube.connect(args["kubeconfig"]), args["namespace"], Path(args["spec"]), server)
    stream = action.run()
    for event in stream:
        if isinstance(event, Step) and event.message == f"{SECRET}: phase {args['kill_at']}":
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
