"""Streams that go wrong after their 200: an error inside the stream, a stall past the read
timeout; and the per-provider concurrency limit, seen from the provider's side."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.db import Database, Usage
from bot.providers import ModelClient, ProviderError, TextRequest
from bot.usage import UsageContext
from standins.providers import AnthropicStandIn, Behaviour, OpenAIChatStandIn, answer
from standins.providers.testing import TEST_PRICES, settings_for

CONTEXT = UsageContext(installation_id=41, repository="octo/book", command="generate chapter 2")


@pytest.fixture(scope="module")
def anthropic_std() -> Iterator[AnthropicStandIn]:
    with AnthropicStandIn() as std:
        yield std  # type: ignore[misc]


@pytest.fixture(scope="module")
def openai_std() -> Iterator[OpenAIChatStandIn]:
    with OpenAIChatStandIn("openai") as std:
        yield std  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _fresh(anthropic_std: AnthropicStandIn, openai_std: OpenAIChatStandIn) -> None:
    anthropic_std.reset()
    openai_std.reset()


async def test_an_overloaded_error_event_mid_stream_fails_over(
    anthropic_std: AnthropicStandIn, openai_std: OpenAIChatStandIn
) -> None:
    anthropic_std.script(
        Behaviour(text="The start of a chapter " * 10, stream_error="overloaded_error")
    )
    openai_std.script(answer("From the fallback."))
    settings = settings_for(anthropic=anthropic_std, openai=openai_std)
    async with ModelClient(settings, prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", stream=True),
            ["anthropic:claude-haiku-4-5", "openai:gpt-4.1"],
        )
    assert result.text == "From the fallback."
    first = result.attempts[0]
    assert (first.usage.outcome, first.tries) == ("overloaded", 1)
    assert len(anthropic_std.requests) == 1


@pytest.mark.parametrize("flavour", ["anthropic", "openrouter"])
async def test_error_text_inside_a_stream_is_scrubbed_before_anyone_reads_it(
    anthropic_std: AnthropicStandIn, flavour: str
) -> None:
    leaked = "sk-ant-api03-LEAKEDLEAKEDLEAKED"
    message = f"Request rejected: invalid credential {leaked} for this model"
    if flavour == "anthropic":
        anthropic_std.script(
            Behaviour(text="Some text " * 10, stream_error="invalid_request_error", message=message)
        )
        caught = await _call(settings_for(anthropic=anthropic_std), "anthropic:claude-haiku-4-5")
    else:
        with OpenAIChatStandIn("openrouter", api_key="sk-or-v1-thekey") as openrouter:
            openrouter.script(
                Behaviour(
                    text="Some text " * 10, stream_error="x", error_code="400", message=message
                )
            )
            caught = await _call(
                settings_for(openrouter=openrouter), "openrouter:anthropic/claude-sonnet-5.5"
            )
    assert caught.outcome == "bad_request"
    assert "LEAKED" not in caught.user_message and "[key]" in caught.user_message
    assert all("LEAKED" not in (a.usage.error or "") for a in caught.attempts)


async def _call(settings: object, model: str) -> ProviderError:
    async with ModelClient(settings, prices=TEST_PRICES) as client:  # type: ignore[arg-type]
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="Write.", stream=True), [model])
    return caught.value


async def test_a_stalled_stream_is_retried_then_fails_over_with_its_usage_recorded(
    openai_std: OpenAIChatStandIn, anthropic_std: AnthropicStandIn, database: Database
) -> None:
    """No bytes for longer than the read timeout: the stream is given up (a timeout),
    retried, then the next model answers; the stalled model's row says what happened and
    what its broken streams are estimated to have cost."""
    openai_std.default = Behaviour(text="Slowly… " * 40, chunks=8, chunk_delay=1.0)
    anthropic_std.script(answer("On time."))
    settings = settings_for(
        openai=openai_std, anthropic=anthropic_std, read_timeout_s=0.3, retry_max_tries=2
    )
    async with ModelClient(settings, None, database, prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", stream=True),
            ["openai:gpt-4.1", "anthropic:claude-haiku-4-5"],
            context=CONTEXT,
        )
    assert result.text == "On time."
    stalled = result.attempts[0]
    assert (stalled.usage.outcome, stalled.tries) == ("timeout", 2)
    assert len(openai_std.requests) == 2
    async with database.session() as session:
        rows = (await session.execute(select(Usage).order_by(Usage.id))).scalars().all()
    assert [(r.provider, r.outcome) for r in rows] == [("openai", "timeout"), ("anthropic", "ok")]
    assert rows[0].cost_usd > 0 and rows[0].error is not None
    assert "2 streams broke off" in rows[0].error and "ReadTimeout" in rows[0].error


async def test_six_calls_at_a_concurrency_of_two_never_have_more_than_two_in_flight(
    openai_std: OpenAIChatStandIn,
) -> None:
    openai_std.default = Behaviour(text="One at a time.", delay=0.2)
    settings = settings_for(openai=openai_std, openai_concurrency=2)
    async with ModelClient(settings, prices=TEST_PRICES) as client:
        results = await asyncio.gather(
            *(client.generate_text(TextRequest(prompt="x"), ["openai:gpt-4.1"]) for _ in range(6))
        )
    assert [r.text for r in results] == ["One at a time."] * 6
    assert len(openai_std.requests) == 6
    assert openai_std.peak_in_flight == 2  # the limit, reached and never passed
