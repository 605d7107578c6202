"""Where an action works: one app in one stage's namespace of one cluster."""

from __future__ import annotations

import getpass
import os
import time
from dataclasses import dataclass

from shiplane.kube import Kube
from shiplane.releases import ClusterStore, Outcome, Release
from shiplane.releases.lock import LeaseLock, view


@dataclass(frozen=True)
class Target:
    kube: Kube
    app: str
    stage: str
    namespace: str

    def store(self) -> ClusterStore:
        return ClusterStore(self.kube, app=self.app, stage=self.stage, namespace=self.namespace)

    def lock(self, *, duration: int = 30) -> LeaseLock:
        return LeaseLock(self.kube, namespace=self.namespace, app=self.app, duration=duration)

    def namespace_object(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "shiplane", "shiplane.io/stage": self.stage},
            },
        }


def last_success(history: list[Release]) -> Release | None:
    return next((r for r in reversed(history) if r.outcome is Outcome.DEPLOYED), None)


def who() -> tuple[str, str]:
    """(user, CI run id): the CI id from the usual CI variables, if any."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    for var in ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID", "BUILDKITE_BUILD_ID", "CIRCLE_BUILD_NUM"):
        if os.environ.get(var):
            return user, f"{var}={os.environ[var]}"
    return user, ""


def effective_outcome(release: Release, target: Target) -> Outcome:
    """A pending record whose run no longer holds the lock was interrupted (shown as such)."""
    if release.outcome is not Outcome.PENDING:
        return release.outcome
    lease = target.kube.get(target.lock().ref)
    if lease is None:
        return Outcome.INTERRUPTED
    held = view(lease)
    if held.holder != release.holder or held.expired(time.time()):
        return Outcome.INTERRUPTED
    return Outcome.PENDING
