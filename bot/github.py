"""Where the app authenticates to GitHub: the app's JWT and installation tokens via githubkit.

githubkit signs the JWT (RS256) and fetches installation tokens lazily; its cache keeps both
until shortly before they expire. The cache here is Redis, so every web and worker process
shares one token per installation, and every value is encrypted with Fernet first: a Redis
dump or a shared Redis never exposes a token that can write to people's repositories.

A token GitHub stops accepting before its expiry (the app reinstalled, its permissions
changed) answers 401: the request drops that cached token and is sent once more with a new
one (`RefreshingAppAuth`), instead of every command failing until the token would expire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import NoReturn, TypeVar

import httpx
import redis.asyncio
from cryptography.fernet import Fernet, InvalidToken
from githubkit import AppAuthStrategy, GitHub, GitHubCore
from githubkit.auth.app import AppAuth, AppInstallationAuthStrategy
from githubkit.cache.base import AsyncBaseCache, BaseCacheStrategy
from githubkit.exception import CacheUnsupportedError, RequestTimeout

from bot.settings import Settings

USER_AGENT = "liquidbook"
T = TypeVar("T")


class RedactedKey(str):
    """The app's private key as the text githubkit signs with, shown as `'<redacted>'`.

    githubkit's auth strategies are dataclasses whose repr prints `private_key` in full
    (`AppAuthStrategy(app_id=1, private_key='-----BEGIN RSA PRIVATE KEY-----…')`), and the
    same object travels to each installation's strategy and to its httpx auth flow. A repr
    in a log line, an error message or a debugger's view must never carry the key.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


class EncryptedRedisCache(AsyncBaseCache):
    """githubkit's async token cache, kept in Redis, encrypted at rest.

    Single-flight across processes: on a miss, one caller takes a short lock and fetches
    (githubkit then calls `aset`); the others wait a moment for its value instead of each
    asking GitHub for a token of their own.
    """

    LOCK_SECONDS = 10
    WAIT_SECONDS = 5.0

    def __init__(self, client: redis.asyncio.Redis, fernet: Fernet, prefix: str) -> None:
        self.client = client
        self.fernet = fernet
        self.prefix = prefix

    async def _read(self, key: str) -> str | None:
        data = await self.client.get(f"{self.prefix}:{key}")
        if data is None:
            return None
        try:
            return self.fernet.decrypt(data).decode()
        except InvalidToken:
            # Written with another key (rotated): treat as a miss, a fresh token replaces it.
            return None

    async def aget(self, key: str) -> str | None:
        value = await self._read(key)
        if value is not None:
            return value
        lock = f"{self.prefix}:{key}:fetching"
        if await self.client.set(lock, b"1", nx=True, ex=self.LOCK_SECONDS):
            return None  # this caller fetches
        deadline = time.monotonic() + self.WAIT_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            value = await self._read(key)
            if value is not None:
                return value
        return None  # the fetcher failed or is slow: fetch anyway

    async def aset(self, key: str, value: str, ex: timedelta) -> None:
        seconds = max(int(ex.total_seconds()), 1)
        await self.client.set(
            f"{self.prefix}:{key}", self.fernet.encrypt(value.encode()), ex=seconds
        )
        await self.client.delete(f"{self.prefix}:{key}:fetching")

    # Deletes the key only if it still holds the ciphertext that was read (ARGV[1]).
    _DELETE_IF_SAME = (
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
        "return 0"
    )

    async def forget(self, key: str, value: str) -> bool:
        """Drop the cached `value` under `key` (GitHub refused it), unless another caller has
        already put a newer one there: requests that failed together with the old token must
        not throw away the token the first of them just fetched. True when it was dropped."""
        name = f"{self.prefix}:{key}"
        data = await self.client.get(name)
        if data is None:
            return False
        try:
            if self.fernet.decrypt(data).decode() != value:
                return False
        except InvalidToken:
            pass  # unreadable with our key: dropping it costs nothing
        dropped = self.client.eval(self._DELETE_IF_SAME, 1, name, data)
        return bool(await dropped)  # type: ignore[misc]  # redis-py types both clients at once


