"""The long-lived clients a process shares: Redis/queue, database, GitHub, models.

Built once at start-up (`Services.start`) and handed to every webhook handler and job, so a
test can build the same object pointed at local servers and exercise the real code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from arq import ArqRedis
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.db import Database
from bot.embedded_redis import EmbeddedRedis
from bot.github import GitHubApp
from bot.github_transport import SharedTransport
from bot.queue import Queue, connect
from bot.settings import Settings

log = logging.getLogger(__name__)

# How long start-up waits for the database to answer before calling it unreachable.
CONNECT_SECONDS = 15


class StartupError(Exception):
    """A store the settings name cannot be reached; the message is one line for the operator
    (the setting, the address with its password hidden, the reason)."""


def hide_password(url: str) -> str:
    """`url` with its password (in the authority or a `password=` query) shown as `***`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(an address that does not parse)"
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}"
    query = "&".join(
        f"{item.split('=', 1)[0]}=***" if item.lower().startswith("password=") else item
        for item in parts.query.split("&")
        if item
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _passwords(url: str) -> list[str]:
    """The password(s) in `url`, so that a reason quoting it can be scrubbed."""
    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
    except ValueError:
        return []
    found += [
        item.split("=", 1)[1]
        for item in parts.query.split("&")
        if item.lower().startswith("password=") and item.split("=", 1)[1]
    ]
    return found + [unquote(p) for p in found]


def _reason(exc: BaseException, url: str = "") -> str:
    """The innermost cause of `exc` in one line, with any password of `url` scrubbed."""
    cause: BaseException = getattr(exc, "orig", None) or exc
    for _ in range(5):
        if cause.__cause__ is None:
            break
        cause = cause.__cause__
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0][:200]}" if lines else type(cause).__name__
    for secret in _passwords(url):
        text = text.replace(secret, "***")
    return text


async def open_database(settings: Settings) -> Database:
    """The migrated database, or `StartupError` naming the setting that points at it."""
    url = settings.database_url_or_default
    if settings.database_url:
        where = f"DATABASE_URL: cannot use {hide_password(url)}"
    else:
        where = f"LIQUIDBOOK_DATA_DIR: cannot use the SQLite database {url}"
    db = None
    try:
        db = Database(url)
        await asyncio.wait_for(db.ping(), CONNECT_SECONDS)
    except Exception as exc:
        if db is not None:
            with contextlib.suppress(Exception):
                await db.close()
        if isinstance(exc, TimeoutError):
            raise StartupError(f"{where} (no answer within {CONNECT_SECONDS} s)") from None
        raise StartupError(f"{where} ({_reason(exc, url)})") from None
    try:
        await db.migrate()
    except (OperationalError, InterfaceError, OSError) as exc:
        # Reached, but it cannot take the schema (read-only, full, gone again).
        with contextlib.suppress(Exception):
            await db.close()
        raise StartupError(f"{where}: migrating failed ({_reason(exc, url)})") from None
    except BaseException:
        with contextlib.suppress(Exception):
            await db.close()
        raise
    return db


async def _connect_redis(url: str, setting: str | None) -> ArqRedis:
    """arq's pool on `url` (it retries a few times); `StartupError` when it stays away.

    arq logs a warning per retry; they are held back here so that the failure is one line.
    """
    arq_log = logging.getLogger("arq.connections")
    level = arq_log.level
    arq_log.setLevel(logging.ERROR)
    try:
        return await connect(url)
    except Exception as exc:
        name = setting or "the embedded Redis"
        raise StartupError(
            f"{name}: cannot connect to {hide_password(url)} ({_reason(exc, url)})"
        ) from None
    finally:
        arq_log.setLevel(level)


@dataclass
class Services:
    """Everything a handler or a job may use."""

    settings: Settings
    redis: ArqRedis
    queue: Queue
    db: Database
    github: GitHubApp | None = None
    embedded_redis: EmbeddedRedis | None = None
    # Set by the worker (the provider layer); webhook handlers never call a model.
    models: Any = None
    closed: bool = field(default=False, repr=False)
    # One GitHub connection pool for the process, whatever the app's credentials.
    github_transport: SharedTransport = field(default_factory=SharedTransport, repr=False)
    # Called after `configure_github` (the server restarts its worker children with them).
    on_configured: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    async def start(cls, settings: Settings, *, allow_embedded_redis: bool = True) -> Services:
        """Connect to the database and Redis (starting an embedded one if allowed and needed).

        A store that cannot be reached raises `StartupError`, whose message is one line that
        names the setting, the address (password hidden) and the reason.
        """
        if settings.redis_url is None and not allow_embedded_redis:
            raise StartupError(
                "REDIS_URL is not set: a separate worker needs the Redis the server uses"
            )
        embedded = redis = db = None
        try:
            # Both stores answer before anything is written or logged: a failure is one line.
            if settings.redis_url is not None:
                redis = await _connect_redis(settings.redis_url, "REDIS_URL")
            db = await open_database(settings)
            if redis is None:
                try:
                    embedded = EmbeddedRedis(settings.liquidbook_data_dir / "redis").start()
                except Exception as exc:
                    raise StartupError(
                        f"REDIS_URL is not set and the embedded Redis did not start: {_reason(exc)}"
                    ) from None
                log.info("started embedded Redis at %s", embedded.url)
                redis = await _connect_redis(embedded.url, None)
        except BaseException:
            # Nothing may outlive a failed start: an embedded redis-server left running
            # would hold the data directory (and the caller's pipes) after we exit.
            if db is not None:
                with contextlib.suppress(Exception):
                    await db.close()
            if redis is not None:
                with contextlib.suppress(Exception):
                    await redis.aclose()
            if embedded is not None:
                embedded.stop()
            raise
        services = cls(
            settings=settings, redis=redis, queue=Queue(redis), db=db, embedded_redis=embedded
        )
        services.configure_github(settings)
        return services

    def configure_github(self, settings: Settings) -> None:
        """(Re)build the GitHub client, e.g. after the manifest flow saved new credentials."""
        self.settings = settings
        self.github = (
            GitHubApp(settings, self.redis, self.github_transport)
            if settings.app_configured
            else None
        )
        for callback in self.on_configured:
            callback()

    def model_client(self) -> Any:
        """The provider layer's client, made on first use (only workers call models). Within
        a command job its calls leave markers, so a call a dying worker cut off is still
        counted (`bot.inflight`)."""
        if self.models is None:
            from bot.inflight import TrackedModelClient
            from bot.providers import ProviderSettings

            self.models = TrackedModelClient(ProviderSettings(), self.redis, self.db)
        return self.models

    @property
    def redis_url(self) -> str:
        """The URL workers of this deployment connect to."""
        if self.embedded_redis is not None:
            return self.embedded_redis.url
        assert self.settings.redis_url is not None
        return self.settings.redis_url

    async def close(self) -> None:
        """Close clients and stop an embedded Redis (a second call does nothing)."""
        if self.closed:
            return
        self.closed = True
        if self.models is not None and hasattr(self.models, "aclose"):
            await self.models.aclose()
        await self.github_transport.close()
        await self.queue.aclose()
        await self.redis.aclose()
        await self.db.close()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, settings, clients: tens of MB) out of the
    garbage collector's sight (`gc.freeze`), once a process has started its services. A
    full collection otherwise walks all of them, tens of milliseconds with the event loop
    stopped, which at 800 deliveries a second is the p99 of a load
    (`bench/probot_side_by_side.py`). Nothing is leaked: frozen objects are simply never
    collected, which objects alive for the whole process never are anyway."""
    import gc

    gc.collect()
    gc.freeze()
