"""The shared GitHub transport (httpx's interface, aiohttp's connections) against a real
HTTP server on loopback: what httpx's callers see must not change when the bytes go through
aiohttp, errors above all (a refused connection is not a timeout).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket

import httpx
import pytest
from githubkit import GitHub, UnauthAuthStrategy
from githubkit.exception import RequestError, RequestFailed, RequestTimeout

from bot.github import timed_out
from bot.github_transport import SharedTransport

pytestmark = pytest.mark.asyncio


class Scripted:
    """An HTTP/1.1 server on loopback whose answer to each path is scripted below; it keeps
    the requests it got (head and body) and counts the connections it accepted."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]], bytes]] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, *fields = head.decode("latin-1").split("\r\n")[:-2]
                headers: dict[str, list[str]] = {}
                for field in fields:
                    name, value = field.split(":", 1)
                    headers.setdefault(name.strip().lower(), []).append(value.strip())
                length = int(headers.get("content-length", ["0"])[0])
                body = await reader.readexactly(length)
                self.requests.append((line, headers, body))
                if not await self.answer(line.split()[1].split("?")[0], writer):
                    writer.close()
                    return
        finally:
            writer.close()

    async def answer(self, path: str, writer: asyncio.StreamWriter) -> bool:
        """Write the answer for `path`; False closes the connection."""
        if path == "/json":
            body = json.dumps({"login": "octocat", "id": 1}).encode()
            writer.write(self.head(200, body, "Content-Type: application/json"))
        elif path == "/gzip":
            body = gzip.compress(json.dumps({"many": "x" * 5000}).encode())
            writer.write(
                self.head(200, body, "Content-Type: application/json\r\nContent-Encoding: gzip")
            )
        elif path == "/chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            return True
        elif path == "/redirect":
            writer.write(self.head(302, b"", "Location: /json"))
        elif path == "/cookies":
            writer.write(self.head(204, b"", "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Two: 1"))
        elif path == "/missing":
            body = json.dumps({"message": "Not Found"}).encode()
            writer.write(self.head(404, body, "Content-Type: application/json"))
        elif path == "/hang-up":
            return False  # read the request, answer nothing
        elif path == "/slow":
            await asyncio.sleep(5)
            writer.write(self.head(200, b"late"))
        elif path == "/garbage":
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            return False
        await writer.drain()
        return True

    @staticmethod
    def head(status: int, body: bytes, extra: str = "") -> bytes:
        extra = f"{extra}\r\n" if extra else ""
        return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


@pytest.fixture
async def transport():
    pool = SharedTransport()
    yield pool
    await pool.close()


async def test_requests_and_answers_travel_unchanged(transport: SharedTransport) -> None:
    async with Scripted() as server, httpx.AsyncClient(transport=transport) as client:
        response = await client.post(
            f"{server.url}/json?a=1&b=%20",
            json={"body": "✅ done"},
            headers=[("X-Many", "1"), ("X-Many", "2"), ("Authorization", "token t")],
        )
        assert response.status_code == 200
        assert response.json() == {"login": "octocat", "id": 1}
        line, headers, body = server.requests[0]
        assert line == "POST /json?a=1&b=%20 HTTP/1.1"
        assert json.loads(body) == {"body": "✅ done"}
        assert headers["x-many"] == ["1", "2"]
        assert headers["authorization"] == ["token t"]
        # httpx's own defaults, not aiohttp's, reach the server
        assert headers["user-agent"][0].startswith("python-httpx/")
        assert headers["content-length"] == [str(len(body))]

        gz = await client.get(f"{server.url}/gzip")
        assert gz.json() == {"many": "x" * 5000}  # decoded by httpx, as with httpcore
        chunked = await client.get(f"{server.url}/chunked")
        assert chunked.text == "hello world"
        cookies = await client.get(f"{server.url}/cookies")
        assert cookies.status_code == 204
        assert cookies.headers.get_list("set-cookie") == ["a=1", "b=2"]
        # one connection carried every request (kept alive, reused)
        assert server.connections == 1


async def test_a_streamed_body_is_sent_with_its_length(transport: SharedTransport) -> None:
    async def pieces():
        yield b"one "
        yield b"two"

    async with Scripted() as server, httpx.AsyncClient(transport=transport) as client:
        response = await client.post(f"{server.url}/json", content=pieces())
        assert response.status_code == 200
        _, headers, body = server.requests[0]
        assert body == b"one two"
        assert "transfer-encoding" not in headers


async def test_errors_are_httpx_errors_that_say_what_happened(transport: SharedTransport) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    async with Scripted() as server, httpx.AsyncClient(transport=transport) as client:
        # nothing listening: a connect error, which is not a timeout (nothing was sent)
        with pytest.raises(httpx.ConnectError) as refused:
            await client.get(f"http://127.0.0.1:{closed_port}/")
        assert not timed_out(refused.value)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"{server.url}/hang-up")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"{server.url}/garbage")
        with pytest.raises(httpx.ReadTimeout) as slow:
            await client.get(f"{server.url}/slow", timeout=httpx.Timeout(5, read=0.3))
        assert timed_out(slow.value)
        # the pool still works after every failure
        assert (await client.get(f"{server.url}/json")).status_code == 200


async def test_githubkit_over_it_follows_redirects_and_raises_its_own_errors(
    transport: SharedTransport,
) -> None:
    async with Scripted() as server:
        gh = GitHub(
            UnauthAuthStrategy(), base_url=server.url, async_transport=transport, http_cache=False
        )
        redirected = await gh.arequest("GET", "/redirect")
        assert redirected.json() == {"login": "octocat", "id": 1}
        with pytest.raises(RequestFailed) as missing:
            await gh.arequest("GET", "/missing")
        assert missing.value.response.status_code == 404
        impatient = GitHub(
            UnauthAuthStrategy(),
            base_url=server.url,
            async_transport=transport,
            http_cache=False,  # as bot.github's clients: the cache layer drops the timeout
            timeout=httpx.Timeout(5, read=0.3),
        )
        with pytest.raises(RequestTimeout):
            await impatient.arequest("GET", "/slow")
        with pytest.raises(RequestError) as hung_up:
            await gh.arequest("GET", "/hang-up")
        assert not timed_out(hung_up.value)


async def test_a_new_event_loop_gets_a_new_pool() -> None:
    """A pool belongs to the loop it was made in: one used from another loop (tests, a
    restarted runner) makes its own instead of failing."""
    pool = SharedTransport()

    async def fetch(url: str) -> int:
        async with httpx.AsyncClient(transport=pool) as client:
            return (await client.get(f"{url}/json")).status_code

    async with Scripted() as server:
        url = server.url
        assert await fetch(url) == 200
        first = pool._session
        loop = asyncio.get_running_loop()
        other = await loop.run_in_executor(None, lambda: asyncio.run(fetch(url)))
        assert other == 200
        assert pool._session is not first
    await pool.close()
