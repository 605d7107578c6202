"""What each dashboard page shows, built from release records and live objects. Pure.

Secret values never reach here: records keep Secrets as references plus a digest of their data
(`releases.record.strip_secret`), and `planning.diff` masks any value it still finds before comparing.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from shiplane.observing import tree as trees
from shiplane.observing.dora import DAY, Dora, dora
from shiplane.planning.diff import diff
from shiplane.releases.history import last_good
from shiplane.releases.record import DIGEST, Outcome, Release

PER_PAGE = 20
PODS_SHOWN = 20  # pods listed per revision before "and N more" (a 1,000-pod tree stays readable)
HASHED = re.compile(r"^(?P<base>.+)-[0-9a-f]{10}$")  # hash-named config, as rendering names it
GOOD = (Outcome.DEPLOYED, Outcome.SUPERSEDED)
BAD = (Outcome.FAILED, Outcome.ROLLED_BACK)


def age(seconds: float | None) -> str:
    """A duration as people read it: 42s, 5m, 3h, 12d."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:.0f}s"


def when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


# --- overview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageCard:
    """One cell of the apps by stages overview."""

    app: str
    stage: str
    namespace: str
    revision: int | None
    outcome: str | None  # of the newest record
    health: str  # healthy | degraded | empty | unknown
    age: str  # since the running release finished
    releases: int
    problem: str = ""  # why the stage could not be read

    def to_json(self) -> dict:
        return asdict(self)


def card(
    app: str, stage: str, namespace: str, history: list[Release], healthy: bool | None, *, now: float
) -> StageCard:
    current = last_good(history)
    health = "empty" if current is None else "unknown" if healthy is None else "healthy" if healthy else "degraded"
    return StageCard(
        app,
        stage,
        namespace,
        current.revision if current else None,
        str(history[-1].outcome) if history else None,
        health,
        age(now - current.finished) if current and current.finished else "-",
        len(history),
    )


# --- timeline -----------------------------------------------------------------------------------


SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")


def image_audit_lines(audit: dict) -> list[str]:
    """The image gate's summary as a release records it (`image_audit`: per image its finding counts,
    what it refused), one line each."""
    out = []
    for image in audit.get("images") or []:
        if not isinstance(image, dict):
            continue
        name = image.get("image", "?")
        if not image.get("scanned", True):
            out.append(f"image {name}: not scanned ({image.get('error', 'no reason recorded')})")
            continue
        counts = image.get("findings") or {}
        ordered = sorted(counts.items(), key=lambda kv: SEVERITIES.index(kv[0]) if kv[0] in SEVERITIES else 99)
        shown = ", ".join(f"{n} {severity}" for severity, n in ordered) or "no findings"
        excepted = len(image.get("excepted") or [])
        out.append(f"image {name}: {shown}" + (f" ({excepted} excepted)" if excepted else ""))
    out.extend(f"image gate: {line}" for line in audit.get("failing") or [])
    return out


def findings_of(release: Release) -> list[str]:
    """Policy and image findings as recorded: the image gate's `image_audit` summary, and any list
    under a key naming findings (fields this shiplane does not know are kept in `extra`)."""
    audit = getattr(release, "image_audit", None) or release.extra.get("image_audit")
    out = image_audit_lines(audit) if isinstance(audit, dict) else []
    for key, value in sorted(release.extra.items()):
        if "finding" not in key.lower() or not isinstance(value, list):
            continue
        for item in value:
            if isinstance(item, dict):
                head = " ".join(str(item[k]) for k in ("severity", "rule", "id", "object") if item.get(k))
                text = item.get("message") or item.get("title") or ""
                out.append(f"{key}: {head}{': ' if head and text else ''}{text}")
            else:
                out.append(f"{key}: {item}")
    return out


@dataclass(frozen=True)
class Row:
    revision: int
    outcome: str
    started: str
    duration: str
    user: str
    ci: str
    commit: str
    message: str
    rollback_of: int | None
    images: dict[str, str]
    migrations: list[dict]
    overrides: list[dict]
    findings: list[str]
    objects: int
    running: bool  # the release running now (the last good one)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    page: int
    pages: int
    total: int

    def to_json(self) -> dict:
        return {"page": self.page, "pages": self.pages, "total": self.total, "rows": [asdict(r) for r in self.rows]}


