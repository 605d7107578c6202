"""A small authenticating proxy in front of a real registry (crane serve has no auth), test code only.

Modes: "none" (logging, fault injection), "basic" (401 + `WWW-Authenticate: Basic`, checks
user:password) and "bearer" (the distribution token flow: 401 + `Bearer realm=…/token,…`;
`/token` checks the basic credentials and issues a token for the scopes asked; the registry endpoints accept only
issued tokens whose scopes cover the request). Every request is logged for assertions.
Plain HTTP on loopback, like the registry behind it.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests


class AuthProxy:
    def __init__(self, upstream: str, *, mode: str, user: str = "ci", password: str = "s3cret-pa55") -> None:
        self.upstream = upstream
        self.mode = mode
        self.user, self.password = user, password
        self.log: list[tuple[str, str]] = []  # (method, path with query)
        self.token_requests: list[dict] = []
        self.tokens: dict[str, set[str]] = {}  # token → scopes it grants
        self.hide_blobs_in: set[str] = set()  # repositories whose blob HEADs answer 404 (per-repo blob scoping)
        self.fail_next: list[int] = []  # statuses to answer before forwarding (retry tests)
        self.fail_blob_puts = 0  # blob upload PUTs to answer 503 (a streamed upload failing in transit)
        self.no_manifest_head = False  # answer HEAD on manifests with 405, as some registries do
        self.refresh_token = "refresh-" + secrets.token_hex(8)  # what an `identitytoken` login holds
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self) -> None:
                body = self._body()
                proxy.log.append((self.command, self.path))
                url = urlsplit(self.path)
                if url.path == "/token":
                    return self._token(url.query if self.command == "GET" else body.decode())
                if proxy.fail_next:
                    return self._send(proxy.fail_next.pop(0), {"Retry-After": "0"}, b"")
                if self.command == "PUT" and "/blobs/uploads/" in url.path and proxy.fail_blob_puts > 0:
                    proxy.fail_blob_puts -= 1
                    return self._send(503, {}, b"")
                if not self._authorized(url.path):
                    return None
                parts = url.path.split("/")
                if self.command == "HEAD" and "manifests" in parts and proxy.no_manifest_head:
                    return self._send(405, {})
                if self.command == "HEAD" and "blobs" in parts and "uploads" not in parts:
                    repo = "/".join(parts[2 : parts.index("blobs")])
                    if repo in proxy.hide_blobs_in:
                        return self._send(404, {})
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
                headers.pop("Transfer-Encoding", None)
                resp = requests.request(
                    self.command,
                    f"http://{proxy.upstream}{self.path}",
                    headers=headers,
                    data=body if body else None,
                    allow_redirects=False,
                    timeout=30,
                )
                keep = {
                    k: v
                    for k, v in resp.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")
                }
                if self.command == "HEAD":
                    keep["Content-Length"] = resp.headers.get("Content-Length", "0")
                    self.send_response(resp.status_code)
                    for key, value in keep.items():
                        self.send_header(key, value)
                    self.end_headers()
                    return None
                return self._send(resp.status_code, keep, resp.content)

            def _basic_ok(self) -> bool:
                header = self.headers.get("Authorization", "")
                expected = base64.b64encode(f"{proxy.user}:{proxy.password}".encode()).decode()
                return header == f"Basic {expected}"

            def _authorized(self, path: str) -> bool:
                if proxy.mode == "none":
                    return True
                if proxy.mode == "basic":
                    if self._basic_ok():
                        return True
                    self._send(401, {"WWW-Authenticate": 'Basic realm="test registry"'}, b'{"errors":[]}')
                    return False
                parts = path.split("/")
                repo = ""
                for marker in ("manifests", "blobs", "tags", "referrers"):
                    if marker in parts:
                        repo = "/".join(parts[2 : parts.index(marker)])
                        break
                action = "pull" if self.command in ("GET", "HEAD") else "push"
                need = f"repository:{repo}:{action}" if repo else ""
                header = self.headers.get("Authorization", "")
                token = header[7:] if header.startswith("Bearer ") else ""
                granted = proxy.tokens.get(token)
                if granted is not None and (not need or need in granted):
                    return True
                scope = f"repository:{repo}:pull,push" if action == "push" else f"repository:{repo}:pull"
                realm = f"http://{proxy.host}/token"
                challenge = f'Bearer realm="{realm}",service="test-registry"' + (f',scope="{scope}"' if repo else "")
                self._send(401, {"WWW-Authenticate": challenge, "Content-Type": "application/json"}, b'{"errors":[]}')
                return False

            def _token(self, query: str) -> None:
                params = parse_qs(query)
                proxy.token_requests.append({k: v for k, v in params.items() if k != "refresh_token"})
                if self.command == "POST":  # OAuth2 refresh-token grant (an `identitytoken` in the config)
                    refresh = params.get("refresh_token", [""])[0]
                    if params.get("grant_type") != ["refresh_token"] or refresh != proxy.refresh_token:
                        return self._send(401, {}, b'{"details":"bad refresh token"}')
                    params["scope"] = [" ".join(params.get("scope", []))]
                elif not self._basic_ok():
                    return self._send(401, {}, b'{"details":"bad credentials"}')
                granted: set[str] = set()
                for scope in params.get("scope", []):
                    for item in scope.split(" "):
                        kind, _, rest = item.partition(":")
                        name, _, actions = rest.rpartition(":")
                        granted.update(f"{kind}:{name}:{a}" for a in actions.split(","))
                token = secrets.token_hex(16)
                proxy.tokens[token] = granted
                key = "access_token" if self.command == "POST" else "token"
                return self._send(200, {"Content-Type": "application/json"}, json.dumps({key: token}).encode())

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AuthProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
