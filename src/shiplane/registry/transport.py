"""HTTP to registries: authentication (anonymous, basic, bearer tokens), bounded retries, error mapping.

Uses `requests` (already installed with the `kubernetes` client, so no new dependency): a pooled
`Session`, redirects that drop `Authorization` when a blob is served from another host, and
streamed bodies both ways. Plain HTTP is used only for hosts the caller marked insecure.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

from shiplane import __version__
from shiplane.errors import ImageNotFound, RegistryDenied, RegistryError, RegistryUnreachable
from shiplane.redaction import scrub
from shiplane.registry.auth import Challenge, DockerConfig, parse_challenge

RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 10.0


@dataclass(frozen=True)
class Call:
    """What one request is for, so errors can say it: `what` names the reference and the operation."""

    host: str
    repository: str
    what: str
    push: bool = False
    also_pull: tuple[str, ...] = ()  # other repositories the request reads (a cross-repository mount)

    @property
    def scopes(self) -> list[str]:
        own = f"repository:{self.repository}:{'pull,push' if self.push else 'pull'}"
        return [own, *(f"repository:{r}:pull" for r in self.also_pull)]


def _error_text(resp: requests.Response) -> str:
    """The registry's own error codes and messages (`{"errors": [{code, message}]}`), else the reason."""
    try:
        errors = resp.json().get("errors") or []
        parts = [f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError):
        parts = []
    return "; ".join(p for p in parts if p)[:300] or (resp.reason or f"HTTP {resp.status_code}")