def row(r: Release, *, running: bool, objects: int | None = None) -> Row:
    """`objects`: how many objects it applied, when `r` was read without them."""
    return Row(
        r.revision,
        str(r.outcome),
        when(r.started),
        f"{r.duration:.1f}s" if r.duration is not None else "-",
        r.user,
        r.ci,
        r.commit[:12],
        r.message.splitlines()[0] if r.message else "",
        r.rollback_of,
        dict(sorted(r.images.items())),
        [{"name": m.name, "job": m.job, "compatibility": m.compatibility, "outcome": m.outcome} for m in r.migrations],
        list(r.overrides),
        findings_of(r),
        len(r.objects) if objects is None else objects,
        running,
    )


def timeline(
    history: list[Release], *, page: int = 1, per_page: int = PER_PAGE, counts: dict[int, int] | None = None
) -> Page:
    """Newest first, one page of rows (only that page's records are turned into rows); `counts`: objects
    per revision, when the history was read without them."""
    total = len(history)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    newest = history[::-1][(page - 1) * per_page : page * per_page]
    current = last_good(history)
    running = current.revision if current else None
    counts = counts or {}
    rows = [row(r, running=r.revision == running, objects=counts.get(r.revision)) for r in newest]
    return Page(rows, page, pages, total)


# --- diffs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectDiff:
    kind: str
    name: str
    state: str  # added | removed | changed
    lines: list[str]


@dataclass(frozen=True)
class Comparison:
    left: str
    right: str
    images: list[tuple[str, str, str]]  # container key, left image, right image (changed only)
    objects: list[ObjectDiff]
    unchanged: int

    @property
    def same(self) -> bool:
        return not self.images and not self.objects

    def to_json(self) -> dict:
        return {
            "left": self.left,
            "right": self.right,
            "images": [{"container": k, "left": a, "right": b} for k, a, b in self.images],
            "objects": [asdict(o) for o in self.objects],
            "unchanged": self.unchanged,
        }


def _key(obj: dict, *, across_stages: bool) -> tuple[str, str]:
    name = obj["metadata"]["name"]
    if across_stages and obj["kind"] in ("ConfigMap", "Secret"):
        found = HASHED.match(name)
        name = found.group("base") if found else name
    return obj["kind"], name


STAGE_LABEL = "shiplane.io/stage"  # differs between any two stages by definition


def _without_stage(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_stage(v) for k, v in value.items() if k != STAGE_LABEL}
    if isinstance(value, list):
        return [_without_stage(v) for v in value]
    return value


def _portable(obj: dict, secrets: dict[str, str]) -> dict:
    """An object as two stages can compare it: without its namespace and the stage's own label; a
    hash-named Secret under its base name wherever it is named, without its data digest. Each stage
    keys its Secrets' hashes and digests with its own key (shiplane.digests), so they never compare
    across stages: that two stages share a value must not show either."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "namespace"}
    if obj.get("kind") == "Secret":
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != DIGEST}
        meta = {k: v for k, v in meta.items() if k != "annotations"}
        if annotations:
            meta["annotations"] = annotations
    return _renamed(_without_stage({**obj, "metadata": meta}), secrets)


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def _secret_names(objects: list[dict]) -> dict[str, str]:
    """Hash-named Secret → `<base>-<hash>` (the same in every stage)."""
    out = {}
    for o in objects:
        found = HASHED.match(o["metadata"]["name"]) if o.get("kind") == "Secret" else None
        if found:
            out[o["metadata"]["name"]] = f"{found.group('base')}-<hash>"
    return out


def compare(left: Release, right: Release, *, across_stages: bool = False) -> Comparison:
    """Field by field, what changed from `left`'s applied objects to `right`'s (Secret data by digest only).

    Across stages, namespaces are left out and hash-named ConfigMaps/Secrets are matched by their base
    name (their hash differs whenever their content does); Secret values are not compared (each stage
    keys its digests with its own key)."""
    if across_stages:
        lnames, rnames = _secret_names(left.objects), _secret_names(right.objects)
        old = {_key(o, across_stages=True): _portable(o, lnames) for o in left.objects}
        new = {_key(o, across_stages=True): _portable(o, rnames) for o in right.objects}
    else:
        old = {_key(o, across_stages=False): o for o in left.objects}
        new = {_key(o, across_stages=False): o for o in right.objects}
    objects, unchanged = [], 0
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is None:
            objects.append(ObjectDiff(*key, "added", []))
        elif b is None:
            objects.append(ObjectDiff(*key, "removed", []))
        else:
            lines = [c.render() for c in diff(a, b)]
            if lines:
                objects.append(ObjectDiff(*key, "changed", lines))
            else:
                unchanged += 1
    images = [
        (k, left.images.get(k, "-"), right.images.get(k, "-"))
        for k in sorted(left.images.keys() | right.images.keys())
        if left.images.get(k) != right.images.get(k)
    ]
    label = (lambda r: f"{r.stage} revision {r.revision}") if across_stages else (lambda r: f"revision {r.revision}")
    return Comparison(label(left), label(right), images, objects, unchanged)


# --- live status --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkloadView:
    """One workload of `observing.tree`'s tree with its readiness as `shiplane status` computes it."""

    node: trees.WorkloadNode
    state: str  # Current | InProgress | Failed (`shiplane.status`); NotFound when it is not there
    message: str

    @property
    def healthy(self) -> bool:
        return self.state == "Current"

    @property
    def restarts(self) -> int:
        return sum(p.restarts for p in self.node.all_pods())

    def shown(self) -> list[trees.RevisionNode]:
        """The revisions worth a row, as `status` prints them: the current one and any still with pods."""
        return [r for r in self.node.revisions if r.pods or r.current]

    def to_json(self) -> dict:
        return {**self.node.to_json(), "state": self.state, "message": self.message, "healthy": self.healthy}


