"""Anthropic's Messages API, spoken natively, against a stand-in that checks bodies against
`anthropic.types.MessageCreateParams*` and answers with `Message` / the event stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)

from bot.providers import ModelClient, ProviderError, TextRequest
from bot.providers.prices import PriceTable
from standins.providers import (
    AnthropicStandIn,
    Behaviour,
    OpenAIChatStandIn,
    answer,
    overloaded,
    refusal,
    truncated,
)
from standins.providers.testing import settings_for
from standins.providers.validation import check


@pytest.fixture(scope="module")
def std() -> Iterator[AnthropicStandIn]:
    with AnthropicStandIn() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _fresh(std: AnthropicStandIn) -> None:
    std.reset()


async def test_messages_request_with_cache_breakpoint_and_cache_pricing(
    std: AnthropicStandIn,
) -> None:
    std.script(
        answer(
            "Chapter.",
            prompt_tokens=10_000,
            completion_tokens=1_000,
            cached_tokens=8_000,
            cache_creation_tokens=1_000,
        )
    )
    request = TextRequest(
        stable_prefix="The book's outline and style guide. " * 50,
        system="Now write chapter 2.",
        prompt="Begin.",
        max_tokens=1500,
        stop=["THE END"],
    )
    prices = PriceTable.from_mapping(
        {
            "models": {
                "anthropic:claude-sonnet-5-5": {
                    "input": 2,
                    "cached_input": "0.20",
                    "cache_write": "2.50",
                    "output": 10,
                }
            }
        }
    )
    async with ModelClient(settings_for(anthropic=std), prices=prices) as client:
        result = await client.generate_text(request, ["anthropic:claude-sonnet-5-5-20260928"])
    (seen,) = std.requests
    check(MessageCreateParamsNonStreaming, seen.body)
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == "sk-ant-test-key"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers
    assert seen.body["system"] == [
        {"type": "text", "text": request.stable_prefix, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Now write chapter 2."},
    ]
    assert seen.body["max_tokens"] == 1500 and seen.body["stop_sequences"] == ["THE END"]
    assert result.text == "Chapter."
    usage = result.usage
    assert (usage.tokens_in, usage.cached_tokens, usage.tokens_out) == (10_000, 8_000, 1_000)
    # A dated snapshot priced as its model: $2 in, $0.20 cache read, $2.50 cache write, $10
    # out per million.
    expected = (
        Decimal(1_000) * 2
        + Decimal(8_000) * Decimal("0.20")
        + Decimal(1_000) * Decimal("2.50")
        + Decimal(1_000) * 10
    ) / 10**6
    assert usage.cost_usd == expected


async def test_streaming_event_stream(std: AnthropicStandIn) -> None:
    text = "Streamed paragraph. " * 40
    std.script(answer(text, cached_tokens=30, chunk_delay=0.005))
    async with ModelClient(settings_for(anthropic=std, stream_min_tokens=2000)) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", max_tokens=8000), ["anthropic:claude-haiku-4-5"]
        )
    (seen,) = std.requests
    check(MessageCreateParamsStreaming, seen.body)
    assert seen.body["stream"] is True
    assert result.text == text
    assert result.usage.tokens_out == len(text) // 4
    assert result.usage.cached_tokens == 30


async def test_max_tokens_is_continued_then_joined(std: AnthropicStandIn) -> None:
    std.script(truncated("First half, "), answer("second half."))
    async with ModelClient(settings_for(anthropic=std)) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", max_tokens=100, continuations=2),
            ["anthropic:claude-haiku-4-5"],
        )
    assert result.text == "First half, second half."
    assert result.truncated is False and result.continuations == 1
    _, second = std.requests
    assert second.body["messages"][:2] == [
        {"role": "user", "content": "Write."},
        {"role": "assistant", "content": "First half, "},
    ]
    assert second.body["messages"][2]["role"] == "user"
    assert "cut off" in second.body["messages"][2]["content"]
    # One usage row for the model, summing both requests.
    assert result.usage.tokens_out == len("First half, ") // 4 + len("second half.") // 4
    assert result.attempts[0].tries == 2


async def test_still_cut_off_is_reported_truncated(std: AnthropicStandIn) -> None:
    std.script(truncated("Part one"), truncated("Part two"))
    async with ModelClient(settings_for(anthropic=std)) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", max_tokens=100, continuations=1, stream=True),
            ["anthropic:claude-haiku-4-5"],
        )
    assert result.text == "Part onePart two"
    assert result.truncated is True and result.finish_reason == "max_tokens"
    assert result.usage.outcome == "ok:truncated"


async def test_no_continuation_when_not_allowed(std: AnthropicStandIn) -> None:
    std.script(truncated("Only this"))
    async with ModelClient(settings_for(anthropic=std)) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", continuations=0), ["anthropic:claude-haiku-4-5"]
        )
    assert result.truncated is True and len(std.requests) == 1


async def test_overloaded_moves_on_without_retrying(std: AnthropicStandIn) -> None:
    std.script(overloaded())
    with OpenAIChatStandIn("openai") as backup:
        backup.script(answer("from the backup"))
        async with ModelClient(settings_for(anthropic=std, openai=backup)) as client:
            result = await client.generate_text(
                TextRequest(prompt="x"), ["anthropic:claude-sonnet-5-5", "openai:gpt-4.1-mini"]
            )
    assert result.text == "from the backup"
    assert len(std.requests) == 1
    assert result.attempts[0].usage.outcome == "overloaded"


async def test_refusal_stop_reason(std: AnthropicStandIn) -> None:
    std.script(refusal())
    async with ModelClient(settings_for(anthropic=std)) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x"), ["anthropic:claude-sonnet-5-5"])
    assert caught.value.outcome == "refused"


async def test_bad_key_is_one_sentence_without_the_key(std: AnthropicStandIn) -> None:
    settings = settings_for(anthropic=std, anthropic_api_key="sk-ant-api03-WRONGWRONGWRONG")
    async with ModelClient(settings) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x"), ["anthropic:claude-sonnet-5-5"])
    message = caught.value.user_message
    assert message == (
        "Anthropic refused this server's API key (401): the operator has been told in the logs."
    )
    assert caught.value.operator_message == (
        "Anthropic refused the API key (401): check ANTHROPIC_API_KEY on the server."
    )
    assert "WRONG" not in message and "WRONG" not in (caught.value.attempts[0].usage.error or "")


async def test_stand_in_requires_the_version_header(std: AnthropicStandIn) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{std.base_url}/v1/messages",
            headers={"x-api-key": std.api_key},
            json={
                "model": "claude-sonnet-5-5",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def _post(std: AnthropicStandIn, body: dict[str, object], version: str) -> tuple[int, str]:
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{std.base_url}/v1/messages",
            headers={"x-api-key": std.api_key, "anthropic-version": version},
            json=body,
        )
    data = response.json()
    return response.status_code, data["error"]["message"] if response.status_code >= 400 else ""


def _body(model: str, **extra: object) -> dict[str, object]:
    return {
        "model": model,
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


async def test_temperature_follows_the_api_version_and_the_model(std: AnthropicStandIn) -> None:
    """API version 2023-06-01 (what the client sends) still has `temperature` for the
    models before Opus 4.7 / Sonnet 5; those after answer 400 to a non-default value; API
    version 2026-10-21 (what the installed SDK's types describe) has none at all."""
    assert await _post(std, _body("claude-sonnet-4-6", temperature=0.3), "2023-06-01") == (200, "")
    assert await _post(std, _body("claude-sonnet-5-5", temperature=0.3), "2023-06-01") == (
        400,
        "`temperature` is deprecated for this model.",
    )
    assert (await _post(std, _body("claude-sonnet-5-5", temperature=1), "2023-06-01"))[0] == 200
    assert await _post(std, _body("claude-haiku-4-5", temperature=9), "2023-06-01") == (
        400,
        "temperature: Input should be less than or equal to 1.0",
    )
    assert await _post(std, _body("claude-sonnet-4-6", temperature=0.3), "2026-10-21") == (
        400,
        "temperature: Extra inputs are not permitted",
    )


async def test_a_system_role_inside_messages_is_refused_where_the_model_has_none(
    std: AnthropicStandIn,
) -> None:
    system = {"role": "system", "content": "Be brief."}
    user = {"role": "user", "content": "hi"}
    old = _body("claude-haiku-4-5", messages=[user, system, user])
    assert await _post(std, old, "2023-06-01") == (
        400,
        "role 'system' is not supported on this model",
    )
    # Claude Opus 4.8 and later take one right after a user turn, never first.
    assert (await _post(std, _body("claude-opus-4-8", messages=[user, system]), "2023-06-01"))[
        0
    ] == 200
    first = _body("claude-opus-4-8", messages=[system, user])
    status, message = await _post(std, first, "2023-06-01")
    assert status == 400 and "must immediately follow a user message" in message


@pytest.mark.parametrize(
    ("model", "sent"), [("claude-sonnet-4-6", True), ("claude-sonnet-5-5", False)]
)
async def test_the_client_sends_temperature_only_where_the_api_takes_it(
    std: AnthropicStandIn, model: str, sent: bool
) -> None:
    std.script(answer("Warm."))
    async with ModelClient(settings_for(anthropic=std)) as client:
        result = await client.generate_text(
            TextRequest(system="Be kind.", prompt="Hi", temperature=0.3), [f"anthropic:{model}"]
        )
    (seen,) = std.requests
    assert result.text == "Warm." and seen.headers["anthropic-version"] == "2023-06-01"
    assert ("temperature" in seen.body) is sent
    # The system prompt is the top-level field, never a message.
    assert [m["role"] for m in seen.body["messages"]] == ["user"]


async def test_direct_calls_to_current_models_are_priced(std: AnthropicStandIn) -> None:
    """Current models have a price line: a direct call is recorded at its cost, not as
    `ok:unpriced` at $0."""
    std.script(answer("Priced.", prompt_tokens=1_000, completion_tokens=100))
    with OpenAIChatStandIn("openai") as openai_std:
        openai_std.script(answer("Priced too.", prompt_tokens=1_000, completion_tokens=100))
        settings = settings_for(anthropic=std, openai=openai_std)
        async with ModelClient(settings) as client:
            claude = await client.generate_text(
                TextRequest(prompt="x"), ["anthropic:claude-sonnet-5-5"]
            )
            gpt = await client.generate_text(TextRequest(prompt="x"), ["openai:gpt-6.2-sol"])
    # $2 / $10 per million for both.
    assert claude.usage.outcome == gpt.usage.outcome == "ok"
    assert claude.usage.cost_usd == gpt.usage.cost_usd == Decimal("0.003")


async def test_the_last_model_overloaded_is_retried_honouring_retry_after(
    std: AnthropicStandIn,
) -> None:
    """With no model left to move on to, 529 overloaded is retried with backoff, waiting as
    long as Retry-After says."""
    std.script(overloaded(retry_after_ms=300), overloaded(retry_after_ms=300), answer("At last."))
    async with ModelClient(settings_for(anthropic=std)) as client:
        result = await client.generate_text(TextRequest(prompt="x"), ["anthropic:claude-haiku-4-5"])
    first, second, third = std.requests
    assert result.text == "At last." and result.attempts[0].tries == 3
    assert second.at - first.at >= 0.28 and third.at - second.at >= 0.28
    assert result.usage.outcome == "ok" and result.usage.error == "3 requests"


async def test_an_overloaded_model_with_a_fallback_moves_on_at_once(std: AnthropicStandIn) -> None:
    std.script(overloaded(retry_after="30"))
    with OpenAIChatStandIn("openai") as backup:
        backup.script(Behaviour(status=529), answer("the fallback, retried"))
        settings = settings_for(anthropic=std, openai=backup)
        async with ModelClient(settings) as client:
            started = time.monotonic()
            result = await client.generate_text(
                TextRequest(prompt="x"), ["anthropic:claude-haiku-4-5", "openai:gpt-4.1"]
            )
    assert time.monotonic() - started < 5  # did not sit out the 30 s
    assert len(std.requests) == 1  # the first model is not retried: there is a next one
    assert result.text == "the fallback, retried" and result.attempts[1].tries == 2
