"""The rollout loop's side of fail-fast: collects what the watches deliver, reads the
nodes' room when a pod is unschedulable, and asks the pure `status.failfast` rules."""

from __future__ import annotations

from collections.abc import Generator

from shiplane.errors import KubeError
from shiplane.events import Event, Note
from shiplane.kube import Kube
from shiplane.status import capacity, failfast


class FailFastWatch:
    """Feeds what the rollout's watches see to a `failfast.Watchdog`, about once a second.

    The nodes' free room (for the unschedulable rule) is read only while some pod is
    unschedulable, at most every ROOMS_EVERY seconds: nodes, and every pod bound to them.
    """

    ROOMS_EVERY = 10.0

    def __init__(self, kube: Kube, rules: tuple[failfast.Rule, ...]) -> None:
        self.kube, self.watchdog = kube, failfast.Watchdog(rules)
        self.replicasets: dict[str, dict] = {}
        self.events: dict[str, dict] = {}
        self.first_version: dict[str, str | None] = {}  # event uid → resourceVersion first seen
        self.rooms: list[capacity.NodeRoom] | None = None
        self.nodes: list[dict] = []
        self.rooms_at: float | None = None
        self.rooms_readable = True
        self.checked = float("-inf")

    def saw_event(self, event: dict | None, names: tuple[str, ...], *, listed: bool) -> None:
        """Keep creation events of the tracked workloads. A FailedCreate counts once it happens
        while we watch (new, or repeated since first listed): one listed from an earlier attempt
        may be stale (the cause fixed meanwhile, the controller not yet retried)."""
        if not event:
            return
        involved = event.get("involvedObject") or {}
        if event.get("reason") not in ("FailedCreate", "SuccessfulCreate"):
            return
        if not involved.get("name", "").startswith(names):
            return
        meta = event.get("metadata") or {}
        uid, version = meta.get("uid", ""), meta.get("resourceVersion")
        first = self.first_version.setdefault(uid, version)
        if event.get("reason") == "SuccessfulCreate" or not listed or version != first:
            self.events[uid] = event

    def saw_replicaset(self, name: str, obj: dict | None) -> None:
        if obj is None:
            self.replicasets.pop(name, None)
        else:
            self.replicasets[name] = obj

    def _read_rooms(self, leaving: frozenset[str], now: float) -> Generator[Event]:
        self.rooms_at = now
        try:
            self.nodes = self.kube.list("v1", "Node")
            bound = self.kube.list("v1", "Pod", field_selector="status.phase!=Succeeded,status.phase!=Failed")
        except KubeError as err:
            self.rooms_readable = False
            yield Note(f"fail-fast: cannot read the nodes' room ({err.message}); unschedulable pods wait for --timeout")
            return
        self.rooms = capacity.rooms(self.nodes, bound, leaving=leaving)

    def check(self, workloads: list[dict], pods: dict[str, dict], now: float) -> Generator[Event, None, list]:
        """The verdicts (a rollout failure each); notes conditions as they first appear."""
        if now - self.checked < 1.0:
            return []
        self.checked = now
        observed, leaving = failfast.observe(workloads, pods.values(), self.replicasets.values(), self.events.values())
        stale = self.rooms_at is None or now - self.rooms_at >= self.ROOMS_EVERY
        if self.rooms_readable and stale and failfast.needs_rooms(observed):
            yield from self._read_rooms(leaving, now)
        result = self.watchdog.check(observed, now, rooms=self.rooms, nodes=self.nodes)
        for v in result.started:
            if v.rule.grace > 0 and v not in result.verdicts:
                yield Note(f"fail-fast: {v.workload}: {v.rule.cause} ({v.rule.id}); failing in {v.rule.grace:.0f}s")
        return result.verdicts
