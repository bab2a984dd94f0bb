"""Monthly budgets per installation, enforced before each request is made.

A request is refused when this month's spend plus the most it could cost would pass the
budget: the provider never sees it. The most a text request could cost is its prompt
(estimated generously, `bot.providers.tokens`: one token per 3 ASCII characters, one per
other character) at the input price — the part a cache may be written with at the
cache-write price, which is dearer (Anthropic: 1.25x) — plus every allowed output token (the
request's `max_tokens`) at the output price. A model missing from the
price table is estimated at its provider's ceiling (`PriceTable.ceiling`): paid hosted
providers have one, so a missing price never lets a call past the budget; custom servers
(`<NAME>_BASE_URL`) have none and estimate at 0.

Without a database or an installation there is no spend to compare with, so nothing is
checked (the operator's `generate` command).

With Redis (`Reservations`), the month's spend is kept there too, exact: once a call's
usage row is committed, one script adds its cost to the cached figure and gives back the
call's holds (`_SETTLE`); a missing figure is read from the database (the truth) and cached
only when no call held a reservation or settled meanwhile (`_FILL`). A reservation is then
one Redis script that checks spend + everything held by calls in flight + the new worst case
against the budget, with no database read.

A call that would fit once the calls in flight release their holds waits for them (up to
`wait_s`, woken when a hold is released) instead of failing; only a budget that is truly
spent refuses at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from redis.exceptions import RedisError

from bot.db import Database
from bot.providers.errors import BudgetExceeded
from bot.providers.prices import PriceTable
from bot.providers.tokens import estimate_all, estimate_tokens
from bot.providers.types import ImageRequest, TextRequest, VideoRequest
from bot.usage import UsageContext, month_spend, month_start, next_month_start

log = logging.getLogger(__name__)

# gpt-image-1 at its largest, highest-quality size writes about 6,240 image tokens.
IMAGE_OUTPUT_TOKENS = 6240
# How long a call waits for calls in flight to release their holds (seconds), by default.
WAIT_S = 180.0


def estimate_text(prices: PriceTable, model: str, request: TextRequest) -> Decimal:
    """The most one request to `model` could cost (its provider's ceiling when unpriced).

    Where the model has a cache-write price, the prompt may be written to the cache at it:
    up to the `cache_control` breakpoint after the stable prefix for Anthropic's models
    (directly or through OpenRouter), the whole prompt for providers that cache by
    themselves (OpenAI)."""
    price = prices.lookup(model) or prices.ceiling(model)
    if price is None:
        return Decimal(0)
    prompt = estimate_all(
        [request.stable_prefix, request.system, *(m.content for m in request.conversation())]
    )
    written = 0
    if price.cache_write is not None:
        provider, _, name = model.partition(":")
        explicit = provider == "anthropic" or name.startswith("anthropic/")
        written = estimate_tokens(request.stable_prefix or "") if explicit else prompt
    return price.max_text_cost(prompt, request.max_tokens, written)


def estimate_image(prices: PriceTable, model: str, request: ImageRequest) -> Decimal:
    """The most one image from `model` could cost (its provider's ceiling when unpriced)."""
    price = prices.lookup(model)
    if price is None:
        ceiling = prices.ceiling(model)
        return ceiling.max_image_price() if ceiling else Decimal(0)
    tokens = price.max_text_cost(estimate_tokens(request.prompt), IMAGE_OUTPUT_TOKENS)
    return price.max_image_price() + (tokens if price.output else Decimal(0))


def estimate_video(prices: PriceTable, model: str, request: VideoRequest) -> Decimal:
    """The most one video from `model` could cost (its provider's ceiling when unpriced)."""
    price = prices.lookup(model) or prices.ceiling(model)
    return price.per_second * request.duration if price else Decimal(0)


@dataclass
class BudgetGuard:
    """The budget of one chain call: every request is reserved before it is sent.

    With a `Reservations` ledger (Redis), each request's worst case is held there until the
    model's usage row is written (`release`), so calls running at the same time — first
    requests and continuations alike — cannot pass the budget together, and the month's
    spend is read from Redis in the same step. Without a ledger the spend is read from the
    database (once per reservation) and only this guard's own requests in flight count.
    """

    budget: Decimal | None
    db: Database | None = None
    installation_id: int | None = None
    ledger: Reservations | None = None
    wait_s: float = WAIT_S
    # As last read: the month's recorded spend, and everything held by calls in flight
    # (this guard's own holds included).
    spent: Decimal = Decimal(0)
    others: Decimal = Decimal(0)
    # This guard's reservations not yet released (ledger ids), and their total.
    held: list[str] = field(default_factory=list)
    held_usd: Decimal = Decimal(0)

    @classmethod
    async def open(
        cls,
        db: Database | None,
        context: UsageContext,
        budget: Decimal | None,
        ledger: Reservations | None = None,
        wait_s: float = WAIT_S,
    ) -> BudgetGuard:
        """The guard of one call for the call's installation (no checks without one)."""
        if budget is None or db is None or context.installation_id is None:
            return cls(None)
        return cls(budget, db, context.installation_id, ledger, wait_s)

    def _refuse(self, estimate: Decimal) -> BudgetExceeded:
        assert self.budget is not None
        in_flight = max(Decimal(0), self.others - self.held_usd)
        return BudgetExceeded(self.budget, self.spent, estimate, next_month_start(), in_flight)

    async def reserve(self, estimate: Decimal, wait: bool = True) -> None:
        """Hold `estimate` for a request about to be sent, or raise `BudgetExceeded` if this
        month's spend plus everything in flight plus `estimate` would pass the budget.

        When it would fit once other calls release their holds, it waits for them (up to
        `wait_s`; `wait=False` for continuations, which hold a part already)."""
        if self.budget is None:
            return
        assert self.db is not None and self.installation_id is not None
        if self.ledger is None:
            self.spent = await month_spend(self.db, self.installation_id)
            self.others = self.held_usd
            if self.spent + self.held_usd + estimate > self.budget or self.spent >= self.budget:
                raise self._refuse(estimate)
            self.held_usd += estimate
            return
        deadline: float | None = None
        waiting: Any = None
        try:
            while True:
                reservation, self.others, self.spent = await self.ledger.reserve(
                    self.installation_id, estimate, self.budget, self.db
                )
                if reservation is not None:
                    self.held.append(reservation)
                    self.held_usd += estimate
                    return
                # It would fit once the other calls in flight release what they hold.
                fits_later = self.spent + self.held_usd + estimate <= self.budget
                if not (wait and fits_later and self.others > self.held_usd):
                    raise self._refuse(estimate)
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.wait_s
                    # Listening before the next try: a release meanwhile is not missed.
                    waiting = await self.ledger.listen(self.installation_id)
                    continue
                if now >= deadline:
                    raise self._refuse(estimate)
                await self.ledger.wait(waiting, min(deadline - now, 5.0))
        finally:
            if waiting is not None:
                await self.ledger.stop_listening(waiting)

    def take_holds(self) -> list[str]:
        """This guard's reservations, handed over to be given back (by `UsageWriter`, in the
        same step as the cost is counted)."""
        held, self.held, self.held_usd = self.held, [], Decimal(0)
        return held

    async def release(self) -> None:
        """Give back every reservation left (the model's real cost is recorded by then)."""
        held = self.take_holds()
        if held and self.ledger is not None and self.installation_id is not None:
            await self.ledger.settle(self.installation_id, Decimal(0), month_start(), held)


MICROS = Decimal(1_000_000)

# Reservations of in-flight calls, per installation, against the month's spend kept in Redis.
# KEYS: the reservations (a sorted set of "<id>:<micro-dollars>" scored by when they expire,
# so a worker that dies mid-call frees its hold after the TTL), the month's spend
# (micro-dollars). ARGV: estimate, budget, TTL (ms), reservation id, and the spend to use when
# Redis has none (micro-dollars; -1: none known yet). Returns {1 if reserved, 0 if refused,
# -1 if the spend must be read from the database first; micro-dollars held before this one;
# the spend}.
_RESERVE = """
redis.replicate_commands()
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
local held = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  held = held + tonumber(string.match(member, ':(%d+)$'))
end
local spent = redis.call('GET', KEYS[2])
if not spent then
  if tonumber(ARGV[5]) < 0 then
    return {-1, held, 0}
  end
  spent = ARGV[5]
end
spent = tonumber(spent)
if spent + held + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return {0, held, spent}
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[4] .. ':' .. ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, held, spent}
"""

# After a usage row is committed: add its cost to the month's spend if Redis has the figure
# (KEYS[1]), mark that spend moved (KEYS[2], the epoch), and give back the call's holds
# (members ARGV[2..] of KEYS[3]) — all at once, so the cost is never counted by neither or
# both. Wakes the waiters (channel KEYS[4]). ARGV[1]: the cost in micro-dollars.
_SETTLE = """
local cost = tonumber(ARGV[1])
if cost > 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('INCRBY', KEYS[1], cost)
  end
  redis.call('INCR', KEYS[2])
end
local removed = 0
for i = 2, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[3], ARGV[i])
end
if removed > 0 then
  redis.call('PUBLISH', KEYS[4], '1')
end
return removed
"""

# Caching the spend read from the database: KEYS[1] the spend, KEYS[2] the holds, KEYS[3]
# the epoch; ARGV: the epoch seen before the database was read, the spend, TTL (s). A call
# holds a reservation from before its usage row is written until its cost is settled, so
# with no hold and no settle since the read, the database's sum is exactly what Redis must
# count: cached. Otherwise a row might be in the sum and be added again (or the reverse),
# so the figure is used once and not cached.
_FILL = """
redis.replicate_commands()
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
local epoch = redis.call('GET', KEYS[3]) or '0'
if redis.call('ZCARD', KEYS[2]) > 0 or epoch ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3], 'NX')
return 1
"""

# A usage row with a cost but no hold (not from a budgeted call): it holds a zero hold while
# it is written, so no cache is filled meanwhile. KEYS[1] the holds; ARGV: member, TTL (ms).
_MARK = """
redis.replicate_commands()
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


def micros(value: Decimal) -> int:
    """USD as whole micro-dollars, rounded up (a hold is never smaller than its estimate)."""
    return int((value * MICROS).to_integral_value(ROUND_CEILING))


class Reservations:
    """What calls in flight hold, and the month's spend, per installation, in Redis.

    Spend in the usage table only counts calls that have finished. Calls running at the same
    time (the chapters of `/generate chapter all`, jobs on several workers) would each see
    the same spend and together pass the budget; each first reserves its worst case here,
    atomically against spend + what is already held, and releases it once its real cost is
    in the usage table (and in the cached spend).
    """

    def __init__(self, redis: Any, ttl_seconds: float = 1800, spend_ttl_seconds: int = 300) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl_seconds * 1000)
        # The cached spend expires now and then, so it is read again from the database (a
        # row written outside this layer is then counted too).
        self.spend_ttl_s = spend_ttl_seconds
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)
        self._fill = redis.register_script(_FILL)
        self._mark = redis.register_script(_MARK)

    @staticmethod
    def _key(installation_id: int) -> str:
        return f"liquidbook:budget:reserved:{installation_id}"

    @staticmethod
    def spend_key(installation_id: int, when: datetime | None = None) -> str:
        """Where the month's spend (micro-dollars) is cached."""
        return f"liquidbook:budget:spent:{installation_id}:{month_start(when):%Y-%m}"

    @staticmethod
    def _epoch_key(installation_id: int) -> str:
        return f"liquidbook:budget:epoch:{installation_id}"

    @staticmethod
    def channel(installation_id: int) -> str:
        """Where a released hold is announced."""
        return f"liquidbook:budget:released:{installation_id}"

    async def reserve(
        self,
        installation_id: int,
        estimate: Decimal,
        budget: Decimal,
        db: Database | None = None,
        spent: Decimal | None = None,
    ) -> tuple[str | None, Decimal, Decimal]:
        """Reserve `estimate`: (reservation id or None when it does not fit, what calls in
        flight held before, the month's spend it was checked against).

        The spend is Redis's cached figure; when there is none it is `spent` if given, else
        read from `db` (and cached when safe)."""
        reservation = uuid.uuid4().hex
        keys = [self._key(installation_id), self.spend_key(installation_id)]
        known = -1 if spent is None else micros(spent)
        args = [micros(estimate), micros(budget), self.ttl_ms, reservation]
        admitted, held, spent_micros = await self._reserve(keys=keys, args=[*args, known])
        if int(admitted) == -1:
            if db is None:
                raise ValueError("the month's spend is not cached and no database was given")
            spent = await self.read_spend(installation_id, db)
            admitted, held, spent_micros = await self._reserve(
                keys=keys, args=[*args, micros(spent)]
            )
        ident = f"{reservation}:{args[0]}" if int(admitted) == 1 else None
        return ident, Decimal(int(held)) / MICROS, Decimal(int(spent_micros)) / MICROS

    async def read_spend(self, installation_id: int, db: Database) -> Decimal:
        """The month's spend from the database, cached in Redis when that is exact (no call
        held a reservation or settled its cost meanwhile)."""
        epoch_key = self._epoch_key(installation_id)
        epoch = await self.redis.get(epoch_key)
        spent = await month_spend(db, installation_id)
        await self._fill(
            keys=[self.spend_key(installation_id), self._key(installation_id), epoch_key],
            args=[epoch or b"0", micros(spent), self.spend_ttl_s],
        )
        return spent

    async def mark_writing(self, installation_id: int) -> str:
        """A zero hold for a row with a cost written outside a budgeted call."""
        member = f"{uuid.uuid4().hex}:0"
        await self._mark(keys=[self._key(installation_id)], args=[member, 60_000])
        return member

    async def settle(
        self, installation_id: int, cost: Decimal, when: datetime, reservations: list[str]
    ) -> None:
        """A usage row of `cost` is committed: count it in its month's cached spend and give
        back `reservations` (the call's holds), in one step; wakes the waiters."""
        await self._settle(
            keys=[
                self.spend_key(installation_id, when),
                self._epoch_key(installation_id),
                self._key(installation_id),
                self.channel(installation_id),
            ],
            args=[micros(cost), *reservations],
        )

    async def forget_spend(self, installation_id: int, when: datetime) -> None:
        """Drop the cached spend (when a row's cost could not be added to it)."""
        await self.redis.delete(self.spend_key(installation_id, when))

    async def release(self, installation_id: int, reservation: str) -> None:
        """Drop a reservation (after the call's cost was recorded) and wake the waiters."""
        await self.settle(installation_id, Decimal(0), month_start(), [reservation])

    async def listen(self, installation_id: int) -> Any:
        """Start listening for released holds (for `wait`)."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel(installation_id))
        return pubsub

    async def wait(self, pubsub: Any, seconds: float) -> None:
        """Until a hold is released, or `seconds`."""
        try:
            await pubsub.get_message(ignore_subscribe_messages=True, timeout=max(seconds, 0.01))
        except (RedisError, OSError) as exc:
            log.warning("waiting for budget holds: %s", exc)
            await asyncio.sleep(min(seconds, 1.0))

    async def stop_listening(self, pubsub: Any) -> None:
        try:
            await pubsub.unsubscribe()
            await pubsub.aclose()
        except (RedisError, OSError):
            pass
