"""Per-provider request limits: requests per minute across processes, concurrency per process.

The minute limit is a sliding-window log kept in Redis and checked by one Lua script, so
every worker and webhook process shares it and no window ever admits more than the limit
(unlike fixed windows, which admit twice the limit across a boundary). Redis's own clock
stamps the requests, so processes need not agree on the time. Without Redis the same
algorithm runs in memory and only limits this process.

Concurrency is a semaphore per provider in each process: it bounds open connections and
memory, which are per-process anyway.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Returns 0 when admitted, otherwise the microseconds until the oldest request leaves the
# window. KEYS[1]: sorted set of admitted requests; KEYS[2]: a counter for unique members.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], now, now .. ':' .. seq)
  local ttl = math.ceil(window / 1000) + 1000
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""

KEY_PREFIX = "liquidbook:ratelimit"


class RateLimiter:
    """Admits requests to each provider within its requests-per-window limit."""

    def __init__(self, redis: Redis | None, window_s: float = 60.0) -> None:
        self.redis = redis
        self.window_s = window_s
        self._script = redis.register_script(_SLIDING_WINDOW) if redis is not None else None
        self._local: dict[str, deque[float]] = {}

    async def acquire(self, provider: str, limit: int) -> float:
        """Wait until a request to `provider` is allowed; return the seconds waited.

        `limit` <= 0 means no limit.
        """
        if limit <= 0:
            return 0.0
        started = time.monotonic()
        while True:
            wait = await self.try_acquire(provider, limit)
            if wait <= 0:
                return time.monotonic() - started
            # A little jitter so waiting processes do not all ask again at the same instant.
            await asyncio.sleep(wait + random.uniform(0, 0.005))

    async def try_acquire(self, provider: str, limit: int) -> float:
        """Admit one request now if the window has room (0.0), else return the seconds until
        it will; nothing is recorded when refused. Also used for per-installation limits."""
        if self._script is not None:
            keys = [f"{KEY_PREFIX}:{{{provider}}}", f"{KEY_PREFIX}:{{{provider}}}:seq"]
            try:
                micros = await self._script(keys=keys, args=[limit, int(self.window_s * 1_000_000)])
                return int(micros) / 1_000_000
            except RedisError as exc:
                # A model call should not fail because Redis hiccuped: limit this process
                # alone until Redis answers again.
                log.warning("rate limit in Redis unavailable (%s); limiting locally", exc)
        stamps = self._local.setdefault(provider, deque())
        now = time.monotonic()
        while stamps and stamps[0] <= now - self.window_s:
            stamps.popleft()
        if len(stamps) < limit:
            stamps.append(now)
            return 0.0
        return max(0.001, stamps[0] + self.window_s - now)


class ConcurrencyLimits:
    """One semaphore per provider in this process."""

    def __init__(self) -> None:
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, provider: str, concurrency: int) -> AsyncIterator[None]:
        """Hold one of `provider`'s `concurrency` slots for the duration of the block."""
        semaphore = self._semaphores.get(provider)
        if semaphore is None:
            semaphore = self._semaphores[provider] = asyncio.Semaphore(concurrency)
        async with semaphore:
            yield
