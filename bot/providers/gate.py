"""The way every request to a provider goes: a concurrency slot, a place in the provider's
per-minute limit, and retries on transient failures (429, 5xx, timeouts).

An image or a video can take several requests (Replicate and Runway: create a job, poll it,
download the file). Each of them is retried on its own (`Requests`): a poll that fails is
asked again, never the paid job it follows, so a 502 on a poll cannot start a second job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from bot.providers.errors import ProviderError
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
    async def slot(self, endpoint: Endpoint, counted: bool = True) -> AsyncIterator[None]:
        """A concurrency slot, then (when `counted`) a place in the provider's per-minute
        limit."""
        async with self.concurrency.slot(endpoint.provider, endpoint.concurrency):
            if counted:
                await self.limiter.acquire(endpoint.provider, endpoint.rpm)
            yield

    async def send(
        self,
        endpoint: Endpoint,
        request: Callable[[], Awaitable[T]],
        *,
        counted: bool = True,
        retry_overloaded: bool = False,
        on_failure: Callable[[ProviderError], None] | None = None,
    ) -> tuple[T, int]:
        """`request` through a slot, retried until it succeeds or fails for good.

        Returns its value and the tries made; on giving up, the last `ProviderError` is
        raised with `.tries` set. `counted=False` takes no place in the per-minute limit;
        `retry_overloaded` retries an overloaded provider too (the chain's last model).
        """

        async def once() -> T:
            async with self.slot(endpoint, counted):
                return await request()

        return await with_retries(
            once, self.retry_policy, retry_overloaded=retry_overloaded, on_failure=on_failure
        )


class Requests:
    """The HTTP requests of one model's image or video, each sent through the gate with its
    own retries.

    `start` sends a request that starts paid work (it takes a place in the provider's
    per-minute limit); `follow` sends the polls and the download of work already started
    (a concurrency slot only: a long job's polls must not use up the limit that guards new
    jobs). `tries` is 1 plus every retry made, as a one-request model counts its tries.
    """

    def __init__(self, gate: Gate, endpoint: Endpoint, retry_overloaded: bool = False) -> None:
        self.gate = gate
        self.endpoint = endpoint
        self.retry_overloaded = retry_overloaded
        self.retries = 0

    @property
    def tries(self) -> int:
        return 1 + self.retries

    async def start(self, request: Callable[[], Awaitable[T]]) -> T:
        """A request that starts a job or makes the artifact, retried on its own."""
        return await self._send(request, counted=True)

    async def follow(self, request: Callable[[], Awaitable[T]]) -> T:
        """A poll or a download of a job already started, retried on its own."""
        return await self._send(request, counted=False)

    async def _send(self, request: Callable[[], Awaitable[T]], counted: bool) -> T:
        try:
            value, tries = await self.gate.send(
                self.endpoint, request, counted=counted, retry_overloaded=self.retry_overloaded
            )
        except ProviderError as exc:
            self.retries += exc.tries - 1
            exc.tries = self.tries
            raise
        self.retries += tries - 1
        return value
