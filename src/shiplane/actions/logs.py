"""`shiplane logs`: every pod's logs of a service (or of the whole app), merged, each line tagged with
its pod; `follow` starts a stream for each new pod (a rollout's) and re-opens a container's stream
after a restart, from the last line it showed.

Pods come from the current release's workloads (their selectors); the logs from the API's
`pods/log`, so any kubelet serves them (on the local control plane: kwok's Logs objects).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from shiplane.actions.live import Trouble
from shiplane.actions.target import Target
from shiplane.errors import InputError, KubeError, Unreachable
from shiplane.kube.tracking import Seen, Tracker
from shiplane.observing.tree import WORKLOAD_KINDS
from shiplane.releases.history import last_good


@dataclass(frozen=True)
class LogLine:
    pod: str
    container: str
    time: str | None  # RFC 3339 as the API gave it (nanoseconds sort as text)
    text: str
    containers: int = 1  # how many containers the pod has (a prefix names the container only then)

    @property
    def prefix(self) -> str:
        return f"{self.pod}/{self.container}" if self.containers > 1 else self.pod

    def to_json(self) -> dict:
        return {"pod": self.pod, "container": self.container, "time": self.time, "text": self.text}


def split(raw: str) -> tuple[str | None, str]:
    """`<RFC 3339> <text>` (a log line read with timestamps) → (time, text)."""
    stamp, sep, text = raw.partition(" ")
    if sep and stamp[:4].isdigit() and "T" in stamp:
        return stamp, text
    return None, raw


def selector(target: Target, service: str | None) -> str:
    """The label selector of the service's pods (of all the app's pods without a service)."""
    if service is None:
        return f"app.kubernetes.io/part-of={target.app}"
    release = last_good(target.store().list())
    if release is None:
        raise InputError(f"nothing deployed in {target.app}/{target.stage}: no logs to show")
    workloads = [o for o in release.objects if o["kind"] in WORKLOAD_KINDS and o["kind"] != "CronJob"]
    for o in workloads:
        labels = o["metadata"].get("labels") or {}
        if service in (o["metadata"]["name"], labels.get("app.kubernetes.io/name")):
            spec = o.get("spec") or {}
            match = (spec.get("selector") or {}).get("matchLabels") or {}
            if o["kind"] == "Job":
                match = {"job-name": o["metadata"]["name"]}
            return ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    names = sorted({o["metadata"]["name"] for o in workloads})
    raise InputError(f"no service {service!r} in {target.app}/{target.stage}", hint=f"services: {', '.join(names)}")


def _containers(pod: dict) -> list[str]:
    return [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]


def _restarts(pod: dict, container: str) -> int:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            return int(cs.get("restartCount") or 0)
    return 0


def _running(pod: dict, container: str) -> bool:
    return any(
        cs.get("name") == container and "running" in (cs.get("state") or {})
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
    )


def _started(pod: dict, container: str) -> bool:
    """Whether the container has (or had) a log: it runs or ran at least once."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            state = cs.get("state") or {}
            return "running" in state or "terminated" in state or bool(cs.get("lastState"))
    return False


def read(target: Target, service: str | None, *, since: float | None = None) -> tuple[list[LogLine], list[Trouble]]:
    """Every line the service's pods logged (in the last `since` seconds), merged by time; and the
    containers whose log could not be read (the others are still shown)."""
    pods = target.kube.list("v1", "Pod", namespace=target.namespace, label_selector=selector(target, service))
    out: list[LogLine] = []
    troubles: list[Trouble] = []
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        name, containers = pod["metadata"]["name"], _containers(pod)
        for c in containers:
            if not _started(pod, c):
                continue
            try:
                for raw in target.kube.pod_log(
                    name, target.namespace, container=c, since_seconds=int(since) if since else None, timeout=60
                ):
                    stamp, text = split(raw)
                    out.append(LogLine(name, c, stamp, text, len(containers)))
            except KubeError as err:
                if isinstance(err, Unreachable):
                    raise
                troubles.append(Trouble(f"{name}/{c}: {err.message}"))
    return sorted(out, key=lambda x: x.time or ""), troubles  # stable: a pod's order kept among equal times


Shown = tuple[str | None, frozenset[str]]  # a container's newest time shown, and the texts shown at it


