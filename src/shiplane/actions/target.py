"""Where an action works: one app in one stage's namespace of one cluster."""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shiplane.kube import Kube
from shiplane.releases import ClusterStore, Outcome, Release, Store, history
from shiplane.releases.lock import LeaseLock, view


def cluster_store(target: Target) -> Store:
    """Release records as Secrets in the stage namespace (the default)."""
    return ClusterStore(
        target.kube, app=target.app, stage=target.stage, namespace=target.namespace, target=target.target_id
    )


@dataclass(frozen=True)
class Target:
    kube: Kube
    app: str
    stage: str
    namespace: str
    # Where release records live; unit tests of actions pass a MemoryStore here.
    stores: Callable[[Target], Store] = field(default=cluster_store, repr=False, compare=False)
    # With `targets:` in the spec: the target's id (`eu-acme`). Keys its lock and release records,
    # so two targets sharing a namespace never share either.
    target_id: str = ""

    @property
    def lock_key(self) -> str:
        return f"{self.app}.{self.target_id}" if self.target_id else self.app

    def store(self) -> Store:
        return self.stores(self)

    def lock(self, *, duration: int = 30) -> LeaseLock:
        return LeaseLock(self.kube, namespace=self.namespace, app=self.lock_key, duration=duration)

    def namespace_object(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "shiplane", "shiplane.io/stage": self.stage},
            },
        }


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
    held = view(lease) if lease is not None else None
    return history.effective_outcome(release, held.holder if held else None, held is None or held.expired(time.time()))
