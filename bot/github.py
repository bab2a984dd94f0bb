"""Where the app authenticates to GitHub: the app's JWT and installation tokens via githubkit.

githubkit signs the JWT (RS256) and fetches installation tokens lazily; its cache keeps both
until shortly before they expire. The cache here is Redis, so every web and worker process
shares one token per installation, and every value is encrypted with Fernet first: a Redis
dump or a shared Redis never exposes a token that can write to people's repositories.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import NoReturn

import redis.asyncio
from cryptography.fernet import Fernet, InvalidToken
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache.base import AsyncBaseCache, BaseCacheStrategy
from githubkit.exception import CacheUnsupportedError

from bot.settings import Settings

USER_AGENT = "liquidbook"


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
            timeout=30.0,
        )

    def installation(self, installation_id: int) -> GitHub:
        """A client acting as one installation (its token cached and shared via Redis)."""
        return self.app.with_auth(self._auth.as_installation(installation_id))

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
