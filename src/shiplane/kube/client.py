"""A small facade over `kubernetes.dynamic`: apply, get, list, delete, wait by watch."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError

from shiplane.errors import Conflict, CredentialsRejected, InputError, KubeError, Retryable, TimedOut, Unreachable
from shiplane.events import Event, Waiting
from shiplane.kube import kubeconfig as kubeconfig_file

FIELD_MANAGER = "shiplane"
# Everything the client raises for a failed request: HTTP errors and connection failures.
_API_ERRORS = (DynamicApiError, ApiException, urllib3.exceptions.HTTPError)


@dataclass(frozen=True)
class Ref:
    """Names one object: apiVersion, kind, namespace (None for cluster-scoped), name."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def of(cls, obj: dict) -> Ref:
        meta = obj.get("metadata", {})
        return cls(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


def _unreachable_reason(err: Exception) -> str:
    """The short cause of a failed connection: 'Connection refused', a TLS or DNS error."""
    cause = getattr(err, "reason", None) or err  # MaxRetryError wraps NewConnectionError & co.
    text = str(cause)
    return text.split("): ", 1)[-1] if "): " in text else text


def _translate(err: Exception, what: str) -> KubeError:
    """ApiException/DynamicApiError → KubeError (Retryable for transient codes), Status kept.

    The one seam where API errors are classified; callers ask the KubeError's properties
    (`reason`, `causes`, `is_immutable`, …), which read the Status payload kept here.
    """
    status_code = getattr(err, "status", None)
    if status_code is None and isinstance(err, urllib3.exceptions.HTTPError):
        return Unreachable(f"{what}: API server not reachable: {_unreachable_reason(err)}")
    body = getattr(err, "body", None)
    payload: dict = {}
    if isinstance(body, bytes | str) and body:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"message": str(body)[:500]}
    if not isinstance(payload, dict):
        payload = {"message": str(payload)[:500]}
    if status_code is not None and "code" not in payload:
        payload["code"] = status_code
    message = payload.get("message") or getattr(err, "reason", None) or str(err)
    if status_code == 409:
        cls: type[KubeError] = Conflict
    elif status_code is None or status_code in (429, 500, 502, 503, 504):
        cls = Retryable
    else:
        cls = KubeError
    return cls(f"{what}: {message} (HTTP {status_code})", status=payload)


def _current_context(kubeconfig: str | Path | None) -> str:
    """The kubeconfig's current-context (for messages only: any failure gives "")."""
    try:
        _, active = k8s_config.list_kube_config_contexts(str(kubeconfig) if kubeconfig else None)
    except Exception:  # the config loaded fine a moment ago; a name for a message is not worth failing for
        return ""
    return str((active or {}).get("name") or "")


RETRY_FOR = 30.0  # seconds: rides out an API server restart or a brief 429/5xx storm
REACH_FOR = 15.0  # seconds: how long a command waits, showing it, for an API server that does not answer


def retrying(fn):
    """Retry a request on Retryable errors (connection refused, 429, 5xx) with backoff.

    Every wrapped call is idempotent (apply, get, list, delete, replace with a
    resourceVersion), so repeating one that may have landed is safe.
    """

    @functools.wraps(fn)
    def wrapper(self: Kube, *args, **kwargs):
        deadline = time.monotonic() + RETRY_FOR
        delay = 0.25
        while True:
            try:
                return fn(self, *args, **kwargs)
            except Unreachable as err:
                if time.monotonic() + delay > deadline:
                    raise self.unreachable(err, RETRY_FOR) from None
            except Retryable:
                if time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 4.0)

    return wrapper


def _plain(_client: Any, instance: dict) -> dict:
    """A response as plain JSON data, the same as `ResourceInstance(...).to_dict()` (list items get their
    apiVersion and kind) without building and unbuilding an object per field: that was a third of
    `plan`'s CPU on an 800-object app."""
    kind = instance.get("kind") or ""
    if kind.endswith("List") and "items" in instance:
        instance["items"] = instance["items"] or []
        for item in instance["items"]:
            item.setdefault("apiVersion", instance.get("apiVersion"))
            item.setdefault("kind", kind[:-4])
    return instance


