"""The Starlette application: one route per page, `/metrics`, the status event stream, and (only with
`allow_actions`) the rollback and unlock forms.

Read-only pages are plain HTML (htmx only speeds up paging). Actions need the token printed at start,
sent as a form field or the `X-Shiplane-Token` header, never a cookie: a page on another site can make a
browser post a form here, but cannot know the token. Host names are checked too (DNS rebinding).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from shiplane.actions import observe
from shiplane.dashboard import charts, views
from shiplane.dashboard.sources import Changes, Stage
from shiplane.errors import ShiplaneError
from shiplane.observing.dora import DAY
from shiplane.observing.metrics import exposition, registry
from shiplane.releases.history import last_good

HERE = Path(__file__).parent
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Settings:
    app: str
    stages: list[Stage]
    allow_actions: bool = False
    token: str = ""
    hosts: list[str] = field(default_factory=lambda: ["127.0.0.1", "localhost"])  # Host headers accepted
    window_days: float = 30.0
    heartbeat: float = 15.0  # seconds between keep-alive comments on an idle event stream


def wants_json(request: Request) -> bool:
    """`?format=json` (or an Accept of JSON without HTML): the page's data, as the matching CLI command's `-o json`."""
    accept = request.headers.get("accept", "")
    return request.query_params.get("format") == "json" or ("application/json" in accept and "text/html" not in accept)


def sse(event: str, text: str) -> str:
    """One server-sent event: each line of `text` its own `data:` line."""
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in text.splitlines() or [""]) + "\n"


def create(settings: Settings) -> Starlette:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(app_name=settings.app, stages=[s.name for s in settings.stages])
    templates.env.globals["allow_actions"] = settings.allow_actions
    templates.env.filters["duration"] = views.age
    by_name = {s.name: s for s in settings.stages}

    def stage_of(request: Request) -> Stage:
        name = request.path_params["stage"]
        if name not in by_name:
            raise HTTPException(404, f"no stage {name!r} here (stages: {', '.join(by_name)})")
        return by_name[name]

    async def run(fn, *args):
        return await anyio.to_thread.run_sync(fn, *args)

    def page(request: Request, name: str, status_code: int = 200, **context) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    async def overview(request: Request) -> Response:
        def cards() -> list[views.StageCard]:
            now, out = time.time(), []
            for s in settings.stages:
                try:
                    history = s.history()
                    healthy = s.tree().healthy if last_good(history) else None
                    out.append(views.card(settings.app, s.name, s.target.namespace, history, healthy, now=now))
                except ShiplaneError as err:
                    empty = views.StageCard(settings.app, s.name, s.target.namespace, None, None, "unknown", "-", 0)
                    out.append(views.StageCard(**{**empty.to_json(), "problem": str(err)}))
            return out

        found = await run(cards)
        if wants_json(request):
            return JSONResponse([c.to_json() for c in found])
        return page(request, "overview.html", cards=found)

    async def timeline(request: Request) -> Response:
        stage = stage_of(request)
        number = _int(request.query_params.get("page"), 1)
        history = await run(stage.history)
        lock = await run(stage.lock)
        if wants_json(request):
            rows = views.timeline(history, page=number, counts=stage.cache.counts).to_json()
            return JSONResponse({**rows, "lock": lock.holder if lock else None})
        return page(
            request, "timeline.html", stage=stage.name, namespace=stage.target.namespace,
            page=views.timeline(history, page=number, counts=stage.cache.counts), lock=lock,
        )  # fmt: skip

    async def release(request: Request) -> Response:
        stage = stage_of(request)
        history = await run(stage.history)
        found = {r.revision: r for r in history}
        revision = request.path_params["revision"]
        if revision not in found:
            raise HTTPException(404, f"no release {revision} in {settings.app}/{stage.name} (its records: "
                                f"{', '.join(map(str, found)) or 'none'})")  # fmt: skip
        older = [r for r in history if r.revision < revision]
        against = _int(request.query_params.get("against"), older[-1].revision if older else 0)
        if against and against not in found:
            raise HTTPException(404, f"no release {against} in {settings.app}/{stage.name}")
        right = (await run(stage.release, revision)) or found[revision]
        left = (await run(stage.release, against)) if against else None
        comparison = views.compare(left, right) if left else None
        current = last_good(history)
        if wants_json(request):
            data = asdict(views.row(found[revision], running=current is not None and current.revision == revision,
                                    objects=len(right.objects)))  # fmt: skip
            return JSONResponse({"release": data, "diff": comparison.to_json() if comparison else None})
        return page(
            request, "release.html", stage=stage.name, comparison=comparison, against=against,
            row=views.row(found[revision], running=current is not None and current.revision == revision,
                          objects=len(right.objects)),
            revisions=[r.revision for r in history],
        )  # fmt: skip

    async def compare_stages(request: Request) -> Response:
        names = list(by_name)
        left_name = request.query_params.get("left") or names[0]
        right_name = request.query_params.get("right") or names[-1]
        for name in (left_name, right_name):
            if name not in by_name:
                raise HTTPException(404, f"no stage {name!r} here (stages: {', '.join(names)})")
        left = last_good(await run(by_name[left_name].history))
        right = last_good(await run(by_name[right_name].history))
        comparison = views.compare(left, right, across_stages=True) if left and right else None
        missing = [n for n, r in ((left_name, left), (right_name, right)) if r is None]
        if wants_json(request):
            return JSONResponse({"diff": comparison.to_json() if comparison else None, "missing": missing})
        return page(request, "compare.html", left=left_name, right=right_name, comparison=comparison, missing=missing)

    async def status_page(request: Request) -> Response:
        stage = stage_of(request)
        tree = await run(stage.tree)
        if wants_json(request):
            return JSONResponse(tree.to_json())
        return page(request, "status.html", stage=stage.name, tree=tree, expand=request.query_params.get("all"),
                    shown=views.PODS_SHOWN)  # fmt: skip

    async def status_stream(request: Request) -> Response:
        stage = stage_of(request)
        expand = request.query_params.get("all")
        fragment = templates.get_template("_tree.html")

        async def events():
            with Changes(stage.reading) as changes:
                last, quiet = "", 0.0
                while not await request.is_disconnected():
                    if not await run(changes.wait, 1.0):
                        quiet += 1.0
                        if quiet >= settings.heartbeat:
                            quiet = 0.0
                            yield ": still here\n\n"
                        continue
                    try:
                        tree = await run(stage.tree)
                    except ShiplaneError as err:  # the API server restarting, say: tell the page, keep watching
                        yield sse("problem", str(err))
                        continue
                    html = fragment.render(tree=tree, expand=expand, shown=views.PODS_SHOWN, stage=stage.name)
                    if html != last:
                        last = html
                        yield sse("tree", html)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def dora_page(request: Request) -> Response:
        now = time.time()
        rows = []
        for s in settings.stages:
            d = views.dora_view(await run(s.history), now=now, window=settings.window_days * DAY)
            rows.append(
                {
                    "stage": s.name,
                    "figures": d.figures,
                    "weekly": charts.weekly(d.weeks),
                    "durations": charts.points(d.durations, "Deploy duration per release"),
                    "lead": charts.points([(r, v, "deployed") for r, v in d.lead_times], "Lead time per change"),
                }
            )
        if wants_json(request):
            return JSONResponse([{"stage": r["stage"], **r["figures"].to_json()} for r in rows])
        return page(request, "dora.html", rows=rows, window=settings.window_days)

    async def metrics(request: Request) -> Response:
        def text() -> str:
            found = [observe.figures(s.reading) for s in settings.stages]
            return exposition(registry(found, now=time.time(), window=settings.window_days * DAY))

        return Response(await run(text), media_type=PROMETHEUS)

    async def authorized(request: Request) -> dict:
        if not settings.allow_actions:
            raise HTTPException(403, "actions are off: start the dashboard with --allow-actions")
        form = await _form(request)
        given = str(form.get("token") or request.headers.get("x-shiplane-token") or "")
        if not settings.token or not hmac.compare_digest(given.encode(), settings.token.encode()):
            raise HTTPException(403, "wrong or missing token: use the one `shiplane dashboard` printed at start")
        return form

    async def rollback(request: Request) -> Response:
        stage = stage_of(request)
        form = await authorized(request)
        revision = _int(form.get("revision"), 0) or None
        done = await run(stage.rollback, revision)
        what = f"rolled back {settings.app}/{stage.name} to revision {done.rollback_of}: revision {done.revision}, "
        return page(request, "done.html", stage=stage.name, message=what + str(done.outcome))

    async def unlock(request: Request) -> Response:
        stage = stage_of(request)
        await authorized(request)
        held = await run(stage.unlock)
        message = f"removed the lock held by {held.holder}" if held else "no lock was held"
        return page(request, "done.html", stage=stage.name, message=message)

    async def failed(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            code, message = exc.status_code, exc.detail
        else:  # a ShiplaneError: the API server unreachable, a lock held, a refused rollback…
            code, message = (409 if getattr(exc, "exit_code", 1) in (4, 5) else 503), str(exc)
        if request.url.path in ("/metrics",) or "text/html" not in request.headers.get("accept", "text/html"):
            return PlainTextResponse(f"error: {message}\n", status_code=code)
        return page(request, "error.html", status_code=code, code=code, message=message)

    routes = [
        Route("/", overview),
        Route("/stages/{stage}", timeline),
        Route("/stages/{stage}/releases/{revision:int}", release),
        Route("/stages/{stage}/status", status_page),
        Route("/stages/{stage}/status/stream", status_stream),
        Route("/compare", compare_stages),
        Route("/dora", dora_page),
        Route("/metrics", metrics),
        Route("/stages/{stage}/rollback", rollback, methods=["POST"]),
        Route("/stages/{stage}/unlock", unlock, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=settings.hosts)],
        exception_handlers={HTTPException: failed, ShiplaneError: failed},
    )


FORM_BYTES = 16 * 1024  # the action forms hold a token and a revision


async def _form(request: Request) -> dict[str, str]:
    """An action form's fields (urlencoded, as the dashboard's own forms send them; other bodies: none)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_BYTES:
            raise HTTPException(413, f"form larger than {FORM_BYTES} bytes")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
