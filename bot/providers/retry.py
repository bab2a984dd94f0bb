"""Retries on the same model: backoff with jitter, honouring the provider's Retry-After.

Only failures that may pass on a second try are retried (429, 5xx, timeouts, dropped
connections); a 400/401/403/404/422 would fail the same way and is not. Both the number of
tries and the total time slept are bounded, so a chain moves on instead of hanging.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from bot.providers.errors import Overloaded, ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to insist on one model."""

    max_tries: int = 4
    max_wait_s: float = 60.0
    base_s: float = 1.0
    cap_s: float = 20.0

    def delay(self, failed_tries: int, retry_after: float | None) -> float:
        """Seconds to wait before the next try.

        The provider's own hint wins (it knows when the window resets); otherwise
        exponential backoff with equal jitter, so processes that failed together do not
        retry together.
        """
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.cap_s, self.base_s * 2 ** (failed_tries - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the provider asks us to wait: `retry-after-ms`, then `Retry-After` as seconds
    or as an HTTP date. None when absent or unreadable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    *,
    retry_overloaded: bool = False,
    on_failure: Callable[[ProviderError], None] | None = None,
) -> tuple[T, int]:
    """Run `call` until it succeeds or fails for good; return its value and the tries made.

    `retry_overloaded` retries "overloaded" too (for the last model of a chain, which has
    no other model to move on to). `on_failure` sees every failed try (to count what a
    stream that broke off cost). On giving up, the last error is raised with `.tries` set to
    the number of tries.
    """
    tries = 0
    waited = 0.0
    while True:
        tries += 1
        try:
            return await call(), tries
        except ProviderError as exc:
            exc.tries = tries
            if on_failure is not None:
                on_failure(exc)
            retryable = exc.retryable or (retry_overloaded and isinstance(exc, Overloaded))
            if not retryable or tries >= policy.max_tries:
                raise
            delay = policy.delay(tries, exc.retry_after)
            if waited + delay > policy.max_wait_s:
                raise
            waited += delay
            await sleep(delay)