def fresh(shown: Shown, line: LogLine) -> Shown | None:
    """What has been shown once `line` is too; None if it was shown already. A stream re-opened
    after a restart starts at the last time shown (`sinceTime` includes it): lines before it, and
    lines at it already shown, are dropped."""
    stamp, texts = shown
    if line.time is None:
        return shown
    if stamp is not None and (line.time < stamp or (line.time == stamp and line.text in texts)):
        return None
    return line.time, (texts if line.time == stamp else frozenset()) | {line.text}


class _Stream(threading.Thread):
    """Follows one container's log into the queue; reports its end (the container stopped)."""

    def __init__(self, target: Target, pod: str, container: str, containers: int, since, out: queue.Queue):
        super().__init__(name=f"logs-{pod}-{container}", daemon=True)
        self.target, self.pod, self.container, self.containers = target, pod, container, containers
        self.since, self.out = since, out  # since: (RFC 3339 of the last line shown, or None, seconds or None)
        self.restarts = 0  # the container's restart count when the stream opened

    def run(self) -> None:
        last, seconds = self.since
        try:
            for raw in self.target.kube.pod_log(
                self.pod,
                self.target.namespace,
                container=self.container,
                follow=True,
                since_time=last,
                since_seconds=seconds,
            ):
                stamp, text = split(raw)
                self.out.put(LogLine(self.pod, self.container, stamp, text, self.containers))
        except KubeError as err:
            self.out.put(Trouble(f"{self.pod}/{self.container}: {err.message}"))
        except Exception as err:  # a background thread reports, never dies with a traceback
            self.out.put(Trouble(f"{self.pod}/{self.container}: {type(err).__name__}: {err}"))
        self.out.put(("ended", self.pod, self.container))


def follow(target: Target, service: str | None, *, since: float | None = None) -> Iterator[LogLine | Trouble]:
    """The service's logs as they are written, until the caller stops iterating: a stream per
    container of every pod the selector matches, now or later (a rollout's new pods); a stream
    that ends (a restart) is re-opened from its last line once the container runs again."""
    sel = selector(target, service)
    out: queue.Queue = queue.Queue()
    pods: dict[str, dict] = {}
    streams: dict[tuple[str, str], _Stream] = {}
    last: dict[tuple[str, str], Shown] = {}
    ended: dict[tuple[str, str], int] = {}  # a stream that ended: the container's restart count then
    retry: dict[tuple[str, str], tuple[float, float]] = {}  # cut while running: (when, backoff) to re-open

    def start(pod: dict) -> None:
        name, containers = pod["metadata"]["name"], _containers(pod)
        for c in containers:
            key = (name, c)
            if (key in streams and streams[key].is_alive()) or not _started(pod, c):
                continue
            if key in ended and _restarts(pod, c) <= ended[key] and key not in retry:
                continue  # stopped: its stream re-opens once the container restarts
            shown = last.get(key, (None, frozenset()))[0]
            streams[key] = _Stream(target, name, c, len(containers), (shown, None if shown else since), out)
            streams[key].restarts = _restarts(pod, c)
            streams[key].start()

    with Tracker(target.kube, target.namespace, [("v1", "Pod")], sel) as tracker:
        while True:
            seen = tracker.next(timeout=0.05)
            if isinstance(seen, KubeError):
                yield Trouble(f"{seen.message} (retrying)")
            elif isinstance(seen, Seen):
                if seen.obj is None:
                    pods.pop(seen.name, None)
                else:
                    pods[seen.name] = seen.obj
                    start(seen.obj)
            for key, (when, _) in list(retry.items()):
                if time.monotonic() >= when and key[0] in pods:
                    start(pods[key[0]])
                elif key[0] not in pods:
                    retry.pop(key)
            while True:
                try:
                    item = out.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, tuple):  # a stream ended: re-opened when the pod shows a restart
                    _, name, c = item
                    key, pod = (name, c), pods.get(name) or {}
                    ended[key] = streams[key].restarts
                    if _running(pod, c) and _restarts(pod, c) == ended[key]:
                        # Cut while the container runs (the node or the API server went away): re-open
                        # from the last line shown, backing off while it keeps failing.
                        backoff = min(retry.get(key, (0.0, 0.5))[1] * 2, 10.0)
                        retry[key] = (time.monotonic() + backoff, backoff)
                    elif name in pods:
                        retry.pop(key, None)
                        start(pods[name])  # the restart may already be known
                    continue
                if isinstance(item, LogLine):
                    key = (item.pod, item.container)
                    if key in retry and streams[key].is_alive():
                        retry.pop(key)  # the re-opened stream delivers again
                    after = fresh(last.get(key, (None, frozenset())), item)
                    if after is None:
                        continue
                    last[key] = after
                yield item