@dataclass(frozen=True)
class StatusView:
    """The status page: the tree `shiplane status` shows, workloads in trouble first."""

    tree: trees.Tree
    workloads: list[WorkloadView]
    at: float  # when it was read (epoch seconds): ages are from then

    @property
    def healthy(self) -> bool:
        return self.tree.revision is not None and all(w.healthy for w in self.workloads)

    def warnings(self, limit: int = 30) -> list[trees.EventNote]:
        """Every Warning the tree holds (workloads, revisions, pods), newest first."""
        found = [
            *(e for w in self.tree.workloads for e in w.warnings),
            *(e for w in self.tree.workloads for r in w.revisions for e in r.warnings),
            *(e for w in self.tree.workloads for p in w.all_pods() for e in p.warnings),
        ]
        return sorted(found, key=lambda e: e.last or 0.0, reverse=True)[:limit]

    def to_json(self) -> dict:
        """`status -o json`'s tree, each workload with its state, and whether all are healthy."""
        return {**self.tree.to_json(), "healthy": self.healthy, "workloads": [w.to_json() for w in self.workloads]}


def natural(name: str) -> list:
    """svc2 before svc10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def status_view(tree: trees.Tree, states: dict[tuple[str, str], tuple[str, str]], *, now: float) -> StatusView:
    """`states`: (kind, name) → (state, message) of each live workload; one not in it is missing."""
    found = [WorkloadView(w, *states.get((w.kind, w.name), ("NotFound", "not found"))) for w in tree.workloads]
    found.sort(key=lambda w: (w.healthy, w.node.kind, natural(w.node.name)))  # trouble first
    return StatusView(tree, found, now)


# --- DORA ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    start: float
    good: int
    bad: int


@dataclass(frozen=True)
class DoraView:
    figures: Dora
    weeks: list[Week]  # oldest first
    durations: list[tuple[int, float, str]]  # revision, seconds, outcome (the newest finished releases)
    lead_times: list[tuple[int, float]]  # revision, seconds


def dora_view(history: list[Release], *, now: float, weeks: int = 12, window: float = 30 * DAY) -> DoraView:
    start = now - weeks * 7 * DAY
    buckets = [Week(start + i * 7 * DAY, 0, 0) for i in range(weeks)]
    counts = [[0, 0] for _ in buckets]
    for r in history:
        if r.finished is None or r.finished < start or r.rollback_of is not None:
            continue
        i = min(weeks - 1, int((r.finished - start) // (7 * DAY)))
        if r.outcome in GOOD:
            counts[i][0] += 1
        elif r.outcome in BAD:
            counts[i][1] += 1
    buckets = [Week(b.start, g, f) for b, (g, f) in zip(buckets, counts, strict=True)]
    finished = [r for r in history if r.duration is not None][-50:]
    leads = [
        (r.revision, r.finished - r.committed)
        for r in history
        if r.committed is not None and r.finished is not None and r.outcome in GOOD and r.rollback_of is None
    ][-50:]
    return DoraView(
        dora(history, now=now, window=window),
        buckets,
        [(r.revision, r.duration or 0.0, str(r.outcome)) for r in finished],
        leads,
    )
