"""The stand-ins enforce the documented value rules, not only field names and types, and
answer each break with the provider's own status and error body; models they do not serve
get the provider's "not found" answer, which the client turns into one sentence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.providers import ModelClient, ProviderError, TextRequest
from standins.providers import (
    AnthropicStandIn,
    OpenAIChatStandIn,
    OpenAIImagesStandIn,
    answer,
    quota_exhausted,
)
from standins.providers.openai_images import IMAGE_MODELS
from standins.providers.testing import settings_for

HI = [{"role": "user", "content": "hi"}]


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


def post(url: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    response = httpx.post(url, headers=headers, json=body, timeout=10)
    return response.status_code, response.json()


def openai_error(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


@pytest.mark.parametrize(
    ("extra", "status", "body"),
    [
        (
            {"messages": []},
            400,
            openai_error(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but "
                "got an empty array instead.",
                "messages",
                "empty_array",
            ),
        ),
        (
            {"temperature": 9},
            400,
            openai_error(
                "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but "
                "got 9 instead.",
                "temperature",
                "decimal_above_max_value",
            ),
        ),
        (
            {"stream_options": {"include_usage": True}},
            400,
            openai_error(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                None,
            ),
        ),
        (
            {"max_tokens": 5, "max_completion_tokens": 5},
            400,
            openai_error(
                "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not "
                "supported.",
                "max_tokens",
                "invalid_parameter_combination",
            ),
        ),
        (
            {"max_completion_tokens": "5"},
            400,
            openai_error(
                "Invalid type for 'max_completion_tokens': expected an integer, but got a "
                "string instead.",
                "max_completion_tokens",
                "invalid_type",
            ),
        ),
        (
            {"model": "gpt-5", "max_tokens": 5},
            400,
            openai_error(
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                "'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            ),
        ),
        (
            {"model": "gpt-99"},
            404,
            openai_error(
                "The model `gpt-99` does not exist or you do not have access to it.",
                None,
                "model_not_found",
            ),
        ),
    ],
)
def test_openai_value_rules(
    openai_std: OpenAIChatStandIn, extra: dict[str, Any], status: int, body: dict[str, Any]
) -> None:
    request = {"model": "gpt-4.1", "messages": HI, **extra}
    headers = {"authorization": f"Bearer {openai_std.api_key}"}
    assert post(f"{openai_std.base_url}/chat/completions", headers, request) == (status, body)


def anthropic_error(status: int, kind: str, message: str) -> tuple[int, str, str]:
    return status, kind, message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"messages": []},
            anthropic_error(
                400, "invalid_request_error", "messages: at least one message is required"
            ),
        ),
        (
            {"messages": [{"role": "user", "content": ""}]},
            anthropic_error(
                400,
                "invalid_request_error",
                "messages.0: all messages must have non-empty content except for the optional "
                "final assistant message",
            ),
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
            anthropic_error(
                400, "invalid_request_error", "messages: text content blocks must be non-empty"
            ),
        ),
        (
            {"max_tokens": "5"},
            anthropic_error(
                400, "invalid_request_error", "max_tokens: Input should be a valid integer"
            ),
        ),
        (
            {"max_tokens": -1},
            anthropic_error(
                400,
                "invalid_request_error",
                "max_tokens: Input should be greater than or equal to 0",
            ),
        ),
        (
            {"model": "claude-sonnet-4-5-20250929"},  # retired 2026-11-30
            anthropic_error(404, "not_found_error", "model: claude-sonnet-4-5-20250929"),
        ),
    ],
)
def test_anthropic_value_rules(
    anthropic_std: AnthropicStandIn, extra: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    request = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": HI, **extra}
    headers = {"x-api-key": anthropic_std.api_key, "anthropic-version": "2023-06-01"}
    status, body = post(f"{anthropic_std.base_url}/v1/messages", headers, request)
    assert (status, body["type"], body["error"]["type"], body["error"]["message"]) == (
        expected[0],
        "error",
        *expected[1:],
    )
    assert body["request_id"].startswith("req_")


@pytest.mark.parametrize(
    ("known", "extra", "expected"),
    [
        (
            {"dall-e-3"},
            {"model": "dall-e-3", "n": 2},
            (
                "Invalid 'n': integer above maximum value. Expected a value <= 1, but got 2 "
                "instead.",
                "n",
                "integer_above_max_value",
            ),
        ),
        (
            {"dall-e-3"},
            {"model": "dall-e-3", "size": "256x256"},
            (
                "Invalid value: '256x256'. Supported values are: '1024x1024', '1792x1024', and "
                "'1024x1792'.",
                "size",
                "invalid_value",
            ),
        ),
        (
            None,
            {"model": "gpt-image-2.6-flare", "quality": "hd"},
            (
                "Invalid value: 'hd'. Supported values are: 'low', 'medium', 'high', 'auto', "
                "'xhigh', and 'max'.",
                "quality",
                "invalid_value",
            ),
        ),
    ],
)
def test_image_value_rules(
    known: set[str] | None, extra: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    known_models = IMAGE_MODELS | known if known else None
    with OpenAIImagesStandIn(known_models=known_models) as std:
        headers = {"authorization": f"Bearer {std.api_key}"}
        status, body = post(
            f"{std.base_url}/images/generations", headers, {"prompt": "A cat", **extra}
        )
    assert status == 400
    assert body == openai_error(*expected)


def test_retired_image_models_are_not_found() -> None:
    with OpenAIImagesStandIn() as std:
        headers = {"authorization": f"Bearer {std.api_key}"}
        status, body = post(
            f"{std.base_url}/images/generations", headers, {"prompt": "A cat", "model": "dall-e-3"}
        )
    assert (status, body["error"]["code"]) == (404, "model_not_found")


async def test_an_unknown_model_is_one_sentence_and_the_chain_moves_on(
    openai_std: OpenAIChatStandIn, anthropic_std: AnthropicStandIn
) -> None:
    anthropic_std.script(answer("From a model that exists."))
    settings = settings_for(openai=openai_std, anthropic=anthropic_std)
    async with ModelClient(settings) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x"), ["anthropic:claude-nope"])
        result = await client.generate_text(
            TextRequest(prompt="x"), ["openai:gpt-99", "anthropic:claude-haiku-4-5"]
        )
    assert caught.value.outcome == "bad_request" and caught.value.status == 404
    assert caught.value.user_message == (
        "Anthropic does not know the model anthropic:claude-nope (404: not_found_error model: "
        "claude-nope): check the model name and the book's settings."
    )
    first = result.attempts[0]
    assert (first.model, first.usage.outcome, first.tries) == ("openai:gpt-99", "bad_request", 1)
    assert first.phrase == "is not known to OpenAI (404)"
    assert result.text == "From a model that exists."


async def test_anthropic_credit_exhausted_is_a_400_and_moves_on(
    openai_std: OpenAIChatStandIn, anthropic_std: AnthropicStandIn
) -> None:
    anthropic_std.script(quota_exhausted())
    openai_std.script(answer("Paid for elsewhere."))
    settings = settings_for(openai=openai_std, anthropic=anthropic_std)
    async with ModelClient(settings) as client:
        result = await client.generate_text(
            TextRequest(prompt="x"), ["anthropic:claude-haiku-4-5", "openai:gpt-4.1"]
        )
    assert result.attempts[0].usage.outcome == "quota_exhausted"
    assert "credit balance is too low" in (result.attempts[0].usage.error or "")
    assert len(anthropic_std.requests) == 1  # not retried
    headers = {"x-api-key": anthropic_std.api_key, "anthropic-version": "2023-06-01"}
    anthropic_std.script(quota_exhausted())
    status, body = post(
        f"{anthropic_std.base_url}/v1/messages",
        headers,
        {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": HI},
    )
    assert (status, body["error"]["type"]) == (400, "invalid_request_error")
    assert body["error"]["message"].startswith("Your credit balance is too low")
