"""What one model's attempt cost, and the usage row it leaves.

One row per model tried, success or failure. A row sums every HTTP request made to that
model in the call (retries and continuations) and its `error` column notes how many there
were; failed requests cost nothing. The outcome is `ok`, with `:truncated` when the text is
still cut off and `:unpriced` when the price table does not know the model, or the error's
outcome.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from bot.db import Database
from bot.providers.errors import ProviderError, scrub
from bot.providers.prices import PriceTable
from bot.providers.types import Artifact, Completion
from bot.usage import UsageContext, UsageRow, record_usage

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Done(Generic[T]):
    """A model's successful answer with what it used, before it becomes a usage row."""

    value: T
    tokens_in: int
    tokens_out: int
    cached_tokens: int
    cost: Decimal
    unpriced: bool
    tries: int
    truncated: bool = False
    continuations: int = 0


def price_text(prices: PriceTable, model: str, completion: Completion) -> tuple[Decimal, bool]:
    """The cost of one text request, and whether the model was unpriced (costed at 0)."""
    if completion.reported_cost is not None:
        return completion.reported_cost, False
    price = prices.lookup(model)
    if price is None:
        return Decimal(0), True
    return price.text_cost(completion), False


def price_artifact(prices: PriceTable, model: str, artifact: Artifact) -> tuple[Decimal, bool]:
    """The cost of one image or video, and whether the model was unpriced (costed at 0)."""
    if artifact.reported_cost is not None:
        return artifact.reported_cost, False
    price = prices.lookup(model)
    return (price.artifact_cost(artifact) if price else Decimal(0)), price is None


def success_row(provider: str, model: str, done: Done[T], started: float) -> UsageRow:
    """The row of a model that answered: its tokens, cost, and how many requests it took."""
    outcome = (
        "ok" + (":truncated" if done.truncated else "") + (":unpriced" if done.unpriced else "")
    )
    notes = []
    if done.tries > 1:
        notes.append(f"{done.tries} requests")
    if done.continuations:
        notes.append(f"{done.continuations} continuations")
    return UsageRow(
        provider=provider,
        model=model,
        tokens_in=done.tokens_in,
        tokens_out=done.tokens_out,
        cached_tokens=done.cached_tokens,
        cost_usd=done.cost,
        latency_ms=ms_since(started),
        outcome=outcome,
        error=", ".join(notes) or None,
    )


def failure_row(
    provider: str, model: str, exc: ProviderError, started: float, secrets: list[str]
) -> UsageRow:
    """The row of a model that failed: no cost, the error's outcome and its detail (scrubbed)."""
    detail = scrub(exc.detail or exc.user_message, secrets)
    if exc.tries > 1:
        detail = f"{exc.tries} requests: {detail}"
    return UsageRow(
        provider=provider[:50] or "unknown",
        model=model or "unknown",
        latency_ms=ms_since(started),
        outcome=exc.outcome,
        error=detail,
    )


async def record(db: Database | None, context: UsageContext, row: UsageRow) -> None:
    """Write the row (nothing without a database); a failure to write is only logged."""
    if db is None:
        return
    try:
        await record_usage(db, context, row)
    except Exception:
        # The answer is paid for and still worth returning; the operator sees this log.
        log.exception("could not record usage for %s:%s", row.provider, row.model)


def ms_since(started: float) -> int:
    """Milliseconds since `started` (a `time.monotonic()` reading)."""
    return int((time.monotonic() - started) * 1000)
