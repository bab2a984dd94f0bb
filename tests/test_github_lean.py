"""`bot.github.LeanGitHub`'s lean lane against a real HTTP server on loopback: a request as
an installation with its token at hand goes straight to the shared pool, and what the server
receives and what the caller gets are what githubkit's usual way sends and returns (errors,
redirects and a refused token included)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit.exception import RequestError, RequestFailed, RequestTimeout

from bot.github import GitHubApp, LeanGitHub
from bot.settings import load_settings
from tests.test_github_transport import Scripted

pytestmark = pytest.mark.asyncio

INSTALLATION = 5


class GitHubLike(Scripted):
    """The scripted server, plus an installation-token endpoint (tokens ghs_1, ghs_2, …)
    and a path that refuses the first token it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = 0
        self.refused: set[str] = set()

    async def answer(self, path: str, writer: asyncio.StreamWriter) -> bool:
        _, headers, _ = self.requests[-1]
        auth = headers.get("authorization", [""])[0]
        if path == f"/app/installations/{INSTALLATION}/access_tokens":
            self.tokens += 1
            body = json.dumps(
                {"token": f"ghs_{self.tokens}", "expires_at": "2099-01-01T00:00:00Z"}
            ).encode()
            writer.write(self.head(201, body, "Content-Type: application/json"))
        elif path == "/refuses-first-token":
            if auth == "token ghs_1" or auth in self.refused:
                body = json.dumps({"message": "Bad credentials"}).encode()
                writer.write(self.head(401, body, "Content-Type: application/json"))
            else:
                writer.write(self.head(200, b"{}", "Content-Type: application/json"))
        elif path == "/repos/o/r/tarball/main":
            writer.write(self.head(302, b"", "Location: /json"))
        elif path == "/always-refuses":
            self.refused.add(auth)
            body = json.dumps({"message": "Bad credentials"}).encode()
            writer.write(self.head(401, body, "Content-Type: application/json"))
        else:
            return await super().answer(path, writer)
        await writer.drain()
        return True


@pytest.fixture
async def github(redis_url: str) -> AsyncIterator[tuple[GitHubLike, GitHubApp]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    client = redis.asyncio.Redis.from_url(redis_url)
    async with GitHubLike() as server:
        settings = load_settings(
            _env_file=None,
            github_app_id=1,
            github_private_key=pem,
            github_webhook_secret="whsec",
            github_api_url=server.url,
            github_timeout_seconds=0.5,
        )
        app = GitHubApp(settings, client)
        await client.delete(*[k async for k in client.scan_iter("liquidbook:gh*")] or ["-"])
        try:
            yield server, app
        finally:
            await app.close()
            await client.aclose()


def usual(gh: Any, method: str, url: str, **kwargs: Any) -> Any:
    """The same request the usual way (githubkit's httpx client), for comparison."""
    return super(LeanGitHub, gh)._arequest(method, url, **kwargs)


async def test_the_server_gets_what_the_usual_way_sends(
    github: tuple[GitHubLike, GitHubApp],
) -> None:
    server, app = github
    gh = app.installation(INSTALLATION)
    first = await gh.arequest("GET", "/json")  # the usual way: no token yet, it fetches one
    assert first.json() == {"login": "octocat", "id": 1} and server.tokens == 1
    # From now on the token is at hand: the lane answers (None would mean the usual way).
    assert await gh._lean("GET", "/json", None, None, None) is not None
    calls = [
        ("POST", "/json", {"json": {"body": "✅ done — ünïcode", "n": [1, 2.5, None]}}),
        ("GET", "/json", {"params": {"ref": "main", "q": "a b&c"}}),
        ("PATCH", "json", {"json": {"x": 1}, "headers": {"Accept": "application/vnd.x+json"}}),
        ("DELETE", "/json", {}),
    ]
    for method, url, kwargs in calls:
        before = len(server.requests)
        lean = await gh._arequest(method, url, **kwargs)
        theirs = await usual(gh, method, url, **kwargs)
        assert len(server.requests) == before + 2  # one each: the lean one was not re-sent
        (line_a, head_a, body_a), (line_b, head_b, body_b) = server.requests[before:]
        assert line_a == line_b and body_a == body_b, (line_a, line_b)
        for name in ("user-agent", "accept", "authorization", "content-type", "cache-control"):
            assert head_a.get(name) == head_b.get(name), name
        assert head_a["authorization"] == ["token ghs_1"]
        assert lean.status_code == theirs.status_code and lean.json() == theirs.json()
        assert lean.request.method == method
    assert server.tokens == 1
    # A compressed answer is decoded, as httpx decodes it.
    assert (await gh.arequest("GET", "/gzip")).json() == {"many": "x" * 5000}


async def test_errors_redirects_and_refused_tokens(github: tuple[GitHubLike, GitHubApp]) -> None:
    server, app = github
    gh = app.installation(INSTALLATION)
    await gh.arequest("GET", "/json")
    # githubkit's errors, as the usual way raises them
    with pytest.raises(RequestFailed) as missing:
        await gh.arequest("GET", "/missing")
    assert missing.value.response.status_code == 404
    with pytest.raises(RequestTimeout):
        await gh.arequest("GET", "/slow")
    with pytest.raises(RequestError) as hung_up:
        await gh.arequest("GET", "/hang-up")
    assert not isinstance(hung_up.value, RequestTimeout)
    # a redirect is followed (the usual way takes it over)
    assert (await gh.arequest("GET", "/redirect")).json() == {"login": "octocat", "id": 1}
    # …and a route that redirects by design goes the usual way at once: sent once, not twice
    before = len(server.requests)
    assert (await gh.arequest("GET", "/repos/o/r/tarball/main")).status_code == 200
    assert [line.split()[1] for line, _, _ in server.requests[before:]] == [
        "/repos/o/r/tarball/main",
        "/json",
    ]
    # A refused token: dropped, a new one fetched, the request answered with it.
    answer = await gh.arequest("GET", "/refuses-first-token")
    assert answer.status_code == 200 and server.tokens == 2
    tried = [h["authorization"][0] for line, h, _ in server.requests if "refuses-first" in line]
    assert tried == ["token ghs_1", "token ghs_2"]
    # Refused again with the new token: that answer is final (no third try).
    with pytest.raises(RequestFailed) as refused:
        await gh.arequest("GET", "/always-refuses")
    assert refused.value.response.status_code == 401
    tried = [h["authorization"][0] for line, h, _ in server.requests if "always" in line]
    assert tried == ["token ghs_2", "token ghs_3"]
    # The app's own requests (its JWT) never take the lane.
    jwt_calls = [h for line, h, _ in server.requests if "access_tokens" in line]
    assert all(h["authorization"][0].startswith("Bearer ") for h in jwt_calls)


async def test_a_streamed_or_absolute_request_goes_the_usual_way(
    github: tuple[GitHubLike, GitHubApp],
) -> None:
    server, app = github
    gh = app.installation(INSTALLATION)
    await gh.arequest("GET", "/json")
    answer = await gh.arequest("POST", "/json", content=b"raw bytes")
    assert answer.status_code == 200 and server.requests[-1][2] == b"raw bytes"
    assert (await gh.arequest("GET", f"{server.url}/json")).status_code == 200
    streamed = await gh._arequest("GET", "/chunked", stream=True)
    assert isinstance(streamed, httpx.Response)
    assert (await streamed.aread()) == b"hello world"
    await streamed.aclose()
