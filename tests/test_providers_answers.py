"""Replies that are not answers, over HTTP from the stand-ins: a 10 MB stream is cut off at
the request's cap and counted where reading stopped, an oversized reply is refused, and an
empty or ill-formed one fails its model; each time the chain moves on to the next model."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.db import Database, Usage
from bot.providers import ModelClient, ProviderError, TextRequest
from bot.providers.answers import output_limit
from bot.providers.budget import estimate_text
from bot.usage import UsageContext
from standins.providers import AnthropicStandIn, Behaviour, OpenAIChatStandIn, answer
from standins.providers.testing import TEST_PRICES, settings_for

CONTEXT = UsageContext(installation_id=43, repository="octo/book", command="generate chapter 1")
TEN_MB = "All work and no play makes Jack a dull boy. " * 230_000
MODELS = {"openai": "openai:gpt-4.1", "anthropic": "anthropic:claude-haiku-4-5"}
CHAPTER = TextRequest(prompt="Write chapter 1.", max_tokens=16_000)


@pytest.fixture(scope="module")
def standins() -> Iterator[dict[str, OpenAIChatStandIn | AnthropicStandIn]]:
    with OpenAIChatStandIn("openai") as openai, AnthropicStandIn() as anthropic:
        yield {"openai": openai, "anthropic": anthropic}  # type: ignore[dict-item]


@pytest.fixture(autouse=True)
def _fresh(standins: dict[str, OpenAIChatStandIn | AnthropicStandIn]) -> None:
    for std in standins.values():
        std.reset()


def _other(provider: str) -> str:
    return "anthropic" if provider == "openai" else "openai"


async def _rows(database: Database) -> list[Usage]:
    async with database.session() as session:
        return list((await session.execute(select(Usage).order_by(Usage.id))).scalars().all())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_ten_megabyte_stream_is_cut_off_at_the_cap_and_the_next_model_answers(
    standins: dict[str, OpenAIChatStandIn | AnthropicStandIn], provider: str, database: Database
) -> None:
    runaway, backup = standins[provider], standins[_other(provider)]
    # Paced like a fast model (a few ms a piece of 4 KB), so the stand-in only sends what
    # the client reads: read to the end, it would send all 10 MB.
    runaway.script(
        Behaviour(text=TEN_MB, chunks=2500, chunk_delay=0.002, completion_tokens=2_500_000)
    )
    backup.script(answer("A chapter of a sensible length."))
    settings = settings_for(**standins)
    async with ModelClient(settings, None, database, prices=TEST_PRICES) as client:
        result = await client.generate_text(
            CHAPTER, [MODELS[provider], MODELS[_other(provider)]], context=CONTEXT
        )
    assert result.text == "A chapter of a sensible length."
    assert len(runaway.requests) == 1  # not retried: another try is paid again
    assert runaway.bytes_sent < len(TEN_MB) / 10, runaway.bytes_sent

    first, second = await _rows(database)
    assert (first.provider, first.outcome) == (provider, "runaway")
    assert second.outcome == "ok"
    # Counted where reading stopped (at about twice the cap), not at the 2.5 M tokens the
    # whole would have been: a few times the reservation at most, never the $20 of it all.
    reserved = estimate_text(TEST_PRICES, MODELS[provider], CHAPTER)
    assert 16_000 < first.tokens_out <= 2 * 16_000 + 256
    assert Decimal(0) < first.cost_usd <= 3 * reserved
    assert first.error is not None and "above the" in first.error  # spend past the hold
    assert "wrote past its length limit" in (result.attempts[0].phrase or "")
    assert "above the" in (result.attempts[0].phrase or "")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_an_oversized_reply_that_is_not_streamed_is_refused(
    standins: dict[str, OpenAIChatStandIn | AnthropicStandIn], provider: str
) -> None:
    std = standins[provider]
    # A 10 MB body (reading stops well before its end), then a short text whose usage says
    # 2.5 M tokens.
    std.script(
        Behaviour(text=TEN_MB),
        Behaviour(text="Short.", completion_tokens=2_500_000),
    )
    request = TextRequest(prompt="Write.", max_tokens=16_000, stream=False)
    async with ModelClient(settings_for(**{provider: std}), prices=TEST_PRICES) as client:
        for _ in range(2):
            with pytest.raises(ProviderError) as caught:
                await client.generate_text(request, [MODELS[provider]])
            assert caught.value.outcome == "runaway"
            assert "past the length limit it was given (16,000 tokens)" in (
                caught.value.user_message
            )
            row = caught.value.attempts[0].usage
            # Counted at no more than the cap allows, whatever the provider claimed.
            assert 0 < row.tokens_out <= 2 * 16_000 + 256
    assert row.tokens_out == output_limit(16_000)
    assert row.error is not None and "2,500,000 output tokens reported" in row.error


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "answered with an empty text"),
        (" \n\t\u200b\ufeff\n", "answered with an empty text"),
        ("A chapter\ud800 with a lone surrogate", "not valid Unicode (a lone surrogate)"),
    ],
)
async def test_an_empty_or_ill_formed_answer_fails_over(
    standins: dict[str, OpenAIChatStandIn | AnthropicStandIn],
    provider: str,
    stream: bool,
    text: str,
    why: str,
) -> None:
    std, backup = standins[provider], standins[_other(provider)]
    std.script(answer(text, chunks=3))
    backup.script(answer("Something to read."))
    async with ModelClient(settings_for(**standins), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", stream=stream),
            [MODELS[provider], MODELS[_other(provider)]],
        )
    assert result.text == "Something to read."
    first = result.attempts[0]
    assert first.usage.outcome == "unusable" and why in (first.phrase or "")
    assert first.usage.cost_usd > 0  # it was paid for
    assert len(std.requests) == 1


async def test_a_surrogate_pair_split_between_two_stream_events_is_joined(
    standins: dict[str, OpenAIChatStandIn | AnthropicStandIn],
) -> None:
    std = standins["openai"]
    # "😀" as its two UTF-16 halves, each escaped in its own chunk (`\ud83d`, `\ude00`).
    std.script(answer("ab\ud83d\ude00cd", chunks=2))
    async with ModelClient(settings_for(openai=std), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", stream=True), [MODELS["openai"]]
        )
    assert result.text == "ab😀cd"


async def test_the_callers_own_rule_fails_the_model_and_the_next_one_is_tried(
    standins: dict[str, OpenAIChatStandIn | AnthropicStandIn],
) -> None:
    standins["openai"].script(answer("---\ntitle: Only front matter\n---\n"))
    standins["anthropic"].script(answer("A body."))

    def accept(text: str) -> str | None:
        return None if "body" in text else "answered with no chapter text"

    async with ModelClient(settings_for(**standins), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", accept=accept), list(MODELS.values())
        )
        assert result.text == "A body."
        assert result.attempts[0].phrase == "answered with no chapter text"

        standins["openai"].script(answer("   "))
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(
                TextRequest(prompt="Write.", accept=accept), ["openai:gpt-4.1"]
            )
    assert caught.value.outcome == "unusable"
    assert "answered with an empty text" in caught.value.user_message
