"""Monthly budgets per installation, enforced before each request is made.

A request is refused when this month's spend plus the most it could cost would pass the
budget: the provider never sees it. The most a text request could cost is its prompt
(estimated at one token per 3 characters, more than real tokenizers give for prose) at the
input price plus every allowed output token at the output price. A model missing from the
price table is estimated at its provider's ceiling (`PriceTable.ceiling`): paid hosted
providers have one, so a missing price never lets a call past the budget; custom servers
(`<NAME>_BASE_URL`) have none and estimate at 0.

Without a database or an installation there is no spend to compare with, so nothing is
checked (the operator's `generate` command).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from bot.db import Database
from bot.providers.errors import BudgetExceeded
from bot.providers.prices import PriceTable
from bot.providers.types import ImageRequest, TextRequest, VideoRequest
from bot.usage import UsageContext, month_spend, next_month_start

# gpt-image-1 at its largest, highest-quality size writes about 6,240 image tokens.
IMAGE_OUTPUT_TOKENS = 6240
# How many times a reservation is taken again when spend moved while it was taken.
RESERVE_ROUNDS = 3


def estimate_prompt_tokens(chars: int) -> int:
    """A generous token count for `chars` characters of prompt."""
    return math.ceil(chars / 3)


def estimate_text(prices: PriceTable, model: str, request: TextRequest) -> Decimal:
    """The most one request to `model` could cost (its provider's ceiling when unpriced)."""
    price = prices.lookup(model) or prices.ceiling(model)
    if price is None:
        return Decimal(0)
    return price.max_text_cost(estimate_prompt_tokens(request.prompt_chars()), request.max_tokens)


def estimate_image(prices: PriceTable, model: str, request: ImageRequest) -> Decimal:
    """The most one image from `model` could cost (its provider's ceiling when unpriced)."""
    price = prices.lookup(model)
    if price is None:
        ceiling = prices.ceiling(model)
        return ceiling.max_image_price() if ceiling else Decimal(0)
    tokens = price.max_text_cost(estimate_prompt_tokens(len(request.prompt)), IMAGE_OUTPUT_TOKENS)
    return price.max_image_price() + (tokens if price.output else Decimal(0))


def estimate_video(prices: PriceTable, model: str, request: VideoRequest) -> Decimal:
    """The most one video from `model` could cost (its provider's ceiling when unpriced)."""
    price = prices.lookup(model) or prices.ceiling(model)
    return price.per_second * request.duration if price else Decimal(0)


@dataclass
class BudgetGuard:
    """The budget of one chain call: every request is reserved before it is sent.

    The month's spend is read again for each reservation, so the cost of calls that finished
    meanwhile counts. With a `Reservations` ledger (Redis), each request's worst case is held
    there until the model's usage row is written (`release`), so calls running at the same
    time — first requests and continuations alike — cannot pass the budget together.
    Without a ledger, only this guard's own requests in flight are counted.
    """

    budget: Decimal | None
    db: Database | None = None
    installation_id: int | None = None
    ledger: Reservations | None = None
    # As last read: the month's recorded spend, and what other calls held in the ledger.
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
    ) -> BudgetGuard:
        """The guard of one call for the call's installation (no checks without one)."""
        if budget is None or db is None or context.installation_id is None:
            return cls(None)
        return cls(budget, db, context.installation_id, ledger)

    async def _read_spend(self) -> Decimal:
        assert self.db is not None and self.installation_id is not None
        return await month_spend(self.db, self.installation_id)

    def _refuse(self, estimate: Decimal) -> BudgetExceeded:
        assert self.budget is not None
        return BudgetExceeded(self.budget, self.spent + self.others, estimate, next_month_start())

    async def reserve(self, estimate: Decimal) -> None:
        """Hold `estimate` for a request about to be sent, or raise `BudgetExceeded` if this
        month's spend plus everything in flight plus `estimate` would pass the budget."""
        if self.budget is None:
            return
        if self.ledger is None or self.installation_id is None:
            self.spent = await self._read_spend()
            self.others = self.held_usd
            if self.spent + self.held_usd + estimate > self.budget or self.spent >= self.budget:
                raise self._refuse(estimate)
            self.held_usd += estimate
            return
        for _ in range(RESERVE_ROUNDS):
            spent = await self._read_spend()
            reservation, others = await self.ledger.reserve(
                self.installation_id, spent, estimate, self.budget
            )
            self.spent, self.others = spent, others
            if reservation is None:
                raise self._refuse(estimate)
            # A call that finished while this one reserved may have written its cost after
            # `spent` was read and left the ledger before the script looked: read the spend
            # again and keep the reservation only if it still fits.
            after = await self._read_spend()
            if after <= spent or after + others + estimate <= self.budget:
                self.spent = max(spent, after)
                self.held.append(reservation)
                self.held_usd += estimate
                return
            await self.ledger.release(self.installation_id, reservation)
        raise self._refuse(estimate)

    async def release(self) -> None:
        """Give back every reservation (the model's real cost is recorded by then)."""
        held, self.held, self.held_usd = self.held, [], Decimal(0)
        if self.ledger is not None and self.installation_id is not None:
            for reservation in held:
                await self.ledger.release(self.installation_id, reservation)


# Reservations of in-flight calls, per installation. KEYS[1]: a sorted set whose members are
# "<id>:<micro-dollars>", scored by when they expire (ms), so a worker that dies mid-call
# frees its reservation after the TTL. ARGV: spent, estimate, budget (micro-dollars), TTL (ms),
# reservation id. Returns {1 if reserved else 0, micro-dollars reserved before this one}.
_RESERVE = """
redis.replicate_commands()
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
local reserved = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  reserved = reserved + tonumber(string.match(member, ':(%d+)$'))
end
if tonumber(ARGV[1]) + reserved + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  return {0, reserved}
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[4]), ARGV[5] .. ':' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, reserved}
"""

MICROS = Decimal(1_000_000)


class Reservations:
    """The worst-case cost of calls in flight, per installation, shared through Redis.

    Spend in the usage table only counts calls that have finished. Calls running at the same
    time (the chapters of `/generate chapter all`, jobs on several workers) would each see
    the same spend and together pass the budget; each first reserves its worst case here,
    atomically against spend + what is already reserved, and releases it once its real cost
    is in the usage table.
    """

    def __init__(self, redis: Any, ttl_seconds: float = 1800) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl_seconds * 1000)
        self._script = redis.register_script(_RESERVE)

    @staticmethod
    def _key(installation_id: int) -> str:
        return f"liquidbook:budget:reserved:{installation_id}"

    async def reserve(
        self, installation_id: int, spent: Decimal, estimate: Decimal, budget: Decimal
    ) -> tuple[str | None, Decimal]:
        """Reserve `estimate`: (reservation id, reserved by others) — the id is None when
        spend + reservations + estimate would pass `budget`."""
        reservation = uuid.uuid4().hex
        micros = [
            int((value * MICROS).to_integral_value(ROUND_CEILING))
            for value in (spent, estimate, budget)
        ]
        admitted, before = await self._script(
            keys=[self._key(installation_id)], args=[*micros, self.ttl_ms, reservation]
        )
        others = Decimal(int(before)) / MICROS
        return (f"{reservation}:{micros[1]}" if int(admitted) else None), others

    async def release(self, installation_id: int, reservation: str) -> None:
        """Drop a reservation (after the call's cost was recorded)."""
        await self.redis.zrem(self._key(installation_id), reservation)
