"""Budget reservations: calls in flight at once cannot pass the budget together, whether
first requests or continuations; spend recorded meanwhile counts; the month's spend cached in
Redis stays exact; a call that fits once others finish waits for them instead of failing."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import redis.asyncio

from bot.db import Database
from bot.providers import BudgetExceeded, ModelClient, TextRequest
from bot.providers.accounting import UsageWriter
from bot.providers.budget import BudgetGuard, Reservations
from bot.usage import UsageContext, UsageRow, month_spend, next_month_start, record_usage
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
        admitted = [r for r, _, _ in results if r is not None]
        assert len(admitted) == 2  # 0.20 + 2 × 0.30 fits; a third would make 1.10
        refused = [held for r, held, _ in results if r is None]
        assert len(refused) == 8 and all(held == Decimal("0.6") for held in refused)
        # Another installation has its own ledger.
        other, _, _ = await ledger.reserve(8, Decimal("0.9"), Decimal("1.00"), spent=Decimal(0))
        assert other is not None
        await ledger.release(7, admitted[0])
        again, _, _ = await ledger.reserve(
            7, Decimal("0.30"), Decimal("1.00"), spent=Decimal("0.20")
        )
        assert again is not None
    finally:
        await client.aclose()


async def test_reservations_of_a_dead_worker_expire(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        ledger = Reservations(client, ttl_seconds=1.0)
        zero = Decimal(0)
        first, _, _ = await ledger.reserve(9, Decimal("0.8"), Decimal("1.00"), spent=zero)
        assert first is not None
        blocked, _, _ = await ledger.reserve(9, Decimal("0.8"), Decimal("1.00"), spent=zero)
        assert blocked is None
        await asyncio.sleep(1.1)  # never released: the TTL frees it
        later, _, _ = await ledger.reserve(9, Decimal("0.8"), Decimal("1.00"), spent=zero)
        assert later is not None
    finally:
        await client.aclose()


async def test_spend_recorded_after_the_guard_opened_counts(
    database: Database, redis_url: str
) -> None:
    """Each reservation sees the spend of calls that finished after this one started, so
    its later requests (continuations) count them."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        # With the shared ledger (Redis, where the spend is cached), and without one.
        for installation_id, ledger in ((70, Reservations(client)), (71, None)):
            context = UsageContext(installation_id=installation_id)
            writer = UsageWriter(database, ledger)
            await writer.write(context, UsageRow("x", "y", cost_usd=Decimal("0.10")))
            guard = await BudgetGuard.open(database, context, Decimal("1"), ledger)
            await guard.reserve(Decimal("0.30"))
            # Another call finishes and records its cost meanwhile.
            await writer.write(context, UsageRow("x", "y", cost_usd=Decimal("0.50")))
            with pytest.raises(BudgetExceeded) as caught:
                await guard.reserve(Decimal("0.20"), wait=False)  # 0.60 + 0.30 + 0.20 > 1
            assert (caught.value.spent, caught.value.held) == (Decimal("0.60"), 0)
            await guard.reserve(Decimal("0.10"))  # exactly fits
            await guard.release()
            key = f"liquidbook:budget:reserved:{installation_id}"
            assert await client.zrange(key, 0, -1) == []
            await writer.aclose()
    finally:
        await client.aclose()


