"""The one connection pool every GitHub client of a process borrows: httpx's interface,
aiohttp's connections.

githubkit speaks httpx: it makes an `httpx.AsyncClient` per request (or per `async with`
block) and hands it the transport we give it. Two things cost CPU on every request there:
a client that makes its own transport builds a new SSL context (about 25 ms), and httpcore's
pool polls every idle connection's socket to check it is still open each time it hands out
or takes back a connection (with 20-40 jobs in flight, a third of an acknowledgement's CPU).
So each process has one `SharedTransport`, and it sends through aiohttp, whose pool keeps
idle connections in a queue per host and parses responses in C (`bench/probot_side_by_side.py`
measures the difference: an acknowledgement's CPU 9-11 ms with httpcore, about 6 with this).

What a caller sees does not change: requests and responses are httpx's (githubkit decodes,
follows redirects, authenticates and retries as before), and aiohttp's errors become the
httpx errors httpcore raises for the same event, so `bot.github.timed_out` and githubkit's
own error classes mean what they meant. In particular a refused connection is a
`ConnectError`, not a timeout: a POST that never left is not looked for after the fact.

Proxies: httpx routes a URL that the environment sends through a proxy to a transport of its
own before it reaches this one, as it did with httpcore; aiohttp is told not to read the
environment (nor `~/.netrc`) itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx

# httpx's error for each aiohttp error, most specific first (the first match wins).
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed answer
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientError, httpx.NetworkError),
    (asyncio.TimeoutError, httpx.ReadTimeout),
)


@contextlib.contextmanager
def _as_httpx(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError:
        raise
    except Exception as exc:
        for theirs, ours in _ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc) or type(exc).__name__, request=request) from exc
        raise


class _Body(httpx.AsyncByteStream):
    """A response's body as aiohttp receives it (still compressed: httpx decodes it)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self.response = response
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx(self.request):
            async for chunk in self.response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self.response.release()


class SharedTransport(httpx.AsyncBaseTransport):
    """One aiohttp connection pool (and one SSL context) lent to every githubkit client of a
    process. httpx closes a client's transport when the client closes, so `aclose` does
    nothing and `close` (at the end of the process) closes the pool for real.

    The session is made on first use, in the running event loop (a pool belongs to one
    loop); a process whose loop changes (tests) gets a new one.
    """

    def __init__(self, max_connections: int = 100) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                # Idle connections stay open this long (httpcore's default was 5 s):
                # between a job's calls, and between jobs.
                keepalive_timeout=15,
                ssl=httpx.create_ssl_context(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._current()
        limits = request.extensions.get("timeout", {})
        content = await request.aread()
        with _as_httpx(request):
            response = await session.request(
                request.method,
                str(request.url),
                # A streamed body was read above: aiohttp sends its length instead.
                headers=[
                    (k, v) for k, v in request.headers.multi_items() if k != "transfer-encoding"
                ],
                data=content or None,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=limits.get("pool"),
                    sock_connect=limits.get("connect"),
                    sock_read=limits.get("read"),
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def send_buffered(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        limits: httpx.Timeout,
    ) -> httpx.Response:
        """One request without httpx's client around it, its whole answer read (the lean
        lane of `bot.github.LeanGitHub`): the same connections, the same errors (httpx's),
        an `httpx.Response` whose body httpx decodes as usual. Redirects are not followed."""
        request = httpx.Request(method, url)  # for the answer and the errors, as httpx's
        session = self._current()
        with _as_httpx(request):
            async with session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=limits.pool,
                    sock_connect=limits.connect,
                    sock_read=limits.read,
                ),
            ) as answer:
                content = await answer.read()
        return httpx.Response(
            status_code=answer.status,
            headers=answer.raw_headers,
            content=content,
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (answer.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        """Nothing: a borrowing client is closing, not the process."""

    async def close(self) -> None:
        """Close the pool's connections (the process is stopping)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
