"""The small pieces: names, Retry-After, backoff, prices, SSE framing, error sentences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from bot.providers.budget import estimate_image, estimate_text, estimate_video
from bot.providers.errors import ProviderError, RateLimited, ServerError, scrub
from bot.providers.names import KNOWN_PROVIDERS, parse_model
from bot.providers.prices import PriceTable, default_table
from bot.providers.retry import RetryPolicy, parse_retry_after, with_retries
from bot.providers.types import Completion, ImageRequest, TextRequest, VideoRequest
from bot.providers.wire import sse_events


def test_model_names_keep_their_own_colons() -> None:
    assert str(parse_model("ollama:llama3.1:8b")) == "ollama:llama3.1:8b"
    name = parse_model(" OpenRouter:anthropic/claude-sonnet-4.5 ")
    assert (name.provider, name.model) == ("openrouter", "anthropic/claude-sonnet-4.5")
    for bad in ("gpt-4.1", "openai:", ":gpt", "open ai:x"):
        with pytest.raises(ProviderError):
            parse_model(bad)


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after({"retry-after": "2"}) == 2
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_s=1, cap_s=4)
    delays = [policy.delay(n, None) for n in range(1, 8) for _ in range(20)]
    assert all(0 <= d <= 4 for d in delays) and len(set(delays)) > 10
    assert policy.delay(1, retry_after=7.0) == 7.0


async def test_with_retries_counts_and_bounds() -> None:
    calls = 0
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RateLimited("openai", retry_after=2)
        return "ok"

    assert await with_retries(flaky, RetryPolicy(max_tries=5), sleep) == ("ok", 3)
    assert slept == [2, 2]

    async def down() -> str:
        raise ServerError("openai", 503)

    # Each jittered delay lies in [0.2, 0.4] s, so a one-second budget stops after 3 to 6
    # tries, whatever the jitter drew: it gives up exactly when the next delay would overrun.
    for _ in range(50):
        slept.clear()
        with pytest.raises(ServerError) as caught:
            await with_retries(
                down, RetryPolicy(max_tries=10, max_wait_s=1, base_s=0.4, cap_s=0.4), sleep
            )
        assert caught.value.tries == len(slept) + 1
        assert 3 <= caught.value.tries <= 6
        assert sum(slept) <= 1 and all(0.2 <= s <= 0.4 for s in slept)


def test_prices_match_dated_snapshots_and_price_cache_reads() -> None:
    table = default_table()
    assert table.lookup("anthropic:claude-sonnet-5-5-20260928") is table.lookup(
        "anthropic:claude-sonnet-5-5"
    )
    assert table.lookup("openai:gpt-4.1-mini") is not table.lookup("openai:gpt-4.1")
    assert table.lookup("openai:unknown-model") is None
    assert table.lookup("openai:gpt-4.1-mini-2025-04-14") is table.lookup("openai:gpt-4.1-mini")
    price = table.lookup("openai:gpt-4.1")
    assert price is not None
    cost = price.text_cost(
        Completion("", "stop", False, tokens_in=1_000_000, tokens_out=0, cached_tokens=500_000)
    )
    assert cost == Decimal("1.25")  # half fresh at $2, half cached at $0.50


def test_only_dated_snapshots_fall_back_to_their_family() -> None:
    table = PriceTable.from_mapping(
        {
            "models": {
                "openai:gpt-4o": {"input": "2.50", "output": 10},
                "openai:gpt-4o-2024-05-13": {"input": 5, "output": 15},
                "openai:gpt-5": {"input": "1.25", "output": 10},
                "openai:gpt-5-pro": {"input": 15, "output": 120},
                "anthropic:claude-sonnet-5-5": {"input": 2, "output": 10},
            }
        }
    )
    gpt4o = table.lookup("openai:gpt-4o")
    assert gpt4o is not None and table.lookup("openai:gpt-4o-2024-08-06") is gpt4o
    assert table.lookup("anthropic:claude-sonnet-5-5-20260928") is table.lookup(
        "anthropic:claude-sonnet-5-5"
    )
    # A snapshot priced apart from its family has its own line.
    launch = table.lookup("openai:gpt-4o-2024-05-13")
    assert launch is not None and launch.input == 5 and launch is not gpt4o
    # Another model of the family is not priced as the family.
    gpt5, pro = table.lookup("openai:gpt-5"), table.lookup("openai:gpt-5-pro")
    assert gpt5 is not None and pro is not None and pro.output == 120 and pro is not gpt5
    for other in ("openai:gpt-5-ultra", "openai:gpt-4.1-preview", "openai:gpt-4o-2024-08"):
        assert table.lookup(other) is None, other


def test_unpriced_paid_models_are_estimated_at_their_providers_ceiling() -> None:
    table = default_table()
    text = TextRequest(prompt="x" * 300, max_tokens=1000)
    # 100 prompt tokens at $15/M + 1000 output tokens at $75/M.
    assert estimate_text(table, "openai:gpt-7", text) == Decimal("0.0765")
    assert estimate_text(table, "openrouter:someone/new-model", text) == Decimal("0.0765")
    assert estimate_text(table, "anthropic:claude-opus-9", text) == Decimal("0.0765")
    assert estimate_text(table, "together:new/model", text) > 0
    image = ImageRequest(prompt="a fox")
    assert estimate_image(table, "replicate:someone/sdxl:abc123", image) == Decimal("0.20")
    assert estimate_image(table, "stability:sd4", image) == Decimal("0.10")
    assert estimate_video(table, "runway:gen9", VideoRequest("pan", "https://x/y.png")) == 2.5
    # Every paid hosted provider has a ceiling; custom servers (Ollama, vLLM) are free.
    assert set(table.ceilings) == set(KNOWN_PROVIDERS)
    assert estimate_text(table, "ollama:llama3.1:8b", text) == 0
    # A priced model is estimated at its own price.
    assert estimate_text(table, "openai:gpt-4.1", text) == Decimal("0.0082")
    # The recorded cost of an unpriced model stays 0 (its row says `ok:unpriced`).
    assert table.lookup("openai:gpt-7") is None


def test_an_image_priced_by_variant_is_estimated_at_its_dearest() -> None:
    table = PriceTable.from_mapping(
        {
            "models": {
                "openai:dall-e-3": {
                    "per_image": "0.04",
                    "per_image_by": {"standard 1024x1024": "0.04", "hd 1792x1024": "0.12"},
                }
            }
        }
    )
    assert estimate_image(table, "openai:dall-e-3", ImageRequest(prompt="a fox")) == Decimal("0.12")


def test_price_table_is_data(tmp_path: Path) -> None:
    path = tmp_path / "prices.yml"
    path.write_text("models:\n  acme:m1: {input: 1, output: 2}\n")
    price = PriceTable.load(path).lookup("acme:m1")
    assert price is not None and price.output == 2


def test_the_shipped_prices_are_current() -> None:
    """The table names the providers' current models and none they have retired, with the
    date it was checked; a model whose price could not be confirmed is left out."""
    table = default_table()
    for current in (
        "anthropic:claude-sonnet-5-5",
        "anthropic:claude-opus-5-5",
        "anthropic:claude-haiku-5-5",
        "anthropic:claude-haiku-4-5",
        "openai:gpt-6.2-sol",
        "openai:gpt-6-luna",
        "openrouter:anthropic/claude-sonnet-5.5",
        "replicate:black-forest-labs/flux-schnell",
    ):
        assert table.lookup(current) is not None, current
    for retired in (
        "anthropic:claude-sonnet-4-5",
        "anthropic:claude-sonnet-4",
        "anthropic:claude-opus-4-1",
        "anthropic:claude-3-5-haiku",
        "openai:gpt-image-1",
        "openai:dall-e-3",
        "openai:o1",
        "openai:o4-mini",
        "openai:gpt-4.1-nano",
    ):
        assert table.lookup(retired) is None, retired
    assert (
        "Checked 2026-12-03" in (Path(__file__).parents[1] / "bot/providers/prices.yml").read_text()
    )


def test_a_long_prompt_is_priced_at_the_long_rate_for_the_whole_request() -> None:
    table = default_table()
    sol = table.lookup("openai:gpt-6.2-sol")
    assert sol is not None
    short = Completion("", "stop", False, tokens_in=272_000, tokens_out=1_000)
    long = Completion("", "stop", False, tokens_in=272_001, tokens_out=1_000)
    assert sol.text_cost(short) == Decimal("0.554")  # 272K at $2 + 1K at $10
    assert sol.text_cost(long) == Decimal("1.103004")  # all at $4 in, $15 out
    haiku = table.lookup("anthropic:claude-haiku-5-5")
    assert haiku is not None
    assert haiku.max_text_cost(200_000, 1_000) == Decimal("0.1025")  # $0.50 / $2.50 tier
    assert haiku.max_text_cost(50_000, 1_000) == Decimal("0.0055")


async def test_sse_framing() -> None:
    body = b": keep-alive\n\nevent: a\ndata: 1\ndata: 2\n\ndata: [DONE]\n\n"
    response = httpx.Response(200, content=body)
    assert [e async for e in sse_events(response)] == [("a", "1\n2"), (None, "[DONE]")]


def test_scrub_removes_keys() -> None:
    text = "Incorrect API key provided: sk-pr***3456 and r8_abcdefghijk and my-secret-value"
    cleaned = scrub(text, ["my-secret-value"]) or ""
    assert "sk-pr" not in cleaned and "r8_abc" not in cleaned and "my-secret-value" not in cleaned
