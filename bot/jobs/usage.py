"""`/usage`: this month's tokens and cost for the repository and for the whole installation."""

from __future__ import annotations

from decimal import Decimal

from bot.services import Services
from bot.usage import month_start, next_month_start, totals


def _money(value: Decimal) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


async def usage_report(
    services: Services, installation_id: int, full_name: str, budget_usd: Decimal | None = None
) -> str:
    """A Markdown table of calls, tokens and cost since the first of the month (UTC).

    `budget_usd` is the book's own budget when its settings set one (`budget.monthly_usd`)."""
    since = month_start()
    repo = await totals(services.db, repository=full_name, since=since)
    inst = await totals(services.db, installation_id=installation_id, since=since)
    if budget_usd is None:
        budget_usd = Decimal(str(services.settings.liquidbook_monthly_budget_usd))
    budget = budget_usd
    left = max(budget - inst.cost_usd, Decimal(0))
    return (
        f"AI usage since {since:%B %-d, %Y} (UTC):\n\n"
        "| | model calls | tokens in | tokens out | cost |\n| --- | ---: | ---: | ---: | ---: |\n"
        f"| this repository | {repo.calls} | {repo.tokens_in:,} | {repo.tokens_out:,} | {_money(repo.cost_usd)} |\n"
        f"| the whole installation | {inst.calls} | {inst.tokens_in:,} | {inst.tokens_out:,} | {_money(inst.cost_usd)} |\n\n"
        f"Monthly budget: {_money(budget)}, of which {_money(left)} is left; "
        f"it resets on {next_month_start():%B %-d, %Y}."
    )
