"""The job queue: arq on Redis, and the names of the jobs the webhook handlers enqueue.

Jobs are at least once in arq (a killed worker's job runs again), so every job takes a
deterministic `job_id` derived from what it is about: enqueueing the same work twice while
it is queued, running or recently done is a no-op, and each job's steps are idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

from bot import job_results

log = logging.getLogger(__name__)

QUEUE_NAME = "liquidbook:queue"
# Acknowledgements (👀, permission, status comment) have a queue and a worker of their own,
# so a job queue full of chapters being written never delays the first answer to a comment.
ACK_QUEUE_NAME = "liquidbook:ack"


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings for a `redis://`, `rediss://` or `unix://` URL."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 2
    return settings


async def connect(url: str) -> ArqRedis:
    """An arq pool; it is also a full redis.asyncio client used for caches and dedup. Its
    serializer is the workers' (`bot.job_results`): results stored without credentials."""
    return await create_pool(
        redis_settings(url),
        default_queue_name=QUEUE_NAME,
        job_serializer=job_results.serialize,
        job_deserializer=job_results.deserialize,
    )


class Queue:
    """Enqueue jobs by name with stable ids (what handlers and jobs receive)."""

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    async def enqueue(
        self, function: str, *args: Any, job_id: str, queue_name: str = QUEUE_NAME, **kwargs: Any
    ) -> bool:
        """Enqueue `function(*args, **kwargs)` once per `job_id`; False if it already exists.

        `queue_name` is `QUEUE_NAME` for jobs, `ACK_QUEUE_NAME` for acknowledgements."""
        job = await self.redis.enqueue_job(
            function, *args, _job_id=job_id, _queue_name=queue_name, **kwargs
        )
        if job is None:
            log.info("job %s already queued, running or done", job_id)
        return job is not None
