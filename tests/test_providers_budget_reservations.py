"""Budget reservations: calls in flight at once cannot pass the budget together, whether
first requests or continuations, and spend recorded meanwhile counts."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import redis.asyncio

from bot.db import Database
from bot.providers import BudgetExceeded, ModelClient, TextRequest
from bot.providers.budget import BudgetGuard, Reservations
from bot.usage import UsageContext, UsageRow, month_spend, record_usage
from standins.providers import Behaviour, OpenAIChatStandIn
from standins.providers.testing import TEST_PRICES, settings_for

CONTEXT = UsageContext(installation_id=77, repository="octo/book", command="generate chapter all")
KEY = f"liquidbook:budget:reserved:{CONTEXT.installation_id}"


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


async def test_spend_recorded_after_the_guard_opened_counts(
    database: Database, redis_url: str
) -> None:
    """Each reservation reads the month's spend again: a call that finished after this one
    started is not invisible to its later requests (continuations)."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        # With the shared ledger (Redis), and without one (each guard on its own).
        for installation_id, ledger in ((70, Reservations(client)), (71, None)):
            context = UsageContext(installation_id=installation_id)
            await record_usage(database, context, UsageRow("x", "y", cost_usd=Decimal("0.10")))
            guard = await BudgetGuard.open(database, context, Decimal("1"), ledger)
            await guard.reserve(Decimal("0.30"))
            # Another call finishes and records its cost meanwhile (and leaves the ledger).
            await record_usage(database, context, UsageRow("x", "y", cost_usd=Decimal("0.50")))
            with pytest.raises(BudgetExceeded) as caught:
                await guard.reserve(Decimal("0.20"))  # 0.60 spent + 0.30 held + 0.20 > 1
            assert caught.value.spent == Decimal("0.90")
            await guard.reserve(Decimal("0.10"))  # exactly fits
            await guard.release()
            key = f"liquidbook:budget:reserved:{installation_id}"
            assert await client.zrange(key, 0, -1) == []
    finally:
        await client.aclose()


async def test_continuations_in_flight_together_stay_within_the_budget(
    database: Database, redis_url: str
) -> None:
    """Two chapters on two workers, each cut off at max_tokens and continued: each request —
    first parts and continuations — is reserved before it is sent, so together they stop at
    the budget (before, continuations were only checked against a stale spend, and four
    requests went out where three fit)."""
    # Each request to gpt-4.1 can cost ≈ $0.0329 (4096 tokens out at $8/M); 3.5 of them fit.
    await record_usage(database, CONTEXT, UsageRow("openai", "gpt-4.1", cost_usd=Decimal("0.885")))
    budget = Decimal("1")
    with OpenAIChatStandIn("openai") as std:
        std.default = Behaviour(text="Part of it.", truncated=True, completion_tokens=4096)
        settings = settings_for(openai=std)
        redis_clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(2)]
        workers = [ModelClient(settings, r, database, prices=TEST_PRICES) for r in redis_clients]
        try:
            results = await asyncio.gather(
                *(
                    worker.generate_text(
                        TextRequest(prompt="Write.", max_tokens=4096, continuations=1),
                        ["openai:gpt-4.1"],
                        context=CONTEXT,
                        monthly_budget_usd=budget,
                    )
                    for worker in workers
                )
            )
        finally:
            for worker in workers:
                await worker.aclose()
            for r in redis_clients:
                await r.aclose()
        sent = len(std.requests)
    # Both first parts fit; of the two continuations, only one does.
    assert sent == 3
    assert sorted(r.continuations for r in results) == [0, 1]
    assert all(r.truncated for r in results)
    spent = await month_spend(database, CONTEXT.installation_id or 0)
    assert Decimal("0.98") < spent <= budget
    assert await _reserved(redis_url) == []


async def _reserved(redis_url: str) -> list[bytes]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        return await client.zrange(KEY, 0, -1)
    finally:
        await client.aclose()
