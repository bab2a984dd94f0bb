"""Budget reservations: calls in flight at once cannot pass the budget together."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import redis.asyncio

from bot.providers.budget import Reservations


async def test_concurrent_reservations_never_pass_the_budget(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        ledger = Reservations(client)
        attempts = [
            ledger.reserve(
                7, spent=Decimal("0.20"), estimate=Decimal("0.30"), budget=Decimal("1.00")
            )
            for _ in range(10)
        ]
        results = await asyncio.gather(*attempts)
        admitted = [r for r, _ in results if r is not None]
        assert len(admitted) == 2  # 0.20 + 2 × 0.30 fits; a third would make 1.10
        refused = [others for r, others in results if r is None]
        assert len(refused) == 8 and all(others == Decimal("0.6") for others in refused)
        # Another installation has its own ledger.
        other, _ = await ledger.reserve(8, Decimal(0), Decimal("0.9"), Decimal("1.00"))
        assert other is not None
        await ledger.release(7, admitted[0])
        again, _ = await ledger.reserve(7, Decimal("0.20"), Decimal("0.30"), Decimal("1.00"))
        assert again is not None
    finally:
        await client.aclose()


async def test_reservations_of_a_dead_worker_expire(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        ledger = Reservations(client, ttl_seconds=0.3)
        first, _ = await ledger.reserve(9, Decimal(0), Decimal("0.8"), Decimal("1.00"))
        assert first is not None
        blocked, _ = await ledger.reserve(9, Decimal(0), Decimal("0.8"), Decimal("1.00"))
        assert blocked is None
        await asyncio.sleep(0.4)  # never released: the TTL frees it
        later, _ = await ledger.reserve(9, Decimal(0), Decimal("0.8"), Decimal("1.00"))
        assert later is not None
    finally:
        await client.aclose()
