"""The way every request to a provider goes: a concurrency slot, a place in the provider's
per-minute limit, and retries on transient failures (429, 5xx, timeouts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from bot.providers.ratelimit import ConcurrencyLimits, RateLimiter
from bot.providers.retry import RetryPolicy, with_retries
from bot.providers.settings import Endpoint

T = TypeVar("T")


class Gate:
    """Sends requests to providers within their limits, retrying the transient failures."""

    def __init__(
        self, concurrency: ConcurrencyLimits, limiter: RateLimiter, retry_policy: RetryPolicy
    ) -> None:
        self.concurrency = concurrency
        self.limiter = limiter
        self.retry_policy = retry_policy

    @asynccontextmanager
    async def slot(self, endpoint: Endpoint) -> AsyncIterator[None]:
        """A concurrency slot, then a place in the provider's per-minute limit."""
        async with self.concurrency.slot(endpoint.provider, endpoint.concurrency):
            await self.limiter.acquire(endpoint.provider, endpoint.rpm)
            yield

    async def send(self, endpoint: Endpoint, request: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        """`request` through a slot, retried until it succeeds or fails for good.

        Returns its value and the tries made; on giving up, the last `ProviderError` is
        raised with `.tries` set.
        """

        async def once() -> T:
            async with self.slot(endpoint):
                return await request()

        return await with_retries(once, self.retry_policy)
