"""The ASGI app (every route module combined) and the uvicorn thread that serves it."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from . import (
    control,
    routes_actions,
    routes_app,
    routes_app_webhooks,
    routes_checks,
    routes_commits,
    routes_contents,
    routes_git,
    routes_issues,
    routes_misc,
    routes_pages,
    routes_pull_reviews,
    routes_pulls,
)
from .auth import Auth, classify
from .endpoint import github_headers, new_request_id
from .errors import ApiError
from .hub import Hub
from .state import LoggedRequest


def api_routes() -> list[BaseRoute]:
    """Every route of the REST API (what the OpenAPI check walks), plus downloads."""
    return [
        *routes_app.routes,
        *routes_app_webhooks.routes,
        *routes_contents.routes,
        *routes_commits.routes,
        *routes_git.routes,
        *routes_pull_reviews.routes,
        *routes_pulls.routes,
        *routes_issues.routes,
        *routes_checks.routes,
        *routes_pages.routes,
        *routes_actions.routes,
        *routes_misc.routes,
    ]


async def _unknown_route(request: Request, exc: Exception) -> Response:
    # GitHub answers 404 for paths it does not serve, and for methods a path does not take.
    hub: Hub = request.app.state.hub
    body = ApiError(404, "Not Found").body()
    kind = classify(request.headers.get("authorization"))[0]
    headers = github_headers(hub, Auth(kind), request, new_request_id())
    with hub.state.lock:
        hub.state.requests.append(
            LoggedRequest(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                status=404,
                headers=dict(request.headers),
                json_body=None,
                auth_kind=kind,
                response_json=body,
            )
        )
    return Response(json.dumps(body), 404, headers, "application/json; charset=utf-8")


def build_app(hub: Hub, standin: Any = None) -> Starlette:
    """The stand-in's ASGI app; `standin` backs the `/_standin` control routes."""
    app = Starlette(
        routes=[*api_routes(), *control.routes],
        exception_handlers={404: _unknown_route, 405: _unknown_route},
    )
    app.state.hub = hub
    app.state.standin = standin
    return app


class ServerThread:
    """uvicorn on a loopback socket, in a daemon thread with its own event loop."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> int:
        """Bind, serve in the background, and return the bound port once it is up."""
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name=f"github-standin:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the GitHub stand-in did not start")
            time.sleep(0.01)
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None
