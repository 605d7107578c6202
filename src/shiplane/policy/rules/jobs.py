"""Jobs clean up after themselves; CronJobs do not pile up or silently skip runs."""

from __future__ import annotations

from shiplane.policy.catalog import Group, Hit, rule
from shiplane.policy.findings import Severity


@rule(
    "job-ttl-missing",
    Group.JOBS,
    Severity.LOW,
    "finished Job is never cleaned up",
    why="Without ttlSecondsAfterFinished finished Jobs and their pods stay forever and clutter the namespace.",
    fix="Set spec.ttlSecondsAfterFinished (e.g. 86400).",
    kinds={"Job"},
)
def job_ttl(obj, ctx):
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    if "ttlSecondsAfterFinished" not in (obj.get("spec") or {}) and not any(o.get("kind") == "CronJob" for o in owners):
        yield Hit(("spec",))


@rule(
    "cronjob-deadline-missing",
    Group.JOBS,
    Severity.LOW,
    "CronJob without startingDeadlineSeconds",
    why="After 100 missed schedules (e.g. controller downtime) a CronJob without a deadline stops scheduling.",
    fix="Set spec.startingDeadlineSeconds (e.g. 300).",
    kinds={"CronJob"},
)
def cron_deadline(obj, ctx):
    if "startingDeadlineSeconds" not in (obj.get("spec") or {}):
        yield Hit(("spec",))


@rule(
    "cronjob-concurrency-allowed",
    Group.JOBS,
    Severity.LOW,
    "CronJob runs may overlap",
    why="The default concurrencyPolicy Allow starts a new run while the last one is still going: double work.",
    fix="Set spec.concurrencyPolicy: Forbid (or Replace).",
    kinds={"CronJob"},
)
def cron_concurrency(obj, ctx):
    if (obj.get("spec") or {}).get("concurrencyPolicy", "Allow") == "Allow":
        yield Hit(("spec", "concurrencyPolicy") if "concurrencyPolicy" in obj.get("spec", {}) else ("spec",))


RULES = [job_ttl, cron_deadline, cron_concurrency]
