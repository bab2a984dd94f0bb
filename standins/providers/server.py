"""The machinery every provider stand-in shares: a starlette app served by uvicorn on a free
loopback port in a background thread, a script of behaviours, and a record of requests.

A stand-in answers each request with the next scripted `Behaviour` (or its default when the
script is empty), so a test says "429 twice, then answer" and then reads back exactly what
the client sent. It knows a set of model names (`known_models`; None: any) and answers others
the way its provider says a model does not exist; and it counts the requests it is serving
at once (`in_flight`, `peak_in_flight`, also at `GET /_standin/stats`), so a test or a bench
can see how many calls really were in flight at the provider, and the bytes it answered with
(`bytes_sent`), so a test can see where a client stopped reading.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from standins.providers.behaviour import Behaviour


@dataclass
class Recorded:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.time)


# A dated snapshot of a model: `-YYYYMMDD` (Anthropic) or `-YYYY-MM-DD` (OpenAI).
_DATED = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")


class StandIn:
    """Base class: subclasses give `routes()` and answer with `self.next_behaviour()`.

    `known_models` replaces the subclass's `KNOWN_MODELS` (None: every name is known).
    """

    # The model names this provider serves, with their dated snapshots; None: any name.
    KNOWN_MODELS: frozenset[str] | None = None

    def __init__(
        self,
        api_key: str = "test-key",
        host: str = "127.0.0.1",
        port: int = 0,
        known_models: Iterable[str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.known_models: frozenset[str] | None = (
            frozenset(known_models) if known_models is not None else self.KNOWN_MODELS
        )
        self.default = Behaviour()
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        # Response body bytes handed to the server, all requests together: a client that
        # stops reading a long stream shows here as far fewer bytes than the answer holds.
        self.bytes_sent = 0
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        routes = [*self.routes(), Route("/_standin/stats", self._stats, methods=["GET"])]
        self.app: ASGIApp = _Counting(Starlette(routes=routes), self)

    def knows(self, model: str) -> bool:
        """Whether this provider serves `model` (a known name or a dated snapshot of one)."""
        if self.known_models is None:
            return True
        return model in self.known_models or _DATED.sub("", model) in self.known_models

    async def _stats(self, request: Request) -> JSONResponse:
        with self._lock:
            stats = {
                "requests": len(self.requests),
                "in_flight": self.in_flight - 1,  # not counting this request
                "peak_in_flight": self.peak_in_flight,
            }
        return JSONResponse(stats)

    # -- what subclasses provide ------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """The URL a client is configured with (the SDK's base URL for this provider)."""
        return self.root_url

    # -- scripting --------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> StandIn:
        """Queue behaviours for the next requests, in order."""
        with self._lock:
            self._script.extend(behaviours)
        return self

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def record(self, method: str, path: str, headers: Any, body: Any) -> Recorded:
        entry = Recorded(method, path, {k.lower(): v for k, v in headers.items()}, body)
        with self._lock:
            self.requests.append(entry)
        return entry

    def calls(self, path_suffix: str = "") -> list[Recorded]:
        """Recorded requests whose path ends with `path_suffix`."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self.peak_in_flight = self.in_flight
            self.bytes_sent = 0
        self.default = Behaviour()

    # -- serving ----------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> StandIn:
        """Serve in a background thread; returns once the port accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", backlog=2048
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])),  # type: ignore[union-attr]
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (for `python -m standins.providers`)."""
        uvicorn.run(self.app, host=self.host, port=self.port, log_level="warning", access_log=False)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Counting:
    """ASGI wrapper that counts the HTTP requests being served (a streamed answer counts
    until its last byte is sent)."""

    def __init__(self, app: ASGIApp, standin: StandIn) -> None:
        self.app = app
        self.standin = standin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        standin = self.standin
        with standin._lock:
            standin.in_flight += 1
            standin.peak_in_flight = max(standin.peak_in_flight, standin.in_flight)

        async def counted(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body":
                with standin._lock:
                    standin.bytes_sent += len(message.get("body", b""))

        try:
            await self.app(scope, receive, counted)
        finally:
            with standin._lock:
                standin.in_flight -= 1
