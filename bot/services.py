"""The long-lived clients a process shares: Redis/queue, database, GitHub, models.

Built once at start-up (`Services.start`) and handed to every webhook handler and job, so a
test can build the same object pointed at local servers and exercise the real code.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from arq import ArqRedis

from bot.db import Database
from bot.embedded_redis import EmbeddedRedis
from bot.github import GitHubApp
from bot.queue import Queue, connect
from bot.settings import Settings

log = logging.getLogger(__name__)


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

    @classmethod
    async def start(cls, settings: Settings, *, allow_embedded_redis: bool = True) -> Services:
        """Connect to Redis (starting an embedded one if allowed and needed) and the database."""
        embedded = None
        redis_url = settings.redis_url
        if redis_url is None:
            if not allow_embedded_redis:
                raise RuntimeError(
                    "REDIS_URL is not set: a separate worker needs the Redis the server uses"
                )
            embedded = EmbeddedRedis(settings.liquidbook_data_dir / "redis").start()
            redis_url = embedded.url
            log.info("started embedded Redis at %s", redis_url)
        redis = db = None
        try:
            redis = await connect(redis_url)
            db = Database(settings.database_url_or_default)
            await db.migrate()
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
        self.github = GitHubApp(settings, self.redis) if settings.app_configured else None

    def model_client(self) -> Any:
        """The provider layer's client, made on first use (only workers call models)."""
        if self.models is None:
            from bot.providers import ModelClient, ProviderSettings

            self.models = ModelClient(ProviderSettings(), self.redis, self.db)
        return self.models

    @property
    def redis_url(self) -> str:
        """The URL workers of this deployment connect to."""
        if self.embedded_redis is not None:
            return self.embedded_redis.url
        assert self.settings.redis_url is not None
        return self.settings.redis_url

    async def close(self) -> None:
        """Close clients and stop an embedded Redis."""
        if self.models is not None and hasattr(self.models, "aclose"):
            await self.models.aclose()
        await self.redis.aclose()
        await self.db.close()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
