"""The fallback chain: retries, usage rows in a real database, budgets, error sentences."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.db import Database, Usage
from bot.providers import (
    AllModelsFailed,
    BudgetExceeded,
    ModelClient,
    ProviderError,
    TextRequest,
)
from bot.usage import UsageContext, UsageRow, next_month_start, record_usage, totals
from standins.providers import (
    Behaviour,
    OpenAIChatStandIn,
    answer,
    quota_exhausted,
    rate_limited,
    server_error,
)
from standins.providers.openai_chat import OPENAI_CHAT_MODELS
from standins.providers.testing import TEST_PRICES, settings_for

CONTEXT = UsageContext(installation_id=42, repository="octo/book", command="generate chapter 3")


@pytest.fixture(scope="module")
def stands() -> Iterator[dict[str, OpenAIChatStandIn]]:
    servers = {
        "openrouter": OpenAIChatStandIn("openrouter", api_key="sk-or-v1-secretsecret"),
        "together": OpenAIChatStandIn("together", api_key="tgp_v1_secretsecret"),
        # gpt-7 plays a model newer than the price table.
        "openai": OpenAIChatStandIn(
            "openai", api_key="sk-proj-secretsecret", known_models=OPENAI_CHAT_MODELS | {"gpt-7"}
        ),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(autouse=True)
def _fresh(stands: dict[str, OpenAIChatStandIn]) -> None:
    for server in stands.values():
        server.reset()


async def test_three_model_chain_ends_on_the_third_with_three_usage_rows(
    stands: dict[str, OpenAIChatStandIn], database: Database
) -> None:
    stands["openrouter"].script(rate_limited(retry_after_ms=50), rate_limited(retry_after_ms=50))
    stands["together"].script(server_error(), server_error())
    stands["openai"].script(answer("Third time lucky.", prompt_tokens=1000, completion_tokens=500))
    settings = settings_for(**stands, retry_max_tries=2)
    models = [
        "openrouter:anthropic/claude-sonnet-4.5",
        "together:meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "openai:gpt-4.1",
    ]
    async with ModelClient(settings, None, database, prices=TEST_PRICES) as client:
        result = await client.generate_text(TextRequest(prompt="Write."), models, context=CONTEXT)

    assert result.text == "Third time lucky." and result.model == "openai:gpt-4.1"
    assert [len(s.requests) for s in stands.values()] == [2, 2, 1]
    assert [(a.model, a.usage.outcome, a.tries) for a in result.attempts] == [
        (models[0], "rate_limited", 2),
        (models[1], "server_error", 2),
        (models[2], "ok", 1),
    ]
    async with database.session() as session:
        rows = (await session.execute(select(Usage).order_by(Usage.id))).scalars().all()
    assert [(r.provider, r.outcome) for r in rows] == [
        ("openrouter", "rate_limited"),
        ("together", "server_error"),
        ("openai", "ok"),
    ]
    assert all(r.installation_id == 42 and r.repository == "octo/book" for r in rows)
    assert rows[0].error is not None and rows[0].error.startswith("2 requests")
    assert rows[0].cost_usd == rows[1].cost_usd == 0
    # gpt-4.1: 1000 in at $2/M + 500 out at $8/M.
    assert rows[2].cost_usd == Decimal("0.006") and rows[2].tokens_in == 1000
    month = await totals(database, installation_id=42)
    assert (month.calls, month.cost_usd) == (3, Decimal("0.006"))


async def test_retry_after_seconds_is_honoured(stands: dict[str, OpenAIChatStandIn]) -> None:
    stands["openai"].script(rate_limited(retry_after="1"), answer("after the wait"))
    # Backoff alone would wait milliseconds: the second request must wait the full second.
    async with ModelClient(settings_for(openai=stands["openai"]), prices=TEST_PRICES) as client:
        result = await client.generate_text(TextRequest(prompt="x"), ["openai:gpt-4.1"])
    first, second = stands["openai"].requests
    assert second.at - first.at >= 0.95
    assert result.text == "after the wait" and result.attempts[0].tries == 2
    assert result.usage.error == "2 requests"


async def test_retry_after_ms_is_honoured(stands: dict[str, OpenAIChatStandIn]) -> None:
    stands["openai"].script(Behaviour(status=503, headers={"retry-after-ms": "300"}), answer("ok"))
    async with ModelClient(settings_for(openai=stands["openai"]), prices=TEST_PRICES) as client:
        await client.generate_text(TextRequest(prompt="x"), ["openai:gpt-4.1"])
    first, second = stands["openai"].requests
    assert 0.28 <= second.at - first.at < 10  # milliseconds, not 300 seconds


async def test_a_retry_after_beyond_the_wait_budget_moves_on(
    stands: dict[str, OpenAIChatStandIn],
) -> None:
    stands["openai"].script(rate_limited(retry_after="30"))
    stands["together"].script(answer("elsewhere"))
    settings = settings_for(**stands, retry_max_wait_s=5)
    started = time.monotonic()
    async with ModelClient(settings, prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="x"), ["openai:gpt-4.1", "together:deepseek-ai/DeepSeek-V3"]
        )
    assert time.monotonic() - started < 20  # did not sit out the 30 s
    assert result.text == "elsewhere"


async def test_no_retry_on_400(stands: dict[str, OpenAIChatStandIn]) -> None:
    stands["openai"].script(Behaviour(status=400, message="max_tokens is too large: 999999."))
    async with ModelClient(settings_for(openai=stands["openai"]), prices=TEST_PRICES) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x"), ["openai:gpt-4.1"])
    assert len(stands["openai"].requests) == 1
    assert caught.value.outcome == "bad_request"
    assert caught.value.user_message == (
        "OpenAI rejected the request openai:gpt-4.1 (400: invalid_request_error max_tokens is too "
        "large: 999999.): check the model name and the book's settings."
    )


async def test_persistent_5xx_is_bounded(stands: dict[str, OpenAIChatStandIn]) -> None:
    stands["openai"].default = server_error(502)
    async with ModelClient(
        settings_for(openai=stands["openai"], retry_max_tries=3), prices=TEST_PRICES
    ) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x"), ["openai:gpt-4.1"])
    assert len(stands["openai"].requests) == 3
    assert caught.value.user_message == (
        "OpenAI had a server error (502): try again later or add a fallback model."
    )


async def test_quota_moves_on_without_retrying(stands: dict[str, OpenAIChatStandIn]) -> None:
    stands["openai"].script(quota_exhausted())  # OpenAI's 429 insufficient_quota
    stands["openrouter"].script(quota_exhausted())  # OpenRouter's 402
    stands["together"].script(answer("paid for"))
    async with ModelClient(settings_for(**stands), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="x"),
            ["openai:gpt-4.1", "openrouter:openai/gpt-4.1", "together:deepseek-ai/DeepSeek-V3"],
        )
    assert [a.usage.outcome for a in result.attempts] == [
        "quota_exhausted",
        "quota_exhausted",
        "ok",
    ]
    assert len(stands["openai"].requests) == len(stands["openrouter"].requests) == 1


async def test_all_failed_is_one_sentence_naming_each_model(
    stands: dict[str, OpenAIChatStandIn],
) -> None:
    stands["openai"].script(rate_limited(retry_after_ms=1), rate_limited(retry_after_ms=1))
    stands["openrouter"].script(Behaviour(status=403, moderated=True))
    settings = settings_for(
        openai=stands["openai"], openrouter=stands["openrouter"], retry_max_tries=2
    )
    async with ModelClient(settings, prices=TEST_PRICES) as client:
        with pytest.raises(AllModelsFailed) as caught:
            await client.generate_text(
                TextRequest(prompt="x"),
                ["openai:gpt-4.1", "openrouter:anthropic/claude-sonnet-4.5", "together:x/y"],
            )
    assert caught.value.user_message == (
        "All 3 models failed: openai:gpt-4.1 was rate limited (2 tries); "
        "openrouter:anthropic/claude-sonnet-4.5 refused the request; "
        "together:x/y is not set up on this server yet (no API key; the operator has been told)."
    )
    # The operator reads what to change in the log (and at the shell, `liquidbook generate`).
    assert "set TOGETHER_API_KEY on the server" in caught.value.operator_message
    assert len(caught.value.attempts) == 3


async def test_missing_key_sentence() -> None:
    async with ModelClient(settings_for(), prices=TEST_PRICES) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(
                TextRequest(prompt="x"), ["together:deepseek-ai/DeepSeek-V3"]
            )
    # The author is not asked to change the server; the operator is, in the log.
    assert caught.value.user_message == (
        "Together is not set up on this server yet (it has no API key for it): the operator "
        "has been told in the logs."
    )
    assert (
        caught.value.operator_message
        == "No API key is set for Together: set TOGETHER_API_KEY on the server."
    )


async def test_unknown_provider_and_bad_names() -> None:
    async with ModelClient(settings_for(), prices=TEST_PRICES) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x"), ["nosuch:model"])
        assert caught.value.user_message == (
            "Unknown model 'nosuch:model': 'nosuch' is not a known provider and "
            "NOSUCH_BASE_URL is not set."
        )
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x"), ["gpt-4.1"])
        assert "write it as provider:model" in caught.value.user_message


async def test_wrong_key_never_leaks(
    stands: dict[str, OpenAIChatStandIn], database: Database
) -> None:
    settings = settings_for(openai=stands["openai"], openai_api_key="sk-proj-WRONGKEY123456")
    async with ModelClient(settings, None, database, prices=TEST_PRICES) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x"), ["openai:gpt-4.1"], context=CONTEXT)
    assert caught.value.user_message == (
        "OpenAI refused this server's API key (401): the operator has been told in the logs."
    )
    assert caught.value.operator_message == (
        "OpenAI refused the API key (401): check OPENAI_API_KEY on the server."
    )
    assert "WRONGKEY" not in caught.value.operator_message
    async with database.session() as session:
        row = (await session.execute(select(Usage))).scalar_one()
    # The stand-in echoes a masked key, as OpenAI does; none of it reaches the row.
    assert row.outcome == "auth_failed"
    assert row.error is not None and "sk-pr" not in row.error and "3456" not in row.error


async def test_budget_refuses_before_any_request(
    stands: dict[str, OpenAIChatStandIn], database: Database
) -> None:
    await record_usage(database, CONTEXT, UsageRow("openai", "gpt-4.1", cost_usd=Decimal("19.99")))
    async with ModelClient(settings_for(**stands), None, database, prices=TEST_PRICES) as client:
        with pytest.raises(BudgetExceeded) as caught:
            await client.generate_text(
                TextRequest(prompt="Write a chapter.", max_tokens=16000),
                ["openai:gpt-4.1", "together:deepseek-ai/DeepSeek-V3"],
                context=CONTEXT,
                monthly_budget_usd=Decimal("20"),
            )
    assert all(not s.requests for s in stands.values())
    message = caught.value.user_message
    reset = next_month_start(datetime.now(UTC))
    assert "$20.00" in message and "$19.99" in message and f"{reset:%Y-%m-%d}" in message
    assert message.count(".") >= 1 and "\n" not in message
    async with database.session() as session:
        assert len((await session.execute(select(Usage))).scalars().all()) == 1


async def test_budget_default_comes_from_settings_and_fits_cheaper_models(
    stands: dict[str, OpenAIChatStandIn], database: Database
) -> None:
    await record_usage(database, CONTEXT, UsageRow("openai", "gpt-4.1", cost_usd=Decimal("0.97")))
    stands["together"].script(answer("cheap enough"))
    settings = settings_for(**stands, liquidbook_monthly_budget_usd=Decimal("1"))
    async with ModelClient(settings, None, database, prices=TEST_PRICES) as client:
        # gpt-4.1 could cost 4096 × $8/M ≈ $0.033 > $0.03 left; Llama 3.3 ≈ $0.0036 fits.
        result = await client.generate_text(
            TextRequest(prompt="Write.", max_tokens=4096),
            ["openai:gpt-4.1", "together:meta-llama/Llama-3.3-70B-Instruct-Turbo"],
            context=CONTEXT,
        )
    assert result.text == "cheap enough"
    assert not stands["openai"].requests
    assert [a.model for a in result.attempts] == [
        "together:meta-llama/Llama-3.3-70B-Instruct-Turbo"
    ]


async def test_unpriced_paid_models_cannot_bypass_the_budget(
    stands: dict[str, OpenAIChatStandIn], database: Database
) -> None:
    await record_usage(database, CONTEXT, UsageRow("openai", "gpt-4.1", cost_usd=Decimal("19.90")))
    stands["together"].script(answer("from the local server"))
    settings = settings_for(
        openai=stands["openai"],
        custom_base_urls={"local": stands["together"].base_url},
        custom_api_keys={"local": stands["together"].api_key},
    )
    request = TextRequest(prompt="Write.", max_tokens=4096)
    async with ModelClient(settings, None, database, prices=TEST_PRICES) as client:
        # Not in prices.yml: estimated at OpenAI's ceiling (4096 × $75/M ≈ $0.31 > $0.10 left).
        with pytest.raises(BudgetExceeded) as caught:
            await client.generate_text(
                request, ["openai:gpt-7"], context=CONTEXT, monthly_budget_usd=Decimal("20")
            )
        assert not stands["openai"].requests and caught.value.estimate > Decimal("0.3")
        # A custom server (`LOCAL_BASE_URL`) is free unless priced.
        local = await client.generate_text(
            request, ["local:llama3.1:8b"], context=CONTEXT, monthly_budget_usd=Decimal("20")
        )
        # With room for the ceiling, the unpriced model answers; its cost is recorded as 0.
        stands["openai"].script(answer("new model"))
        unpriced = await client.generate_text(
            request, ["openai:gpt-7"], context=CONTEXT, monthly_budget_usd=Decimal("100")
        )
    assert local.text == "from the local server" and unpriced.text == "new model"
    assert local.usage.outcome == unpriced.usage.outcome == "ok:unpriced"
    assert local.usage.cost_usd == unpriced.usage.cost_usd == 0


async def test_truncated_openai_output_is_continued_or_flagged(
    stands: dict[str, OpenAIChatStandIn],
) -> None:
    std = stands["openai"]
    std.script(Behaviour(text="Half", truncated=True), Behaviour(text=" and the rest."))
    async with ModelClient(settings_for(openai=std), prices=TEST_PRICES) as client:
        whole = await client.generate_text(TextRequest(prompt="x"), ["openai:gpt-4.1"])
        std.script(Behaviour(text="Cut", truncated=True))
        cut = await client.generate_text(
            TextRequest(prompt="x", continuations=0), ["openai:gpt-4.1"]
        )
    assert whole.text == "Half and the rest." and not whole.truncated
    assert cut.truncated and cut.finish_reason == "length" and cut.usage.outcome == "ok:truncated"
    continuation = std.requests[1].body["messages"]
    assert continuation[-2] == {"role": "assistant", "content": "Half"}


async def test_calls_in_flight_together_stay_within_the_budget(
    stands: dict[str, OpenAIChatStandIn], database: Database, redis_url: str
) -> None:
    """Five chapters at once, each able to cost up to ~$0.033, under $0.08 left: the ledger
    admits two; with no time to wait for them (`budget_wait_s=0`) the others are refused
    before any request, whichever process runs them."""
    import asyncio

    import redis.asyncio

    await record_usage(database, CONTEXT, UsageRow("openai", "gpt-4.1", cost_usd=Decimal("0.92")))
    std = stands["openai"]
    std.default = Behaviour(text="A chapter.", delay=0.5)
    client_redis = redis.asyncio.Redis.from_url(redis_url)
    try:
        async with ModelClient(
            settings_for(openai=std, budget_wait_s=0), client_redis, database, prices=TEST_PRICES
        ) as client:
            calls = [
                client.generate_text(
                    TextRequest(prompt="Write.", max_tokens=4096),
                    ["openai:gpt-4.1"],
                    context=CONTEXT,
                    monthly_budget_usd=Decimal("1"),
                )
                for _ in range(5)
            ]
            results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await client_redis.aclose()
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(answered) == 2 and len(refused) == 3
    assert len(std.requests) == 2
    # Reservations were released once the real costs were recorded.
    assert await _reserved(redis_url) == []


async def _reserved(redis_url: str) -> list[bytes]:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        return await client.zrange(f"liquidbook:budget:reserved:{CONTEXT.installation_id}", 0, -1)
    finally:
        await client.aclose()
