"""The database schema migrates on both SQLite and PostgreSQL and keeps usage sums right."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import inspect

from bot.db import Database, Usage
from bot.usage import UsageContext, UsageRow, month_start, next_month_start, record_usage, totals


async def test_migrate_creates_tables_and_is_idempotent(database: Database) -> None:
    await database.migrate()  # a second run is a no-op, as every process runs it at start-up
    async with database.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {"installations", "installation_repositories", "usage", "alembic_version"} <= names


async def test_usage_totals_by_repository_installation_and_month(database: Database) -> None:
    ctx = UsageContext(installation_id=7, repository="o/book", command="generate")
    await record_usage(database, ctx, UsageRow("openai", "gpt-4.1", 100, 50, 0, Decimal("0.25")))
    await record_usage(database, ctx, UsageRow("openai", "gpt-4.1", 10, 0, outcome="rate_limited"))
    other = UsageContext(installation_id=7, repository="o/other", command="outline")
    await record_usage(database, other, UsageRow("anthropic", "claude", 1, 2, 0, Decimal("1.5")))
    async with database.session() as session:  # last month's call must not count
        session.add(
            Usage(
                installation_id=7,
                repository="o/book",
                provider="openai",
                model="m",
                cost_usd=Decimal(9),
                created_at=month_start() - timedelta(seconds=1),
            )
        )

    repo = await totals(database, repository="o/book", since=month_start())
    assert (repo.calls, repo.tokens_in, repo.tokens_out) == (2, 110, 50)
    assert repo.cost_usd == Decimal("0.25")
    inst = await totals(database, installation_id=7, since=month_start())
    assert inst.cost_usd == Decimal("1.75") and inst.calls == 3


def test_month_boundaries() -> None:
    now = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert month_start(now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month_start(now) == datetime(2027, 1, 1, tzinfo=UTC)


def test_libpq_options_of_hosted_postgresql_urls_reach_asyncpg_as_its_own() -> None:
    from bot.db import async_url

    url = async_url("postgres://u:p@db.example/book?sslmode=require&channel_binding=require")
    assert url == "postgresql+asyncpg://u:p@db.example/book?ssl=require"
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


async def test_a_postgresql_url_with_sslmode_connects(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        return  # SQLite has no such options
    db = Database(database_url + "?sslmode=disable")
    try:
        await db.migrate()
        await db.ping()
    finally:
        await db.close()
