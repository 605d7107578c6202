"""One deploy per app and stage at a time: a Lease with holder, renewal and expiry.

Unlike Helm's "pending" status (helm#4558), the lock cannot stay stuck: a holder
that dies (kill -9, lost CI runner) stops renewing and the lease expires after
`duration` seconds, after which the next deploy takes it over.
Creation and takeover use the API server's optimistic concurrency (create fails
if it exists; an update carries the resourceVersion it read), so two runs can
never both believe they hold it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass

from shiplane.errors import Conflict, LockHeld, ShiplaneError  # LockHeld: also importable from here
from shiplane.events import Event, Waiting
from shiplane.kube import Kube, Ref


def holder_identity() -> str:
    """user@host pid:<pid> run:<random>: enough to tell who, where and which run."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid:{os.getpid()} run:{uuid.uuid4().hex[:8]}"


def _micro(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> float:
    if not value:
        return 0.0
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class LeaseView:
    holder: str
    renewed: float
    duration: int

    def expired(self, now: float) -> bool:
        return not self.holder or now > self.renewed + self.duration


def view(lease: dict) -> LeaseView:
    spec = lease.get("spec", {})
    return LeaseView(
        spec.get("holderIdentity") or "",
        _parse(spec.get("renewTime") or spec.get("acquireTime")),
        int(spec.get("leaseDurationSeconds") or 0),
    )


class LeaseLock:
    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str,
        app: str,
        holder: str | None = None,
        duration: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.ref = Ref("coordination.k8s.io/v1", "Lease", f"shiplane-lock.{app}", namespace)
        self.holder = holder or holder_identity()
        self.duration = duration
        self.clock = clock
        self.lost = threading.Event()  # set if renewal found someone else holding it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self, current: dict | None, now: float) -> dict:
        transitions = (current or {}).get("spec", {}).get("leaseTransitions", 0)
        meta: dict = {"name": self.ref.name, "namespace": self.ref.namespace}
        if current:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            transitions += 1
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.holder,
                "leaseDurationSeconds": self.duration,
                "acquireTime": _micro(now),
                "renewTime": _micro(now),
                "leaseTransitions": transitions,
            },
        }

    def try_acquire(self) -> LeaseView | None:
        """Take the lock if free or expired; return the holder's view if someone else has it."""
        current = self.kube.get(self.ref)
        now = self.clock()
        if current is not None:
            seen = view(current)
            if seen.holder != self.holder and not seen.expired(now):
                return seen
        try:
            if current is None:
                self.kube.create(self._body(None, now))
            else:
                self.kube.replace(self._body(current, now))
        except Conflict:
            latest = self.kube.get(self.ref)
            return view(latest) if latest else LeaseView("(someone, just now)", now, self.duration)
        return None

    def acquire(self, *, wait: bool = True, timeout: float = 600) -> Generator[Event]:
        started = self.clock()
        while True:
            held = self.try_acquire()
            if held is None:
                self._start_renewing()
                return
            left = held.renewed + held.duration - self.clock()
            what = f"deploy lock held by {held.holder} (expires in {max(0, left):.0f}s unless renewed)"
            if not wait or self.clock() - started > timeout:
                raise LockHeld(
                    f"{self.ref}: {what}",
                    hint="wait for it, or if that run is gone for sure: shiplane unlock --stage STAGE",
                )
            yield Waiting("deploy lock", self.clock() - started, what)
            time.sleep(1)

    def _renew_once(self) -> None:
        current = self.kube.get(self.ref)
        if current is None or view(current).holder != self.holder:
            self.lost.set()
            return
        body = self._body(current, self.clock())
        body["spec"]["acquireTime"] = current["spec"].get("acquireTime")
        body["spec"]["leaseTransitions"] = current["spec"].get("leaseTransitions", 0)
        self.kube.replace(body)

    def _start_renewing(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.duration / 3):
                with contextlib.suppress(ShiplaneError):  # transient: the next tick retries before expiry
                    self._renew_once()
                if self.lost.is_set():
                    return

        self._thread = threading.Thread(target=loop, name="shiplane-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and delete the Lease, but only if it is still ours."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        current = self.kube.get(self.ref)
        if current is not None and view(current).holder == self.holder:
            with contextlib.suppress(Conflict):  # taken over in between: not ours to delete any more
                self.kube.delete(self.ref, resource_version=current["metadata"]["resourceVersion"])


def force_unlock(kube: Kube, *, namespace: str, app: str) -> LeaseView | None:
    """`shiplane unlock`: delete the Lease whoever holds it; return who held it."""
    ref = Ref("coordination.k8s.io/v1", "Lease", f"shiplane-lock.{app}", namespace)
    current = kube.get(ref)
    if current is None:
        return None
    kube.delete(ref)
    return view(current)
