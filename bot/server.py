"""The web server: webhook intake, health, metrics, and the setup page.

`create_app(settings)` builds a Starlette app whose lifespan starts the shared `Services`
(or takes ones already started) and, unless told otherwise, worker children that run the
jobs (`bot.supervisor`), so `liquidbook serve` is the whole app while its event loop only
answers requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from bot import manifest, pages, setup_pages
from bot.routing import Router
from bot.services import Services
from bot.settings import Settings
from bot.webhooks import receive as receive_webhook

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/github/webhooks"


async def healthz(request: Request) -> JSONResponse:
    """200 when Redis and the database answer; 503 naming what does not."""
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(services.redis.ping(), timeout=2)
        checks["redis"] = "ok"
    except (RedisError, OSError, TimeoutError) as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    try:
        await asyncio.wait_for(services.db.ping(), timeout=2)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["github_app"] = "configured" if services.github else "not configured (see /setup)"
    healthy = checks["redis"] == "ok" and checks["database"] == "ok"
    body: dict[str, object] = dict(checks)
    workers = getattr(request.app.state, "workers", None)
    if workers is not None:
        # The worker children: jobs queue but nothing runs them while one is down.
        body["worker"] = "ok" if workers.state == "running" else workers.state
        body["workers"] = workers.describe()
        healthy = healthy and workers.state == "running"
    return JSONResponse(body, status_code=200 if healthy else 503)


async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def home(request: Request) -> Response:
    """A one-line status page, or the setup page while no app is configured."""
    services: Services = request.app.state.services
    if services.github is None:
        return await manifest.setup_page(request)
    return setup_pages.running(WEBHOOK_PATH)


class App(Starlette):
    """Starlette, with the webhook endpoint's deliveries answered before its router and
    middleware stack: `POST /api/github/webhooks` is nearly every request the server gets,
    and matching it against each route and passing it through two middleware layers was
    CPU per delivery for nothing (`bench/probot_side_by_side.py`'s closed loop). What the
    endpoint sees (a Starlette `Request` whose `app` is this one) and answers is the same;
    every other request, and another method on that path, goes the usual way."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == WEBHOOK_PATH:
            scope["app"] = self
            response = await receive_webhook(Request(scope, receive))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    router: Router | None = None,
    *,
    workers: int = 1,
) -> Starlette:
    """The ASGI app. `router` defaults to every handler module's router.

    `workers` worker children (`bot.supervisor`) run the jobs, started before the first
    request is answered and stopped before the stores close; 0 for none (`--no-worker`).
    Services already put in `app.state.services` are used (`liquidbook serve` connects
    before serving, to report an unreachable store in one line); they are closed with the
    app all the same."""
    if router is None:
        from handlers import router as all_handlers

        router = all_handlers

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started = getattr(app.state, "services", None) or await Services.start(settings)
        app.state.services = started
        app.state.router = router
        app.state.workers = None
        try:
            if workers > 0:
                from bot.supervisor import WorkerProcesses, child_environment

                children = WorkerProcesses(
                    workers,
                    child_environment(started.redis_url, settings.database_url_or_default),
                )
                app.state.workers = children
                started.on_configured.append(children.restart)
                await children.start()
            yield
        finally:
            if app.state.workers is not None:
                await app.state.workers.stop()
            await started.close()

    return App(
        routes=[
            Route(WEBHOOK_PATH, receive_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/", home, methods=["GET"]),
            *manifest.routes,
            # The pages' stylesheets and icon, served here so no page loads anything elsewhere.
            Mount(pages.STATIC_PATH, StaticFiles(directory=pages.STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
    )
