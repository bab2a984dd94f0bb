"""OpenAI-compatible chat completions (OpenAI, OpenRouter, Together, any `<NAME>_BASE_URL`)
against stand-ins that check every body against the `openai` SDK's published types."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)

from bot.providers import ModelClient, ProviderError, TextRequest
from bot.providers.settings import ProviderSettings
from standins.providers import (
    OpenAIChatStandIn,
    answer,
    moderated,
    refusal,
    slow,
)
from standins.providers.openai_chat import OPENAI_CHAT_MODELS
from standins.providers.testing import TEST_PRICES, settings_for
from standins.providers.validation import check


@pytest.fixture(scope="module")
def openai_std() -> Iterator[OpenAIChatStandIn]:
    # It also plays the custom OpenAI-compatible servers (Ollama, a gateway) and their models.
    known = OPENAI_CHAT_MODELS | {"llama3.1:8b", "some-model"}
    with OpenAIChatStandIn("openai", known_models=known) as std:
        yield std  # type: ignore[misc]


@pytest.fixture(scope="module")
def openrouter_std() -> Iterator[OpenAIChatStandIn]:
    with OpenAIChatStandIn("openrouter", api_key="sk-or-v1-testkey") as std:
        yield std  # type: ignore[misc]


@pytest.fixture(scope="module")
def together_std() -> Iterator[OpenAIChatStandIn]:
    with OpenAIChatStandIn("together", api_key="tgp_v1_testkey") as std:
        yield std  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _fresh(
    openai_std: OpenAIChatStandIn,
    openrouter_std: OpenAIChatStandIn,
    together_std: OpenAIChatStandIn,
) -> None:
    for std in (openai_std, openrouter_std, together_std):
        std.reset()


async def test_openai_request_matches_sdk_params_and_is_priced_from_the_table(
    openai_std: OpenAIChatStandIn,
) -> None:
    openai_std.script(
        answer("Chapter text.", prompt_tokens=1000, completion_tokens=500, cached_tokens=200)
    )
    async with ModelClient(settings_for(openai=openai_std), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(
                system="Be brief.", prompt="Write.", max_tokens=600, temperature=0.3, stop=["END"]
            ),
            ["openai:gpt-4.1"],
        )
    assert result.text == "Chapter text."
    assert result.model == "openai:gpt-4.1"
    assert result.truncated is False and result.finish_reason == "stop"
    (seen,) = openai_std.requests
    check(CompletionCreateParamsNonStreaming, seen.body)
    assert seen.headers["authorization"] == "Bearer sk-test-key"
    assert seen.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert seen.body["max_completion_tokens"] == 600 and "max_tokens" not in seen.body
    assert seen.body["stop"] == ["END"] and seen.body["temperature"] == 0.3
    # gpt-4.1: $2 in, $0.50 cached in, $8 out per million.
    expected = (Decimal(800) * 2 + Decimal(200) * Decimal("0.5") + Decimal(500) * 8) / 10**6
    assert result.usage.cost_usd == expected
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.cached_tokens) == (
        1000,
        500,
        200,
    )
    assert result.usage.outcome == "ok"


async def test_long_outputs_stream_with_usage(openai_std: OpenAIChatStandIn) -> None:
    text = "A long chapter. " * 50
    openai_std.script(slow(text, chunk_delay=0.06, chunks=10))
    # A read timeout shorter than the whole answer but longer than the gap between chunks.
    settings = settings_for(openai=openai_std, read_timeout_s=0.4, stream_min_tokens=1000)
    async with ModelClient(settings, prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Write.", max_tokens=4000), ["openai:gpt-4.1"]
        )
    assert result.text == text
    (seen,) = openai_std.requests
    check(CompletionCreateParamsStreaming, seen.body)
    assert seen.body["stream"] is True
    assert seen.body["stream_options"] == {"include_usage": True}
    assert result.usage.tokens_out == len(text) // 4


async def test_openrouter_attribution_cost_and_cache_breakpoint(
    openrouter_std: OpenAIChatStandIn,
) -> None:
    openrouter_std.script(answer("ok", cost=0.01234))
    async with ModelClient(settings_for(openrouter=openrouter_std), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(stable_prefix="OUTLINE " * 100, system="Write chapter 3.", prompt="Go."),
            ["openrouter:anthropic/claude-sonnet-4.5"],
        )
    (seen,) = openrouter_std.requests
    assert seen.headers["http-referer"] == "https://github.com/apps/liquid-book"
    assert seen.headers["x-title"] == "Liquid Book"
    assert seen.body["usage"] == {"include": True}
    system = seen.body["messages"][0]["content"]
    assert system[0]["cache_control"] == {"type": "ephemeral"}
    assert system[0]["text"].startswith("OUTLINE")
    assert system[1] == {"type": "text", "text": "Write chapter 3."}
    # OpenRouter's own figure wins over the price table.
    assert result.usage.cost_usd == Decimal("0.01234")
    assert (
        result.usage.provider == "openrouter"
        and result.usage.model == "anthropic/claude-sonnet-4.5"
    )


async def test_openrouter_streamed_cost(openrouter_std: OpenAIChatStandIn) -> None:
    openrouter_std.script(answer("streamed", cost=0.5))
    async with ModelClient(settings_for(openrouter=openrouter_std), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Go.", stream=True), ["openrouter:openai/gpt-4.1"]
        )
    assert result.text == "streamed"
    assert result.usage.cost_usd == Decimal("0.5")


async def test_together_uses_max_tokens_and_its_key(together_std: OpenAIChatStandIn) -> None:
    together_std.script(answer("hola"))
    async with ModelClient(settings_for(together=together_std), prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="Hi", max_tokens=50),
            ["together:meta-llama/Llama-3.3-70B-Instruct-Turbo"],
        )
    (seen,) = together_std.requests
    assert seen.headers["authorization"] == "Bearer tgp_v1_testkey"
    assert seen.body["max_tokens"] == 50
    assert result.usage.cost_usd > 0  # priced from the table


async def test_any_named_openai_compatible_server(openai_std: OpenAIChatStandIn) -> None:
    openai_std.script(answer("local"))
    settings = ProviderSettings(
        _env_file=None,  # type: ignore[call-arg]
        custom_base_urls={"ollama": openai_std.base_url},
        custom_api_keys={"ollama": "sk-test-key"},
    )
    async with ModelClient(settings, prices=TEST_PRICES) as client:
        result = await client.generate_text(TextRequest(prompt="Hi"), ["ollama:llama3.1:8b"])
    assert result.text == "local"
    assert openai_std.requests[0].body["model"] == "llama3.1:8b"
    assert result.usage.outcome == "ok:unpriced" and result.usage.cost_usd == 0


def test_custom_servers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMSTUDIO_BASE_URL", "http://127.0.0.1:1234/v1")
    monkeypatch.setenv("LMSTUDIO_RPM", "7")
    endpoint = ProviderSettings(_env_file=None).endpoint("lmstudio")  # type: ignore[call-arg]
    assert endpoint.base_url == "http://127.0.0.1:1234/v1"
    assert endpoint.rpm == 7 and endpoint.kind == "openai_compat"
    assert endpoint.require_key() == ""  # local servers need no key


def test_custom_servers_come_from_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("VLLM_BASE_URL", "VLLM_API_KEY", "VLLM_RPM", "VLLM_CONCURRENCY", "LOCAL_RPM"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        "VLLM_BASE_URL=http://127.0.0.1:8000/v1\nVLLM_API_KEY=vllm-secret\nVLLM_RPM=11\n"
        "VLLM_CONCURRENCY=3\nLOCAL_BASE_URL=http://from-the-file/v1\nLOCAL_RPM=5\n"
    )
    monkeypatch.chdir(tmp_path)
    # The environment wins over the file, variable by variable.
    monkeypatch.setenv("LOCAL_BASE_URL", "http://from-the-environment/v1")

    settings = ProviderSettings()
    vllm = settings.endpoint("vllm")
    assert (vllm.base_url, vllm.api_key, vllm.rpm, vllm.concurrency) == (
        "http://127.0.0.1:8000/v1",
        "vllm-secret",
        11,
        3,
    )
    assert "vllm-secret" in settings.secrets()  # scrubbed from messages like other keys
    local = settings.endpoint("local")
    assert (local.base_url, local.rpm) == ("http://from-the-environment/v1", 5)

    # The file the settings are told to read, and none at all with `_env_file=None`.
    other = tmp_path / "other.env"
    other.write_text("OTHERSERVER_BASE_URL=http://other/v1\n")
    named = ProviderSettings(_env_file=other)  # type: ignore[call-arg]
    assert named.endpoint("otherserver").base_url == "http://other/v1"
    assert "vllm" not in named.custom_base_urls
    bare = ProviderSettings(_env_file=None)  # type: ignore[call-arg]
    assert "vllm" not in bare.custom_base_urls and "otherserver" not in bare.custom_base_urls
    assert bare.custom_base_urls.get("local") == "http://from-the-environment/v1"


async def test_a_server_named_only_in_the_env_file_answers(
    openai_std: OpenAIChatStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATEWAY_BASE_URL", raising=False)
    monkeypatch.delenv("GATEWAY_API_KEY", raising=False)
    (tmp_path / ".env").write_text(
        f"GATEWAY_BASE_URL={openai_std.base_url}\nGATEWAY_API_KEY={openai_std.api_key}\n"
    )
    monkeypatch.chdir(tmp_path)
    openai_std.script(answer("through the gateway"))
    async with ModelClient(ProviderSettings()) as client:
        result = await client.generate_text(TextRequest(prompt="Hi"), ["gateway:some-model"])
    assert result.text == "through the gateway"
    (seen,) = openai_std.requests
    assert seen.body["model"] == "some-model"
    assert seen.headers["authorization"] == f"Bearer {openai_std.api_key}"


async def test_refusal_and_moderation_fall_back(
    openai_std: OpenAIChatStandIn,
    openrouter_std: OpenAIChatStandIn,
    together_std: OpenAIChatStandIn,
) -> None:
    openai_std.script(refusal("I can't write that."))
    openrouter_std.script(moderated())
    together_std.script(answer("fine"))
    settings = settings_for(openai=openai_std, openrouter=openrouter_std, together=together_std)
    async with ModelClient(settings, prices=TEST_PRICES) as client:
        result = await client.generate_text(
            TextRequest(prompt="x"),
            [
                "openai:gpt-4.1",
                "openrouter:anthropic/claude-sonnet-4.5",
                "together:deepseek-ai/DeepSeek-V3",
            ],
        )
    assert result.text == "fine"
    assert [a.usage.outcome for a in result.attempts] == ["refused", "refused", "ok"]
    # Refusals are not retried: one request each.
    assert len(openai_std.requests) == len(openrouter_std.requests) == 1


async def test_streamed_refusal(openai_std: OpenAIChatStandIn) -> None:
    openai_std.script(refusal("No."))
    async with ModelClient(settings_for(openai=openai_std), prices=TEST_PRICES) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_text(TextRequest(prompt="x", stream=True), ["openai:gpt-4.1"])
    assert caught.value.outcome == "refused"
    assert caught.value.user_message.endswith("rephrase it or choose another model.")


async def test_stand_in_rejects_bodies_the_api_would(openai_std: OpenAIChatStandIn) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{openai_std.base_url}/chat/completions",
            headers={"authorization": "Bearer sk-test-key"},
            json={
                "model": "gpt-4.1",
                "messages": [{"role": "user", "content": "hi", "colour": "red"}],
            },
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and "colour" in error["message"]
