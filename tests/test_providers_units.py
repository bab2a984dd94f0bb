"""The small pieces: names, Retry-After, backoff, prices, SSE framing, error sentences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from bot.providers.errors import ProviderError, RateLimited, ServerError, scrub
from bot.providers.names import parse_model
from bot.providers.prices import PriceTable, default_table
from bot.providers.retry import RetryPolicy, parse_retry_after, with_retries
from bot.providers.types import Completion
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
    assert table.lookup("anthropic:claude-sonnet-4-5-20250929") is table.lookup(
        "anthropic:claude-sonnet-4-5"
    )
    assert table.lookup("openai:gpt-4.1-mini") is not table.lookup("openai:gpt-4.1")
    assert table.lookup("openai:unknown-model") is None
    price = table.lookup("openai:gpt-4.1")
    assert price is not None
    cost = price.text_cost(
        Completion("", "stop", False, tokens_in=1_000_000, tokens_out=0, cached_tokens=500_000)
    )
    assert cost == Decimal("1.25")  # half fresh at $2, half cached at $0.50


def test_price_table_is_data(tmp_path: Path) -> None:
    path = tmp_path / "prices.yml"
    path.write_text("models:\n  acme:m1: {input: 1, output: 2}\n")
    price = PriceTable.load(path).lookup("acme:m1")
    assert price is not None and price.output == 2


def test_every_price_line_reads() -> None:
    table = default_table()
    assert len(table.prices) >= 30
    for provider in (
        "openai",
        "anthropic",
        "openrouter",
        "together",
        "stability",
        "replicate",
        "runway",
    ):
        assert any(name.startswith(provider + ":") for name in table.prices), provider


async def test_sse_framing() -> None:
    body = b": keep-alive\n\nevent: a\ndata: 1\ndata: 2\n\ndata: [DONE]\n\n"
    response = httpx.Response(200, content=body)
    assert [e async for e in sse_events(response)] == [("a", "1\n2"), (None, "[DONE]")]


def test_scrub_removes_keys() -> None:
    text = "Incorrect API key provided: sk-pr***3456 and r8_abcdefghijk and my-secret-value"
    cleaned = scrub(text, ["my-secret-value"]) or ""
    assert "sk-pr" not in cleaned and "r8_abc" not in cleaned and "my-secret-value" not in cleaned
