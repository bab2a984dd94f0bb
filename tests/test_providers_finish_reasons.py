"""A reply counts as whole only when its provider says so: `finish_reason: "stop"` (OpenAI
wire format) or `stop_reason: "end_turn"`/`"stop_sequence"` (Anthropic). Cut off at a limit
is `truncated`; a content filter that stopped part-way is a refusal (the next model is
tried, nothing is committed); no reason at all, or one this client never asks for, is a bad
response."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.providers import ModelClient, ProviderError, TextRequest
from standins.providers import AnthropicStandIn, Behaviour, OpenAIChatStandIn, answer
from standins.providers.testing import settings_for


@pytest.fixture(scope="module")
def openai_std() -> Iterator[OpenAIChatStandIn]:
    with OpenAIChatStandIn("openai") as std:
        yield std  # type: ignore[misc]


@pytest.fixture(scope="module")
def anthropic_std() -> Iterator[AnthropicStandIn]:
    with AnthropicStandIn() as std:
        yield std  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _fresh(openai_std: OpenAIChatStandIn, anthropic_std: AnthropicStandIn) -> None:
    openai_std.reset()
    anthropic_std.reset()


@pytest.mark.parametrize("stream", [False, True])
async def test_partial_content_filter_is_a_refusal_and_the_next_model_answers(
    openai_std: OpenAIChatStandIn, anthropic_std: AnthropicStandIn, stream: bool
) -> None:
    openai_std.script(Behaviour(text="The first half of a chap", finish_reason="content_filter"))
    anthropic_std.script(answer("A whole chapter."))
    settings = settings_for(openai=openai_std, anthropic=anthropic_std)
    async with ModelClient(settings) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", stream=stream),
            ["openai:gpt-4.1", "anthropic:claude-haiku-4-5"],
        )
    assert result.text == "A whole chapter." and not result.truncated
    first = result.attempts[0]
    assert first.usage.outcome == "refused" and first.tries == 1
    assert "content filter after part of the answer" in (first.usage.error or "")


async def test_a_lone_partial_content_filter_fails_instead_of_returning_the_part(
    openai_std: OpenAIChatStandIn,
) -> None:
    openai_std.script(Behaviour(text="Half", finish_reason="content_filter"))
    async with ModelClient(settings_for(openai=openai_std)) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="Write."), ["openai:gpt-4.1"])
    assert caught.value.outcome == "refused"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("reason", [None, "tool_calls", "function_call"])
async def test_openai_reply_without_a_usable_finish_reason_is_a_bad_response(
    openai_std: OpenAIChatStandIn, stream: bool, reason: str | None
) -> None:
    openai_std.default = Behaviour(text="Looks whole but is not known to be.", finish_reason=reason)
    settings = settings_for(openai=openai_std, retry_max_tries=2)
    async with ModelClient(settings) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(
                TextRequest(prompt="Write.", stream=stream), ["openai:gpt-4.1"]
            )
    assert caught.value.outcome == "bad_response"
    assert len(openai_std.requests) == 2  # retried like any unreadable answer, then given up


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("reason", [None, "tool_use", "pause_turn"])
async def test_anthropic_reply_without_a_usable_stop_reason_is_a_bad_response(
    anthropic_std: AnthropicStandIn, stream: bool, reason: str | None
) -> None:
    anthropic_std.default = Behaviour(text="Looks whole.", finish_reason=reason)
    settings = settings_for(anthropic=anthropic_std, retry_max_tries=1)
    async with ModelClient(settings) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(
                TextRequest(prompt="Write.", stream=stream), ["anthropic:claude-haiku-4-5"]
            )
    assert caught.value.outcome == "bad_response"


@pytest.mark.parametrize("stream", [False, True])
async def test_stop_sequence_is_a_whole_answer(
    anthropic_std: AnthropicStandIn, stream: bool
) -> None:
    anthropic_std.script(Behaviour(text="Up to the marker.", finish_reason="stop_sequence"))
    async with ModelClient(settings_for(anthropic=anthropic_std)) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", stop=["THE END"], stream=stream),
            ["anthropic:claude-haiku-4-5"],
        )
    assert result.text == "Up to the marker." and result.truncated is False
    assert result.finish_reason == "stop_sequence" and result.usage.outcome == "ok"