async def test_the_cached_spend_stays_exact_while_rows_are_written_and_read(
    database: Database, redis_url: str
) -> None:
    """Rows written by many calls at once, while others read the spend (filling the cache
    from the database): the cached figure never misses nor doubles a row."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        ledger = Reservations(client)
        writer = UsageWriter(database, ledger)
        context = UsageContext(installation_id=72)

        async def write(i: int) -> None:
            await writer.write(context, UsageRow("x", "y", cost_usd=Decimal("0.001") * (i + 1)))

        async def read() -> None:
            await client.delete(Reservations.spend_key(72))  # force a refill from the database
            await ledger.read_spend(72, database)

        for _ in range(3):
            jobs = [write(i) for i in range(20)] + [read() for _ in range(10)]
            random.shuffle(jobs)
            await asyncio.gather(*jobs)
            truth = await month_spend(database, 72)
            hold, _, seen = await ledger.reserve(72, Decimal(0), Decimal(100), database)
            assert seen == truth and hold is not None
            await ledger.release(72, hold)
            # With nothing in flight, the figure read from the database is cached.
            cached = await client.get(Reservations.spend_key(72))
            assert cached is not None and Decimal(int(cached)) / 1_000_000 == truth
        assert truth == Decimal("0.630")  # 3 × (1 + … + 20) × $0.001
        await writer.aclose()
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


async def _gather_chapters(
    std: OpenAIChatStandIn,
    database: Database,
    redis_url: str,
    count: int,
    budget: Decimal,
    **overrides: object,
) -> list[object]:
    client_redis = redis.asyncio.Redis.from_url(redis_url)
    try:
        settings = settings_for(openai=std, **overrides)
        async with ModelClient(settings, client_redis, database, prices=TEST_PRICES) as client:
            return await asyncio.gather(
                *(
                    client.generate_text(
                        TextRequest(prompt="Write a chapter.", max_tokens=16_000),
                        ["openai:gpt-4.1"],
                        context=CONTEXT,
                        monthly_budget_usd=budget,
                    )
                    for _ in range(count)
                ),
                return_exceptions=True,
            )
    finally:
        await client_redis.aclose()


async def test_parallel_chapters_that_fit_their_real_cost_all_run(
    database: Database, redis_url: str
) -> None:
    """Six chapters at once under $0.30: each could cost up to $0.128 (16,000 tokens out at
    $8/M, the request's own max_tokens), so only two fit at a time, but each really costs
    a fraction of a cent. The others wait for holds to be released instead of failing."""
    with OpenAIChatStandIn("openai") as std:
        std.default = Behaviour(text="A chapter.", delay=0.3, completion_tokens=400)
        results = await _gather_chapters(std, database, redis_url, 6, Decimal("0.30"))
        peak = std.peak_in_flight
    assert [type(r).__name__ for r in results] == ["TextResult"] * 6
    assert peak == 2  # never more in flight than the worst cases allow
    spent = await month_spend(database, CONTEXT.installation_id or 0)
    assert spent < Decimal("0.03")
    assert await _reserved(redis_url) == []


async def test_a_spent_budget_refuses_at_once_with_budget_spend_and_reset(
    database: Database, redis_url: str
) -> None:
    await record_usage(database, CONTEXT, UsageRow("openai", "gpt-4.1", cost_usd=Decimal("0.25")))
    with OpenAIChatStandIn("openai") as std:
        started = time.monotonic()
        (refused,) = await _gather_chapters(std, database, redis_url, 1, Decimal("0.30"))
        assert time.monotonic() - started < 20  # no waiting (a wait would last up to 180 s)
        assert not std.requests
    assert isinstance(refused, BudgetExceeded)
    reset = next_month_start(datetime.now(UTC))
    assert refused.user_message == (
        "This call could cost up to $0.13 and this month's AI budget is $0.30 with $0.25 spent, "
        f"so it was not made: raise the budget or wait until it resets on {reset:%Y-%m-%d}."
    )


async def test_a_wait_that_runs_out_says_what_calls_in_flight_hold(
    database: Database, redis_url: str
) -> None:
    """Under $0.20 one $0.128 worst case fits at a time; the second call waits (here at most
    half a second) for the first, which takes longer, and then says it was held back by a
    call in flight, not by spend."""
    with OpenAIChatStandIn("openai") as std:
        std.default = Behaviour(text="A long chapter.", delay=2, completion_tokens=10)
        first, second = await _gather_chapters(
            std, database, redis_url, 2, Decimal("0.20"), budget_wait_s=0.5
        )
    results = sorted([first, second], key=lambda r: isinstance(r, BudgetExceeded))
    assert type(results[0]).__name__ == "TextResult"
    refused = results[1]
    assert isinstance(refused, BudgetExceeded)
    # The first call holds its worst case: what this one would have held too.
    assert refused.spent == 0 and refused.held == refused.estimate > Decimal("0.128")
    assert "with $0.00 spent and $0.13 held by calls in flight" in refused.user_message
