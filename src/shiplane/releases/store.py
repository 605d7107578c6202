"""Where release records live: behind a small protocol, in memory or in the cluster.

In the cluster, a record is one or more Secrets in the stage namespace (a record
can hold config references, so it is treated as sensitive), labelled so a single
list call finds every revision of an app:

    shiplane.release.<app>.v<revision>[.<chunk>]
"""

from __future__ import annotations

from typing import Protocol

from shiplane.kube import Kube, Ref
from shiplane.releases.record import CorruptRecord, Release, decode, encode

LABEL_APP = "shiplane.io/release-of"
LABEL_TARGET = "shiplane.io/target"  # set on records of one target of a spec with `targets:`
LABEL_REVISION = "shiplane.io/revision"
LABEL_OUTCOME = "shiplane.io/outcome"
LABEL_CHUNK = "shiplane.io/chunk"


class Store(Protocol):
    def list(self) -> list[Release]: ...  # oldest first
    def put(self, release: Release) -> None: ...
    def delete(self, revision: int) -> None: ...


class MemoryStore:
    """For unit tests of actions and planning: same protocol, a dict inside."""

    def __init__(self) -> None:
        self.records: dict[int, list[str]] = {}

    def list(self) -> list[Release]:
        return [decode(self.records[r]) for r in sorted(self.records)]

    def put(self, release: Release) -> None:
        self.records[release.revision] = encode(release)

    def delete(self, revision: int) -> None:
        self.records.pop(revision, None)


class ClusterStore:
    """Records as labelled, chunked Secrets in the stage namespace."""

    def __init__(self, kube: Kube, *, app: str, stage: str, namespace: str, target: str = "") -> None:
        self.kube, self.app, self.stage, self.namespace = kube, app, stage, namespace
        self.target = target  # a target's id (spec `targets:`): its own history, even in a shared namespace

    def _name(self, revision: int, chunk: int) -> str:
        app = f"{self.app}.{self.target}" if self.target else self.app
        base = f"shiplane.release.{app}.v{revision}"
        return base if chunk == 0 else f"{base}.{chunk}"

    def _secrets(self, revision: int | None = None) -> list[dict]:
        selector = f"{LABEL_APP}={self.app},shiplane.io/stage={self.stage}"
        selector += f",{LABEL_TARGET}={self.target}" if self.target else f",!{LABEL_TARGET}"
        if revision is not None:
            selector += f",{LABEL_REVISION}={revision}"
        return self.kube.list("v1", "Secret", namespace=self.namespace, label_selector=selector)

    def list(self) -> list[Release]:
        by_revision: dict[int, dict[int, str]] = {}
        totals: dict[int, int] = {}
        for secret in self._secrets():
            if secret["metadata"].get("deletionTimestamp"):
                continue  # retention removed it; the garbage collector has not caught up yet
            labels = secret["metadata"]["labels"]
            revision = int(labels[LABEL_REVISION])
            index, total = (int(x) for x in labels[LABEL_CHUNK].split("-of-"))
            by_revision.setdefault(revision, {})[index] = (secret.get("data") or {}).get("record", "")
            totals[revision] = total
        out = []
        for revision in sorted(by_revision):
            chunks = by_revision[revision]
            if len(chunks) != totals[revision]:
                continue  # a write in progress or cut short: the chunk-0 writer finishes or redoes it
            try:
                out.append(decode([chunks[i] for i in sorted(chunks)]))
            except CorruptRecord:
                continue
        return out

    def put(self, release: Release) -> None:
        chunks = encode(release)
        # Extra chunks first, the head last: a reader only trusts a complete set.
        for index in reversed(range(len(chunks))):
            self.kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "shiplane.io/release.v1",
                    "metadata": {
                        "name": self._name(release.revision, index),
                        "namespace": self.namespace,
                        "labels": {
                            LABEL_APP: self.app,
                            "shiplane.io/stage": self.stage,
                            **({LABEL_TARGET: self.target} if self.target else {}),
                            LABEL_REVISION: str(release.revision),
                            LABEL_OUTCOME: str(release.outcome),
                            LABEL_CHUNK: f"{index}-of-{len(chunks)}",
                            "app.kubernetes.io/managed-by": "shiplane",
                        },
                    },
                    # Each chunk is already base64 (chunk size is a multiple of 4), so it
                    # goes into `data` as is: no second encoding.
                    "data": {"record": chunks[index]},
                },
                force=True,
            )
        # A record that shrank leaves chunks behind: remove those beyond the new count.
        for secret in self._secrets(release.revision):
            index, total = (int(x) for x in secret["metadata"]["labels"][LABEL_CHUNK].split("-of-"))
            if total != len(chunks):
                self.kube.delete(
                    Ref("v1", "Secret", secret["metadata"]["name"], self.namespace), propagation="Background"
                )

    def delete(self, revision: int) -> None:
        for secret in self._secrets(revision):
            self.kube.delete(Ref("v1", "Secret", secret["metadata"]["name"], self.namespace), propagation="Background")