class EncryptedRedisCacheStrategy(BaseCacheStrategy):
    """Cache strategy for githubkit: tokens only. HTTP response caching is turned off."""

    def __init__(
        self, client: redis.asyncio.Redis, key: bytes, prefix: str = "liquidbook:gh"
    ) -> None:
        self.cache = EncryptedRedisCache(client, Fernet(key), prefix)

    def get_cache_storage(self) -> NoReturn:
        raise CacheUnsupportedError("the app only uses githubkit asynchronously")

    async def get_async_cache_storage(self) -> EncryptedRedisCache:
        return self.cache

    def get_hishel_storage(self) -> NoReturn:
        raise CacheUnsupportedError("HTTP caching is off (http_cache=False)")

    async def get_async_hishel_storage(self) -> NoReturn:
        raise CacheUnsupportedError("HTTP caching is off (http_cache=False)")


class RefreshingAppAuth(AppAuth):
    """githubkit's installation authentication, plus: a 401 to a request made with a cached
    installation token drops that token and sends the request once more with a new one.

    The second answer is final (a 401 again means the installation really lost access).
    Requests authenticated as the app (its JWT) are githubkit's own flow, unchanged.
    """

    requires_request_body = True  # read once, so the retry can send it again

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        for attempt in (1, 2):
            # githubkit's flow (which may first fetch a token), relayed request by request.
            flow = super().async_auth_flow(request)
            outgoing = await flow.__anext__()
            while True:
                response = yield outgoing
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    break
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if attempt == 2 or response.status_code != 401 or scheme != "token":
                return
            cache = await self.github.config.cache_strategy.get_async_cache_storage()
            if not isinstance(cache, EncryptedRedisCache):
                return
            await cache.forget(self._get_installation_cache_key(), token)


class RefreshingInstallationStrategy(AppInstallationAuthStrategy):
    """An installation's strategy whose requests refresh a refused token (`RefreshingAppAuth`)."""

    def get_auth_flow(self, github: GitHubCore) -> httpx.Auth:
        return RefreshingAppAuth(
            github,
            self.app_id,
            self.private_key,
            self.client_id,
            self.client_secret,
            self.installation_id,
            self.repositories,
            self.repository_ids,
            self.permissions,
        )


def timed_out(exc: BaseException) -> bool:
    """Whether a GitHub call ended without an answer in time (githubkit's wrapper or httpx's
    own): GitHub may still have carried it out, so a creating call must be looked up."""
    return isinstance(exc, RequestTimeout | httpx.TimeoutException)


# After a creating call timed out: look for what it made now and after these pauses (s).
LOOKUP_PAUSES: Sequence[float] = (1.0, 2.0, 4.0)


async def find_after_timeout(
    lookup: Callable[[], Awaitable[T | None]], pauses: Sequence[float] = LOOKUP_PAUSES
) -> T | None:
    """What a timed-out creating call made, if it shows within the pauses; None otherwise
    (then it is safe to try again: a late arrival of the first call is the caller's case)."""
    for pause in (0.0, *pauses):
        if pause:
            await asyncio.sleep(pause)
        found = await lookup()
        if found is not None:
            return found
    return None


class GitHubApp:
    """The app's identity on GitHub: a client as the app, and one per installation."""

    def __init__(self, settings: Settings, redis_client: redis.asyncio.Redis) -> None:
        if not settings.app_configured:
            raise ValueError("the GitHub App is not configured")
        assert settings.github_app_id is not None and settings.private_key_pem is not None
        self.app_id = settings.github_app_id
        self.slug = settings.github_app_slug
        self.api_url = settings.github_api_url
        self._auth = AppAuthStrategy(settings.github_app_id, RedactedKey(settings.private_key_pem))
        self._cache = EncryptedRedisCacheStrategy(redis_client, settings.fernet_key())
        self.app = GitHub(
            self._auth,
            base_url=self.api_url + "/",
            cache_strategy=self._cache,
            http_cache=False,
            user_agent=USER_AGENT,
            timeout=settings.github_timeout_seconds,
        )

    def installation(self, installation_id: int) -> GitHub:
        """A client acting as one installation (its token cached and shared via Redis, and
        replaced when GitHub refuses it)."""
        auth = self._auth
        return self.app.with_auth(
            RefreshingInstallationStrategy(
                auth.app_id, auth.private_key, installation_id, auth.client_id, auth.client_secret
            )
        )

    async def resolve_slug(self) -> str:
        """The app's slug (its bot's login is `<slug>[bot]`), from settings or `GET /app`."""
        if self.slug is None:
            response = await self.app.arequest("GET", "/app")
            self.slug = str(response.json()["slug"])
        return self.slug

    @property
    def bot_login(self) -> str | None:
        """The login GitHub shows for the app's own comments and commits, once known."""
        return f"{self.slug}[bot]" if self.slug else None