class Kube:
    """One API connection. Create with `Kube.connect()`; cheap to keep for a whole run."""

    def __init__(self, api_client: k8s_client.ApiClient, *, context: str = "") -> None:
        self.api_client = api_client
        self.context = context  # the kubeconfig context, named in errors
        self._dynamic: DynamicClient | None = None

    @property
    def server(self) -> str:
        return self.api_client.configuration.host

    def unreachable(self, err: KubeError, waited: float) -> Unreachable:
        """The error a command ends with when the API server never answered within `waited` seconds."""
        reason = err.message.rsplit("not reachable: ", 1)[-1]
        context = f" (context {self.context})" if self.context else ""
        return Unreachable(
            f"API server {self.server}{context} not reachable after {waited:.0f} s: {reason}",
            hint="is the cluster running, and do the kubeconfig and --context point at it?",
        )

    def wait_reachable(self, timeout: float = REACH_FOR) -> Generator[Event, None, str]:
        """Ask the API server for its version until it answers, showing the wait; its version.

        Raises Unreachable (exit 3) after `timeout` seconds: a machine that cannot reach its
        cluster is told so, instead of a long silent retry ending in a misleading exit 1.
        """
        started = time.monotonic()
        delay = 0.5
        while True:
            try:
                return self._version(request_timeout=(3, 10))
            except Retryable as err:
                elapsed = time.monotonic() - started
                if elapsed >= timeout:
                    raise self.unreachable(err, elapsed) if isinstance(err, Unreachable) else err from None
                yield Waiting(
                    f"API server {self.server}",
                    elapsed,
                    f"not reachable, retrying ({elapsed:.0f} s of {timeout:.0f} s): {err.message.rsplit(': ', 1)[-1]}",
                )
                time.sleep(min(delay, max(0.0, timeout - elapsed)))
                delay = min(delay * 2, 4.0)
            except KubeError as err:
                if err.code == 401:
                    context = f" (context {self.context})" if self.context else ""
                    raise CredentialsRejected(
                        f"API server {self.server}{context} rejected the kubeconfig's credentials (401 Unauthorized)",
                        status=err.status,
                        hint="log in again or refresh the token/certificate of this context",
                    ) from None
                return ""  # it answered (a 403 for /version, say): reachable; requests will say the rest

    @classmethod
    def connect(cls, kubeconfig: str | Path | None = None, context: str | None = None) -> Kube:
        """From a kubeconfig file (default: $KUBECONFIG / ~/.kube/config); exec plugins work."""
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_kube_config(
                config_file=kubeconfig_file.check(kubeconfig),  # shape and limits first: see kube.kubeconfig
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (k8s_config.ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError) as err:
            raise InputError(f"cannot load kubeconfig {kubeconfig or '(default)'}: {err}") from None
        # Concurrent applies and one watch per kind share this pool: size it for both.
        configuration.connection_pool_maxsize = 32
        return cls(k8s_client.ApiClient(configuration), context=context or _current_context(kubeconfig))

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            try:
                self._dynamic = DynamicClient(self.api_client)
            except _API_ERRORS as err:
                raise _translate(err, "API discovery failed") from None
        return self._dynamic

    def resource(self, api_version: str, kind: str):
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise KubeError(f"the cluster does not serve {kind} in {api_version}") from None

    def refresh_discovery(self) -> None:
        """Forget what the server served: after a CustomResourceDefinition is established, its kind is new."""
        if self._dynamic is not None:
            try:
                self._dynamic.resources.invalidate_cache()
            except _API_ERRORS as err:
                raise _translate(err, "API discovery failed") from None

    def served(self, api_version: str, kind: str) -> bool:
        """Discovery: does this server serve `kind` in `api_version` (a stale cache is refreshed once)?"""
        try:
            self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return False
        except _API_ERRORS as err:
            raise _translate(err, f"discover {kind} in {api_version}") from None
        return True

    def served_versions(self, kind: str) -> list[str]:
        """Discovery: every apiVersion this server serves `kind` in (searches all groups)."""
        try:
            found = self.dynamic.resources.search(kind=kind)
        except ResourceNotFoundError:
            return []
        except _API_ERRORS as err:
            raise _translate(err, f"discover {kind}") from None
        return sorted({r.group_version for r in found if "/" not in r.name})

    def _version(self, request_timeout: tuple[float, float] | None = None) -> str:
        try:
            return k8s_client.VersionApi(self.api_client).get_code(_request_timeout=request_timeout).git_version
        except _API_ERRORS as err:
            raise _translate(err, "get server version") from None

    @retrying
    def server_version(self) -> str:
        return self._version()

    @retrying
    def apply(self, obj: dict, *, force: bool = False, dry_run: bool = False) -> dict:
        """Server-side apply as field manager `shiplane`; returns the object the server holds."""
        ref = Ref.of(obj)
        res = self.resource(ref.api_version, ref.kind)
        kwargs = {"field_manager": FIELD_MANAGER, "force_conflicts": force}
        if dry_run:
            kwargs["dry_run"] = "All"
        try:
            out = res.server_side_apply(body=obj, name=ref.name, namespace=ref.namespace, **kwargs)
        except _API_ERRORS as err:
            raise _translate(err, f"apply {ref}") from None
        return out.to_dict()

    @retrying
    def create(self, obj: dict) -> dict:
        """Create; raises Conflict if it exists (the atomic step locks are built on)."""
        ref = Ref.of(obj)
        try:
            return self.resource(ref.api_version, ref.kind).create(body=obj, namespace=ref.namespace).to_dict()
        except _API_ERRORS as err:
            raise _translate(err, f"create {ref}") from None

    @retrying
    def replace(self, obj: dict) -> dict:
        """Update with the object's resourceVersion; raises Conflict if it changed meanwhile."""
        ref = Ref.of(obj)
        try:
            return self.resource(ref.api_version, ref.kind).replace(body=obj, namespace=ref.namespace).to_dict()
        except _API_ERRORS as err:
            raise _translate(err, f"update {ref}") from None

    @retrying
    def get(self, ref: Ref) -> dict | None:
        res = self.resource(ref.api_version, ref.kind)
        try:
            return res.get(name=ref.name, namespace=ref.namespace, serializer=_plain)
        except NotFoundError:
            return None
        except _API_ERRORS as err:
            raise _translate(err, f"get {ref}") from None

    @retrying
    def get_metadata(self, ref: Ref) -> dict | None:
        """Only the object's metadata (a PartialObjectMetadata): a Secret's data never leaves the server."""
        res = self.resource(ref.api_version, ref.kind)
        accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
        try:
            out = res.get(name=ref.name, namespace=ref.namespace, serializer=_plain, header_params={"Accept": accept})
        except NotFoundError:
            return None
        except _API_ERRORS as err:
            raise _translate(err, f"get {ref}") from None
        return {"metadata": out.get("metadata", {})}

    @retrying
    def list(self, api_version: str, kind: str, *, namespace: str | None = None, **selectors: str) -> list[dict]:
        res = self.resource(api_version, kind)
        try:
            return res.get(namespace=namespace, serializer=_plain, **selectors)["items"]
        except _API_ERRORS as err:
            raise _translate(err, f"list {kind}") from None

    @retrying
    def list_metadata(
        self, api_version: str, kind: str, *, namespace: str | None = None, **selectors: str
    ) -> list[dict]:
        """Like `list`, but only each object's `metadata` (a PartialObjectMetadataList): enough to see
        which objects changed (their resourceVersion) without transferring their bodies."""
        res = self.resource(api_version, kind)
        accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
        try:
            found = res.get(namespace=namespace, serializer=_plain, header_params={"Accept": accept}, **selectors)
        except _API_ERRORS as err:
            raise _translate(err, f"list {kind}") from None
        return found.get("items") or []

    @retrying
    def delete(self, ref: Ref, *, propagation: str = "Foreground", resource_version: str | None = None) -> bool:
        """Delete; False if it was already gone. With `resource_version`, only that version (409 otherwise)."""
        res = self.resource(ref.api_version, ref.kind)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        try:
            res.delete(name=ref.name, namespace=ref.namespace, body=body)
        except NotFoundError:
            return False
        except _API_ERRORS as err:
            raise _translate(err, f"delete {ref}") from None
        return True

    def pod_log(
        self,
        name: str,
        namespace: str,
        *,
        container: str,
        follow: bool = False,
        since_seconds: int | None = None,
        since_time: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[str]:
        """Lines of a container's log (`pods/log`, with timestamps: `<RFC 3339> <text>`), read as
        they arrive; with `follow`, until the container stops or the caller closes the iterator."""
        query: list[tuple[str, str]] = [("container", container), ("timestamps", "true")]
        if follow:
            query.append(("follow", "true"))
        if since_time:
            query.append(("sinceTime", since_time))
        elif since_seconds:
            query.append(("sinceSeconds", str(int(since_seconds))))
        what = f"logs of pod {namespace}/{name} container {container}"
        try:
            method, url, headers, _, _ = self.api_client.param_serialize(
                "GET",
                "/api/v1/namespaces/{namespace}/pods/{name}/log",
                path_params={"namespace": namespace, "name": name},
                query_params=query,
                header_params={"Accept": "*/*"},
                auth_settings=["BearerToken"],
            )
            rest = self.api_client.call_api(method, url, header_params=headers, _request_timeout=timeout)
            if not 200 <= rest.status < 300:
                raise ApiException(http_resp=rest.response)  # the Status body kept for _translate
        except _API_ERRORS as err:
            raise _translate(err, what) from None
        resp = rest.response  # urllib3's response, not read yet: streamed below
        pending = b""
        try:
            for chunk in resp.stream(4096, decode_content=True):
                pending += chunk
                *done, pending = pending.split(b"\n")
                for line in done:
                    yield line.decode("utf-8", errors="replace")
            if pending:
                yield pending.decode("utf-8", errors="replace")
        except _API_ERRORS as err:  # the stream was cut (the API server or the node went away)
            raise _translate(err, what) from None
        finally:
            resp.release_conn()

    def watch(
        self,
        res,
        watcher: k8s_watch.Watch,
        *,
        namespace: str | None,
        resource_version: str | None,
        timeout: int,
        name: str | None = None,
        label_selector: str | None = None,
    ) -> Iterator[tuple[str, dict | None]]:
        """(event type, raw object) from one watch request.

        Like `DynamicClient.watch`, minus its crash on the partial line a stream can end
        with when it is stopped or cut (the client yields None for it).
        """
        for event in watcher.stream(
            res.get,
            namespace=namespace,
            field_selector=f"metadata.name={name}" if name else None,
            label_selector=label_selector,
            resource_version=resource_version,
            timeout_seconds=timeout,
            serialize=False,
        ):
            if isinstance(event, dict):
                yield event["type"], event.get("raw_object")

    def wait_for(
        self,
        ref: Ref,
        done: Callable[[dict | None], bool],
        *,
        timeout: float,
        describe: Callable[[dict | None], str] = lambda _: "",
    ) -> Generator[Event, None, dict | None]:
        """Watch one object until `done(obj)` holds; yields Waiting events meanwhile.

        Driven by a watch, not polling: each (re)list gives a resourceVersion to watch
        from; when it expires (410 Gone) we list again and carry on.
        """
        res = self.resource(ref.api_version, ref.kind)
        started = time.monotonic()
        deadline = started + timeout
        current = self.get(ref)
        while True:
            if done(current):
                return current
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = describe(current)
                raise TimedOut(f"{ref} not ready after {timeout:.0f}s" + (f": {seen}" if seen else ""))
            yield Waiting(str(ref), time.monotonic() - started, describe(current))
            version = (current or {}).get("metadata", {}).get("resourceVersion")
            watcher = k8s_watch.Watch()
            try:
                for kind, obj in self.watch(
                    res,
                    watcher,
                    namespace=ref.namespace,
                    name=ref.name,
                    resource_version=version,
                    timeout=max(1, min(int(remaining), 5)),
                ):
                    if not obj or obj.get("kind") == "Status":
                        break
                    current = None if kind == "DELETED" else obj
                    if done(current):
                        return current
                    yield Waiting(str(ref), time.monotonic() - started, describe(current))
            except _API_ERRORS as err:
                if getattr(err, "status", None) != 410:
                    raise _translate(err, f"watch {ref}") from None
                current = self.get(ref)  # 410 Gone: relist, then resume from the fresh version
            finally:
                watcher.stop()
