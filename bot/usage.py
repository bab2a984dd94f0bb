"""AI usage: one row per model call, and the monthly sums that `/usage` and budgets read.

The provider layer produces `UsageRow`s (see `bot.providers`); this module only stores and
adds them up, so the accounting has a single definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from bot.db import Database, Usage


@dataclass(frozen=True)
class UsageContext:
    """Who a model call is for: recorded with every call."""

    installation_id: int | None = None
    repository: str | None = None
    command: str | None = None


@dataclass(frozen=True)
class UsageRow:
    """What one call used; the fields of a usage table row (the provider layer fills it)."""

    provider: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: int = 0
    outcome: str = "ok"
    error: str | None = None


@dataclass(frozen=True)
class UsageTotals:
    """Sums over a period."""

    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal


def month_start(now: datetime | None = None) -> datetime:
    """The first instant of the current calendar month in UTC (budgets reset then)."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime | None = None) -> datetime:
    """When the current month's budget resets."""
    start = month_start(now)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def usage_values(
    context: UsageContext, row: UsageRow, created_at: datetime | None = None
) -> dict[str, Any]:
    """The usage table's columns for one call (text clipped to the columns' sizes)."""
    values: dict[str, Any] = {
        "installation_id": context.installation_id,
        "repository": context.repository,
        "command": (context.command or "")[:100] or None,
        "provider": row.provider,
        "model": row.model[:200],
        "tokens_in": row.tokens_in,
        "tokens_out": row.tokens_out,
        "cached_tokens": row.cached_tokens,
        "cost_usd": row.cost_usd,
        "latency_ms": row.latency_ms,
        "outcome": row.outcome,
        "error": (row.error or None) and row.error[:500],
    }
    if created_at is not None:
        values["created_at"] = created_at
    return values


async def record_usage(db: Database, context: UsageContext, row: UsageRow) -> None:
    """Store one call's usage."""
    async with db.session() as session:
        session.add(Usage(**usage_values(context, row)))


async def totals(
    db: Database,
    *,
    installation_id: int | None = None,
    repository: str | None = None,
    since: datetime | None = None,
) -> UsageTotals:
    """Sum calls, tokens and cost for an installation and/or a repository since a time."""
    query = select(
        func.count(Usage.id),
        func.coalesce(func.sum(Usage.tokens_in), 0),
        func.coalesce(func.sum(Usage.tokens_out), 0),
        func.coalesce(func.sum(Usage.cost_usd), 0),
    )
    if installation_id is not None:
        query = query.where(Usage.installation_id == installation_id)
    if repository is not None:
        query = query.where(Usage.repository == repository)
    if since is not None:
        query = query.where(Usage.created_at >= since)
    async with db.session() as session:
        calls, tokens_in, tokens_out, cost = (await session.execute(query)).one()
    return UsageTotals(int(calls), int(tokens_in), int(tokens_out), Decimal(str(cost)))


async def month_spend(db: Database, installation_id: int) -> Decimal:
    """This calendar month's spend of an installation, in USD (what budgets compare to)."""
    result = await totals(db, installation_id=installation_id, since=month_start())
    return result.cost_usd
