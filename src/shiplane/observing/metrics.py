"""Prometheus metrics of deployed stages: built from release records and live workload figures.

Pure: `registry(stages, now=)` fills a fresh `CollectorRegistry`; `exposition` renders it with
prometheus_client's own writer. Each run computes everything from the records again, so
"counters" count the releases the records still hold (retention drops old ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from shiplane.observing.dora import DAY, dora
from shiplane.releases.history import last_good
from shiplane.releases.record import Release

# Deploys take seconds to tens of minutes.
DURATION_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    desired: int | None
    ready: int | None
    restarts: int
    oom_kills: int


@dataclass(frozen=True)
class StageFigures:
    """What one stage's metrics are made of: its records (oldest first, outcomes as a reader sees
    them) and its current release's workloads as they are live."""

    app: str
    stage: str
    history: list[Release]
    workloads: list[Workload] = field(default_factory=list)


def oom_kills(pods: list[dict], selector: dict[str, str]) -> int:
    """Containers of the pods `selector` picks whose current or last termination was OOMKilled."""
    count = 0
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            ended = [((cs.get(s) or {}).get("terminated") or {}) for s in ("state", "lastState")]
            count += any(t.get("reason") == "OOMKilled" for t in ended)
    return count


def _buckets(values: list[float]) -> list[tuple[str, float]]:
    """Cumulative histogram buckets, as Prometheus counts them (`le`, count), ending with +Inf."""
    out = [(str(float(b)), float(sum(1 for v in values if v <= b))) for b in DURATION_BUCKETS]
    return [*out, ("+Inf", float(len(values)))]


class Figures(Collector):
    """Collects the metrics of `stages` (no `_created` samples: these are recomputed, not live counters)."""

    def __init__(self, stages: list[StageFigures], *, now: float, window: float) -> None:
        self.stages, self.now, self.window = stages, now, window

    def collect(self):
        keys = ["app", "stage"]
        at = [*keys, "kind", "workload"]
        releases = CounterMetricFamily("shiplane_releases", "Release records by outcome.", labels=[*keys, "outcome"])
        duration = HistogramMetricFamily(
            "shiplane_deploy_duration_seconds", "Wall time of finished releases (deploys and rollbacks).", labels=keys
        )
        rollbacks = CounterMetricFamily(
            "shiplane_rollbacks", "Releases that rolled back to an earlier one.", labels=keys
        )
        current = GaugeMetricFamily("shiplane_current_revision", "Revision of the release running now.", labels=keys)
        desired = GaugeMetricFamily("shiplane_workload_replicas_desired", "Replicas a workload asks for.", labels=at)
        ready = GaugeMetricFamily(
            "shiplane_workload_replicas_ready", "Replicas of a workload that are ready.", labels=at
        )
        restarts = GaugeMetricFamily(
            "shiplane_workload_container_restarts", "Container restarts of a workload's current pods.", labels=at
        )
        ooms = GaugeMetricFamily(
            "shiplane_workload_oom_kills",
            "Containers of a workload's current pods whose last termination was OOMKilled.",
            labels=at,
        )
        frequency = GaugeMetricFamily(
            "shiplane_dora_deployment_frequency",
            "DORA: successful deploys per day over the window.",
            labels=[*keys, "window"],
        )
        lead = GaugeMetricFamily(
            "shiplane_dora_lead_time_seconds",
            "DORA: median time from the spec's git commit to the finished deploy.",
            labels=keys,
        )
        failure = GaugeMetricFamily(
            "shiplane_dora_change_failure_rate",
            "DORA: failed or rolled-back deploys / all finished deploys (0..1).",
            labels=keys,
        )
        restore = GaugeMetricFamily(
            "shiplane_dora_time_to_restore_seconds",
            "DORA: median time from a failed deploy to the next successful release.",
            labels=keys,
        )
        days = f"{self.window / DAY:g}d"
        for s in self.stages:
            key = [s.app, s.stage]
            by_outcome: dict[str, int] = {}
            for r in s.history:
                by_outcome[str(r.outcome)] = by_outcome.get(str(r.outcome), 0) + 1
            for outcome, n in sorted(by_outcome.items()):
                releases.add_metric([*key, outcome], n)
            took = [r.duration for r in s.history if r.duration is not None]
            duration.add_metric(key, _buckets(took), sum_value=sum(took))
            rollbacks.add_metric(key, sum(1 for r in s.history if r.rollback_of is not None))
            good = last_good(s.history)
            if good is not None:
                current.add_metric(key, good.revision)
            for w in s.workloads:
                labels = [*key, w.kind, w.name]
                if w.desired is not None:
                    desired.add_metric(labels, w.desired)
                ready.add_metric(labels, w.ready or 0)
                restarts.add_metric(labels, w.restarts)
                ooms.add_metric(labels, w.oom_kills)
            figures = dora(s.history, now=self.now, window=self.window)
            frequency.add_metric([*key, days], figures.deployment_frequency)
            for family, value in (
                (lead, figures.lead_time),
                (failure, figures.change_failure_rate),
                (restore, figures.time_to_restore),
            ):
                if value is not None:  # no data is no sample, not a made-up zero
                    family.add_metric(key, value)
        yield from (releases, duration, rollbacks, current, desired, ready, restarts, ooms)
        yield from (frequency, lead, failure, restore)


def registry(stages: list[StageFigures], *, now: float, window: float = 30 * DAY) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(Figures(stages, now=now, window=window))
    return reg


def exposition(reg: CollectorRegistry) -> str:
    return generate_latest(reg).decode()
