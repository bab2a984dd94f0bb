"""The app's own database: installations and AI usage, nothing else.

Chapters, outlines, configuration and build history live in the book's repository. SQLite is
the embedded default; PostgreSQL serves deployments with several machines. The schema is
owned by Alembic (`bot/migrations/`); `migrate()` brings any database to the latest revision
and runs at start-up of every process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    TypeDecorator,
    event,
    make_url,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Installation(Base):
    """One installation of the GitHub App on an account, kept current by webhooks."""

    __tablename__ = "installations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_login: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int] = mapped_column(BigInteger)
    account_type: Mapped[str] = mapped_column(String(20))
    # "all" or "selected", as GitHub says; with "all" the repository rows are those seen so far.
    repository_selection: Mapped[str] = mapped_column(String(20), default="selected")
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    repositories: Mapped[list[InstallationRepository]] = relationship(
        back_populates="installation", cascade="all, delete-orphan", lazy="selectin"
    )


class InstallationRepository(Base):
    """A repository an installation can reach."""

    __tablename__ = "installation_repositories"

    installation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("installations.id", ondelete="CASCADE"), primary_key=True
    )
    repository_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    full_name: Mapped[str] = mapped_column(String(200), index=True)
    private: Mapped[bool] = mapped_column(default=False)

    installation: Mapped[Installation] = relationship(back_populates="repositories")


class Usage(Base):
    """One model call, successful or not: what it cost and for whom.

    No foreign key to installations: the spend of an uninstalled account is still history.
    """

    __tablename__ = "usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    installation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    repository: Mapped[str | None] = mapped_column(String(200), nullable=True)
    command: Mapped[str | None] = mapped_column(String(100), nullable=True)
    provider: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), default=Decimal(0))
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    # "ok", or the kind of failure: "rate_limited", "server_error", "timeout", "refused", ...
    outcome: Mapped[str] = mapped_column(String(40), default="ok")
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_usage_installation_time", "installation_id", "created_at"),
        Index("ix_usage_repository_time", "repository", "created_at"),
    )


def async_url(url: str) -> str:
    """Turn `sqlite:///…` / `postgresql://…` into the async drivers' URLs."""
    parsed = make_url(url)
    driver = {
        "sqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+psycopg2": "postgresql+asyncpg",
    }.get(parsed.drivername, parsed.drivername)
    parsed = parsed.set(drivername=driver)
    if driver == "postgresql+asyncpg" and parsed.query:
        # Hosted PostgreSQL URLs carry libpq's options (Heroku, Render, Neon: `sslmode=`);
        # asyncpg takes the same modes as `ssl` and knows nothing of channel binding.
        query = dict(parsed.query)
        if "sslmode" in query:
            query["ssl"] = query.pop("sslmode")
        query.pop("channel_binding", None)
        parsed = parsed.set(query=query)
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; SQLite gets its folder created and foreign keys on."""
    url = async_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL never corrupts the file; a power cut may lose the last commits
            # (not a crash of the app), and each commit skips an fsync (0.3 ms here).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """The engine and its session factory: what handlers and jobs receive."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    def insert(self, model: type[Base]) -> Any:
        """`INSERT` in this database's dialect, which offers `on_conflict_do_update` /
        `on_conflict_do_nothing` (PostgreSQL and SQLite spell upserts the same way)."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)

    async def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision."""
        await migrate(self.engine)

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query (used by /healthz)."""
        from sqlalchemy import text

        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


_MIGRATE_LOCK_ID = 0x11B00C  # PostgreSQL advisory lock: one process migrates at a time.


class _OnlyUpgrades(logging.Filter):
    """Alembic's INFO lines at every start (plugins set up, the dialect's DDL mode) tell an
    operator nothing; a migration that really runs ("Running upgrade …") is worth a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.getMessage().startswith(
            "Running upgrade"
        )


def _quiet_alembic() -> None:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    migration = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, _OnlyUpgrades) for f in migration.filters):
        migration.addFilter(_OnlyUpgrades())


async def migrate(engine: AsyncEngine) -> None:
    """Run Alembic's upgrade to head on `engine` (all processes may call this at start-up)."""
    _quiet_alembic()  # before the import: alembic logs its plugins as it loads them
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))

    def upgrade(connection):  # type: ignore[no-untyped-def]
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_lock({_MIGRATE_LOCK_ID})"))
        try:
            await conn.run_sync(upgrade)
            await conn.commit()
        finally:
            if engine.dialect.name == "postgresql":
                await conn.execute(text(f"SELECT pg_advisory_unlock({_MIGRATE_LOCK_ID})"))
                await conn.commit()
