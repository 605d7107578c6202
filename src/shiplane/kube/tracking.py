"""Watch many objects at once: one list+watch per kind, feeding one queue.

Rollout tracking is driven by these watches, not by polling each object: a kind
is listed once (giving a resourceVersion), then watched from there; when the
watch expires (410 Gone) it lists again and resumes. Threads only read and queue;
the caller's loop owns all state.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from kubernetes import watch as k8s_watch

from shiplane.errors import KubeError
from shiplane.kube.client import _API_ERRORS, Kube, _translate


@dataclass(frozen=True)
class Seen:
    """One observation: the object's latest state (None if deleted)."""

    kind: str
    name: str
    obj: dict | None
    listed: bool = False  # from a (re)list, not a watch: it may predate the tracking


class Informer:
    def __init__(
        self, kube: Kube, api_version: str, kind: str, namespace: str, out: queue.Queue, label_selector: str = ""
    ) -> None:
        self.kube, self.api_version, self.kind = kube, api_version, kind
        self.namespace, self.selector, self.out = namespace, label_selector, out
        self._stop = threading.Event()
        self._watch: k8s_watch.Watch | None = None
        self.thread = threading.Thread(target=self._run, name=f"watch-{kind}", daemon=True)

    def start(self) -> Informer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._watch:
            self._watch.stop()

    def _run(self) -> None:
        res = self.kube.resource(self.api_version, self.kind)
        while not self._stop.is_set():
            try:
                listing = res.get(namespace=self.namespace, label_selector=self.selector or None).to_dict()
                for item in listing["items"]:
                    item.setdefault("kind", self.kind)
                    item.setdefault("apiVersion", self.api_version)
                    self.out.put(Seen(self.kind, item["metadata"]["name"], item, listed=True))
                version = listing["metadata"]["resourceVersion"]
                self._watch = k8s_watch.Watch()
                for kind, obj in self.kube.watch(
                    res,
                    self._watch,
                    namespace=self.namespace,
                    label_selector=self.selector or None,
                    resource_version=version,
                    timeout=60,
                ):
                    if self._stop.is_set():
                        return
                    if not obj or obj.get("kind") == "Status" or "metadata" not in obj:
                        break  # expired or cut short: relist
                    name = obj["metadata"]["name"]
                    self.out.put(Seen(self.kind, name, None if kind == "DELETED" else obj))
            except _API_ERRORS as err:
                if getattr(err, "status", None) != 410 and not self._stop.is_set():
                    self.out.put(_translate(err, f"watch {self.kind}"))  # the Status kept, not the raw repr
                    self._stop.wait(1)  # the API server may be restarting: retry shortly
            except Exception as err:  # a background thread must report, never die with a traceback
                if not self._stop.is_set():
                    self.out.put(KubeError(f"watch {self.kind}: unexpected {type(err).__name__}: {err}"))
                    self._stop.wait(1)


class Tracker:
    """Informers for several kinds in one namespace; `next(timeout)` returns the next observation.

    `unlabelled` kinds (Events carry no labels) are watched without the label selector.
    """

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        kinds: list[tuple[str, str]],
        label_selector: str = "",
        unlabelled: tuple[str, ...] = ("Event",),
    ) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.informers = [
            Informer(kube, av, kind, namespace, self.queue, "" if kind in unlabelled else label_selector)
            for av, kind in kinds
        ]

    def __enter__(self) -> Tracker:
        for informer in self.informers:
            informer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for informer in self.informers:
            informer.stop()

    def next(self, timeout: float) -> Seen | KubeError | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