class Transport:
    """One pooled session plus per-host auth state; safe to share between the threads of one copy."""

    def __init__(
        self,
        *,
        insecure: Iterable[str] = (),
        config: DockerConfig | None = None,
        retries: int = 4,
        backoff: float = 0.25,
        timeout: float = 30.0,
    ) -> None:
        self.insecure = frozenset(insecure)
        self.config = config if config is not None else DockerConfig()
        self.retries = max(1, retries)
        self.backoff = backoff
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"shiplane/{__version__}"
        # The environment's proxies (and no_proxy) are read once per host, not on every request as
        # requests does by default (that re-reads ~/.netrc too: a third of a small request's cost).
        self.session.trust_env = False
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._proxies: dict[str, dict[str, str]] = {}
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._challenges: dict[str, Challenge] = {}  # host → how it asked us to authenticate
        self._tokens: dict[tuple[str, tuple[str, ...]], str] = {}

    def close(self) -> None:
        self.session.close()

    def base(self, host: str) -> str:
        return f"{'http' if host in self.insecure else 'https'}://{host}"

    def proxies(self, url: str) -> dict[str, str]:
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        if key not in self._proxies:
            self._proxies[key] = requests.utils.get_environ_proxies(key)
        return self._proxies[key]

    def _secrets(self, host: str) -> list[str]:
        creds = self.config.credentials(host)
        return [v for v in (creds.password, creds.identity_token) if v] if creds else []

    # --- authentication -------------------------------------------------------------------------

    def _authorization(self, call: Call) -> dict[str, str]:
        challenge = self._challenges.get(call.host)
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            creds = self.config.credentials(call.host)
            if creds and creds.username:
                pair = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
                return {"Authorization": f"Basic {pair}"}
            return {}
        token = self._tokens.get((call.host, tuple(call.scopes)))
        return {"Authorization": f"Bearer {token}"} if token else {}

    @staticmethod
    def _scopes(challenge: Challenge, call: Call) -> list[str]:
        scopes = list(call.scopes)
        if (asked := challenge.params.get("scope")) and asked not in scopes:
            scopes.extend(s for s in asked.split(" ") if s and s not in scopes)
        return scopes

    def _login(self, call: Call, resp: requests.Response) -> bool:
        """Answer a 401's challenge (remember it, fetch a token); False when there is nothing to try."""
        challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            return False
        with self._lock:
            self._challenges[call.host] = challenge
            if challenge.scheme == "basic":
                creds = self.config.credentials(call.host)
                return bool(creds and creds.username)
            # asked for with the challenge's own scope too; kept under what this kind of call needs
            scopes = self._scopes(challenge, call)
            self._tokens[(call.host, tuple(call.scopes))] = self._token(call, challenge, scopes)
            return True

    def _token(self, call: Call, challenge: Challenge, scopes: list[str]) -> str:
        realm = challenge.realm
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(f"{call.what}: registry {call.host} sent a token challenge without a usable realm")
        realm_host = realm.split("://", 1)[1].split("/", 1)[0]
        if realm.startswith("http://") and call.host not in self.insecure and realm_host not in self.insecure:
            raise RegistryError(
                f"{call.what}: registry {call.host} sends credentials to a plain-HTTP token service ({realm_host})",
                hint="mark it insecure only if it is a local test registry",
            )
        creds = self.config.credentials(call.host)
        params: dict[str, Any] = {"scope": scopes}
        if service := challenge.params.get("service"):
            params["service"] = service
        try:
            if creds and creds.identity_token:
                form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token, "client_id": "shiplane"}
                form.update({"service": params.get("service", ""), "scope": " ".join(scopes)})
                resp = self.session.post(realm, data=form, timeout=self.timeout, proxies=self.proxies(realm))
            else:
                auth = (creds.username, creds.password) if creds and creds.username else None
                resp = self.session.get(
                    realm, params=params, auth=auth, timeout=self.timeout, proxies=self.proxies(realm)
                )
        except requests.RequestException as err:
            raise RegistryUnreachable(
                f"{call.what}: the token service of {call.host} ({realm_host}) is unreachable: {type(err).__name__}"
            ) from None
        if resp.status_code in (401, 403):
            raise self._denied(call, resp.status_code, "its token service refused the credentials")
        if resp.status_code != 200:
            raise RegistryError(
                f"{call.what}: the token service of {call.host} answered {resp.status_code}: "
                f"{scrub(_error_text(resp), self._secrets(call.host))}",
                status=resp.status_code,
            )
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{call.what}: the token service of {call.host} sent no token")
        return token

    def _denied(self, call: Call, status: int, why: str) -> RegistryDenied:
        creds = self.config.credentials(call.host)
        source = self.config.path or "the Docker config"
        who = f"as {creds.username!r} (from {source})" if creds and creds.username else "anonymously"
        if creds and not creds.username and creds.identity_token:
            who = f"with the identity token from {source}"
        verb = "push to" if call.push else "pull from"
        return RegistryDenied(
            f"{call.what}: registry {call.host} denied access ({status}, {why}) {who}",
            status=status,
            hint=f"check that the account may {verb} {call.repository}; `docker login {call.host}` writes credentials",
        )

    # --- requests --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        call: Call,
        path_or_url: str,
        *,
        ok: Iterable[int] = (200,),
        missing_ok: bool = False,
        headers: dict[str, str] | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send with auth and retries; a status outside `ok` raises (404 → ImageNotFound unless `missing_ok`).

        A body that is an iterator cannot be sent twice, so such a request is tried once
        (the caller has authenticated with an earlier request to the same repository).
        """
        url = path_or_url if "://" in path_or_url else self.base(call.host) + path_or_url
        replayable = data is None or isinstance(data, bytes | str)
        attempts = self.retries if replayable else 1
        authenticated = False
        last = ""
        attempt = 0
        while attempt < attempts:
            attempt += 1
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers={**(headers or {}), **self._authorization(call)},
                    data=data,
                    params=params,
                    stream=stream,
                    timeout=self.timeout,
                    allow_redirects=method in ("GET", "HEAD"),
                    proxies=self.proxies(url),
                )
            except requests.exceptions.SSLError as err:
                if "CERTIFICATE_VERIFY_FAILED" in str(err):
                    raise RegistryUnreachable(
                        f"{call.what}: the certificate of registry {call.host} is not trusted",
                        hint="REQUESTS_CA_BUNDLE names a CA bundle that includes your private CA",
                    ) from None
                raise RegistryUnreachable(
                    f"{call.what}: TLS with registry {call.host} failed",
                    hint="a plain-HTTP local registry must be marked insecure (stage registry `insecure: true`, "
                    "or SHIPLANE_INSECURE_REGISTRIES)",
                ) from None
            except requests.RequestException as err:
                last = _connection_reason(err)
                if attempt < attempts:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                break
            if resp.status_code == 401 and not authenticated and replayable:
                authenticated = True
                if self._login(call, resp):
                    resp.close()
                    attempt -= 1  # answering a challenge is not a retry
                    continue
            if resp.status_code in RETRY_STATUS and attempt < attempts:
                last = f"HTTP {resp.status_code}"
                delay = self.backoff * 2 ** (attempt - 1)
                if retry_after := resp.headers.get("Retry-After", "").strip():
                    with contextlib.suppress(ValueError):
                        delay = min(MAX_RETRY_AFTER, max(delay, float(retry_after)))
                resp.close()
                time.sleep(delay)
                continue
            return self._check(call, resp, ok, missing_ok)
        raise RegistryUnreachable(
            f"{call.what}: registry {call.host} is unreachable ({last}, {attempts} attempt{'s' * (attempts > 1)})",
            hint="is the registry running, and is the host:port right?",
        )

    def _check(self, call: Call, resp: requests.Response, ok: Iterable[int], missing_ok: bool) -> requests.Response:
        status = resp.status_code
        if status in ok or (missing_ok and status == 404):
            return resp
        text = scrub(_error_text(resp), self._secrets(call.host)) if resp.request.method != "HEAD" else ""
        resp.close()
        if status == 404:
            raise ImageNotFound(f"{call.what}: not found in registry {call.host}" + (f" ({text})" if text else ""))
        if status in (401, 403):
            raise self._denied(call, status, text or ("unauthorized" if status == 401 else "forbidden"))
        if status in RETRY_STATUS:
            raise RegistryUnreachable(
                f"{call.what}: registry {call.host} kept failing (HTTP {status}" + (f": {text}" if text else "") + ")"
            )
        raise RegistryError(f"{call.what}: registry {call.host} answered {status}: {text}", status=status)


def _connection_reason(err: requests.RequestException) -> str:
    """A short cause (refused, timed out, DNS) without the URL's query string or any header."""
    text = str(err)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("Temporary failure in name resolution", "unknown host"),
        ("timed out", "timed out"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed"),
    ):
        if needle in text:
            return reason
    return type(err).__name__
