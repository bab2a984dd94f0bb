"""What one model's attempt cost, and the usage row it leaves.

One row per model tried, success or failure. A row sums every HTTP request made to that
model in the call (retries and continuations) and its `error` column notes how many there
were; failed requests cost nothing, except those that failed after their 200: streams that
broke off (counted at an estimate), replies past their cap (counted up to where reading
stopped), whole replies that were not answers (counted in full). The outcome is `ok`, with
`:truncated` when the text is still cut off, `:unpriced` when the price table does not know
the model and `:estimated` when tokens were estimated from the text, or the error's
outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import Database, Usage
from bot.providers.errors import ProviderError, scrub
from bot.providers.prices import PriceTable
from bot.providers.types import Artifact, Completion
from bot.usage import UsageContext, UsageRow, usage_values

if TYPE_CHECKING:
    from bot.providers.budget import BudgetGuard, Reservations

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
    # Tokens estimated from text somewhere (no usage reported, or a stream that broke off).
    estimated: bool = False
    # Requests whose stream broke off after its 200, counted at an estimate.
    dropped: int = 0
    # Requests whose reply ran past its cap (read up to there), counted at what was read.
    runaways: int = 0


def usage_notes(done: Done[Any]) -> list[str]:
    """How a model's requests were counted, for its usage row's `error` column."""
    notes = []
    if done.tries > 1:
        notes.append(f"{done.tries} requests")
    if done.continuations:
        notes.append(f"{done.continuations} continuations")
    if done.dropped:
        notes.append(f"{done.dropped} streams broke off, counted at an estimate")
    if done.runaways:
        notes.append(f"{done.runaways} replies ran past their cap, counted where reading stopped")
    if done.estimated:
        notes.append("tokens estimated from the text where the provider reported none")
    return notes


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
        "ok"
        + (":truncated" if done.truncated else "")
        + (":unpriced" if done.unpriced else "")
        + (":estimated" if done.estimated else "")
    )
    notes = usage_notes(done)
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
    tokens_in, tokens_out, cost = 0, 0, Decimal(0)
    spent = exc.failed_usage
    if spent is not None:
        # Paid for although it failed: what it cost, and how that was counted.
        tokens_in, tokens_out, cost = spent.tokens_in, spent.tokens_out, spent.cost
        notes = []
        if spent.dropped:
            notes.append(f"{spent.dropped} streams broke off, cost estimated from their text")
        if spent.runaways:
            notes.append(
                f"{spent.runaways} replies ran past their cap, counted up to where reading stopped"
            )
        if not notes:
            notes.append("the whole reply is counted")
        if exc.tries > 1:
            notes.append(f"{exc.tries} requests")
        detail = "; ".join([*notes, detail or ""])
    elif exc.tries > 1:
        detail = f"{exc.tries} requests: {detail}"
    return UsageRow(
        provider=provider[:50] or "unknown",
        model=model or "unknown",
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=cost,
        latency_ms=ms_since(started),
        outcome=exc.outcome,
        error=detail,
    )


_INSERT = insert(Usage)


class UsageWriter:
    """Writes usage rows: one autocommitted INSERT (no ORM unit of work, no BEGIN/COMMIT) on
    a connection kept for them, then, with Redis, one script that adds the row's cost to the
    month's spend cached there and gives back the call's budget holds (`Reservations.settle`),
    so budgets read the spend without summing the table."""

    def __init__(self, db: Database | None, ledger: Reservations | None = None) -> None:
        self.db = db
        self.ledger = ledger
        self._engine = (
            db.engine.execution_options(isolation_level="AUTOCOMMIT") if db is not None else None
        )
        # One connection kept for the rows (checked out once, not per row: no pool checkout,
        # ping and reset each time); writes take turns on it. Reopened after an error.
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def _insert(self, values: dict[str, Any]) -> None:
        assert self._engine is not None
        async with self._lock:
            for attempt in (1, 2):
                if self._conn is None:
                    self._conn = await self._engine.connect()
                try:
                    await self._conn.execute(_INSERT, values)
                    return
                except (DBAPIError, OSError):
                    # A connection the server dropped: try once more on a fresh one.
                    await self._drop()
                    if attempt == 2:
                        raise

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
            except Exception:
                log.debug("closing a broken usage connection failed", exc_info=True)

    async def aclose(self) -> None:
        """Give the connection back to the pool."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()

    async def write(
        self, context: UsageContext, row: UsageRow, guard: BudgetGuard | None = None
    ) -> None:
        """Write the row (nothing without a database) and settle `guard`'s holds; a failure
        is only logged."""
        if self.db is None or self._engine is None:
            return
        created_at = datetime.now(UTC)
        installation = context.installation_id
        ledger = self.ledger if installation is not None else None
        holds = guard.take_holds() if guard is not None and guard.ledger is not None else []
        inserted = False
        try:
            if ledger is not None and not holds and row.cost_usd > 0:
                # Not from a budgeted call: hold nothing, but stop caches filling meanwhile.
                holds = [await ledger.mark_writing(installation or 0)]
            try:
                await self._insert(usage_values(context, row, created_at))
                inserted = True
            finally:
                if ledger is not None and holds:
                    cost = row.cost_usd if inserted else Decimal(0)
                    await self._settle(ledger, installation or 0, cost, created_at, holds)
        except Exception:
            # The answer is paid for and still worth returning; the operator sees this log.
            log.exception("could not record usage for %s:%s", row.provider, row.model)

    @staticmethod
    async def _settle(
        ledger: Reservations,
        installation_id: int,
        cost: Decimal,
        created_at: datetime,
        holds: list[str],
    ) -> None:
        try:
            await ledger.settle(installation_id, cost, created_at, holds)
        except Exception:
            log.exception("could not count a call's cost in the cached spend")
            try:
                await ledger.forget_spend(installation_id, created_at)
            except Exception:
                log.exception("could not drop the cached spend")


def ms_since(started: float) -> int:
    """Milliseconds since `started` (a `time.monotonic()` reading)."""
    return int((time.monotonic() - started) * 1000)
