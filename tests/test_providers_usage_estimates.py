"""What a call cost when the provider did not say: a reply without usage and a stream that
broke off are counted at an estimate from their text (and their rows say so), never at $0;
the budget's worst case prices cache writes and counts CJK text as it tokenizes."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.db import Database, Usage
from bot.providers import ModelClient, ProviderError, TextRequest
from bot.providers.budget import estimate_text
from bot.providers.prices import PriceTable, default_table
from bot.providers.tokens import estimate_tokens
from bot.usage import UsageContext
from standins.providers import Behaviour, OpenAIChatStandIn, answer
from standins.providers.testing import TEST_PRICES, settings_for

CONTEXT = UsageContext(installation_id=31, repository="octo/book", command="generate chapter 1")


@pytest.fixture(scope="module")
def std() -> Iterator[OpenAIChatStandIn]:
    with OpenAIChatStandIn("openai") as server:
        yield server  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _fresh(std: OpenAIChatStandIn) -> None:
    std.reset()


def gpt41(tokens_in: int, tokens_out: int) -> Decimal:
    """gpt-4.1 in TEST_PRICES: $2 in, $8 out per million."""
    return (Decimal(tokens_in) * 2 + Decimal(tokens_out) * 8) / 10**6


@pytest.mark.parametrize("stream", [True, False])
async def test_a_reply_without_usage_is_counted_at_an_estimate(
    std: OpenAIChatStandIn, stream: bool
) -> None:
    text = "A chapter that came without a usage report. " * 10
    std.script(Behaviour(text=text, report_usage=False))
    async with ModelClient(settings_for(openai=std), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write it.", stream=stream), ["openai:gpt-4.1"]
        )
    usage = result.usage
    assert usage.outcome == "ok:estimated"
    assert "tokens estimated from the text" in (usage.error or "")
    assert usage.tokens_out == estimate_tokens(text) and usage.tokens_in == 3
    assert usage.cost_usd == gpt41(3, estimate_tokens(text)) > 0


async def test_a_stream_that_broke_off_and_was_retried_is_counted(
    std: OpenAIChatStandIn, database: Database
) -> None:
    text = "Streamed part of a chapter. " * 20
    std.script(
        Behaviour(text=text, drop_after=4, chunks=8),
        answer("The whole chapter.", prompt_tokens=100, completion_tokens=50),
    )
    async with ModelClient(settings_for(openai=std), None, database, prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write it.", stream=True), ["openai:gpt-4.1"], context=CONTEXT
        )
    assert result.text == "The whole chapter." and result.attempts[0].tries == 2
    # The broken stream: the prompt (3 tokens) and the half it wrote, estimated.
    half = estimate_tokens(text[: len(text) // 2])
    usage = result.usage
    assert (usage.tokens_in, usage.tokens_out) == (103, 50 + half)
    assert usage.cost_usd == gpt41(100, 50) + gpt41(3, half)
    assert usage.outcome == "ok:estimated"
    assert "1 streams broke off, counted at an estimate" in (usage.error or "")


async def test_a_model_whose_streams_all_broke_off_records_their_estimated_cost(
    std: OpenAIChatStandIn, database: Database
) -> None:
    std.default = Behaviour(text="Half a chapter, then nothing. " * 20, drop_after=3)
    settings = settings_for(openai=std, retry_max_tries=2)
    async with ModelClient(settings, None, database, prices=TEST_PRICES) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(
                TextRequest(prompt="Write it.", stream=True), ["openai:gpt-4.1"], context=CONTEXT
            )
    assert caught.value.outcome == "connection_error"
    async with database.session() as session:
        row = (await session.execute(select(Usage))).scalar_one()
    assert row.outcome == "connection_error" and row.cost_usd > 0 and row.tokens_out > 0
    assert row.error is not None and row.error.startswith(
        "2 streams broke off, cost estimated from their text"
    )


def test_the_worst_case_prices_the_cache_write_of_the_stable_prefix() -> None:
    table = default_table()
    request = TextRequest(stable_prefix="o" * 30_000, prompt="x" * 300, max_tokens=1000)
    # claude-sonnet-5-5: $2 in, $2.50 cache write, $10 out; the prefix (10,000 tokens) may be
    # written to the cache, the rest (100 tokens) is plain input.
    expected = (Decimal(10_000) * Decimal("2.50") + Decimal(100) * 2 + Decimal(1000) * 10) / 10**6
    assert estimate_text(table, "anthropic:claude-sonnet-5-5", request) == expected
    # Without a cache-write price, all of it is plain input.
    plain = PriceTable.from_mapping({"models": {"acme:m": {"input": 2, "output": 10}}})
    assert (
        estimate_text(plain, "acme:m", request)
        == (Decimal(10_100) * 2 + Decimal(1000) * 10) / 10**6
    )


def test_cjk_text_is_counted_a_token_a_character() -> None:
    assert estimate_tokens("abcdef") == 2
    assert estimate_tokens("第三章：贝叶斯统计") == 9
    assert estimate_tokens("Kapitel über Bäume") == 6 + 2  # 16 ASCII characters, 2 others
    chinese = TextRequest(prompt="请写第三章，关于贝叶斯统计。" * 100, max_tokens=0)
    table = PriceTable.from_mapping({"models": {"acme:m": {"input": 1_000_000, "output": 1}}})
    # Each of the 1,400 characters counts as a token (3 characters a token would say ~467).
    assert estimate_text(table, "acme:m", chinese) == Decimal(1400)
