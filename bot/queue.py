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
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from bot import job_results
from bot.redis_lane import ScriptLane

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
        # The intake's one call per delivery, on a connection of its own (opened at the
        # first delivery that starts work; a worker's queue never opens it).
        self.claim_and_enqueue = ScriptLane(redis, _CLAIM_AND_ENQUEUE)

    async def aclose(self) -> None:
        await self.claim_and_enqueue.aclose()

    def for_delivery(self, key: str, seconds: int) -> DeliveryQueue:
        """This queue for one delivery's handlers (`DeliveryQueue`)."""
        return DeliveryQueue(self, key, seconds)

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        queue_name: str = QUEUE_NAME,
        defer_seconds: float = 0,
        **kwargs: Any,
    ) -> bool:
        """Enqueue `function(*args, **kwargs)` once per `job_id`; False if it already exists.

        `queue_name` is `QUEUE_NAME` for jobs, `ACK_QUEUE_NAME` for acknowledgements; the job
        runs `defer_seconds` from now at the earliest."""
        job = await self.redis.enqueue_job(
            function,
            *args,
            _job_id=job_id,
            _queue_name=queue_name,
            _defer_by=defer_seconds or None,
            **kwargs,
        )
        if job is None:
            log.info("job %s already queued, running or done", job_id)
        return job is not None


class DuplicateDelivery(Exception):
    """The delivery whose work this enqueue would start was already taken (GitHub sent it
    again): nothing was enqueued, and the request answers "duplicate"."""


# arq's enqueue (`ArqRedis.enqueue_job`: nothing when the job or its result exists, else the
# job under its key with an expiry and its id in the queue's sorted set), preceded by the
# delivery's claim (`SET NX EX`), as one script: one round trip per delivery that starts work.
_CLAIM_AND_ENQUEUE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return -1 end
if redis.call('EXISTS', KEYS[2], KEYS[3]) > 0 then return 0 end
redis.call('PSETEX', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5])
return 1
"""


class DeliveryQueue(Queue):
    """The queue as one webhook delivery's handlers see it: the first job it enqueues also
    claims the delivery id (`claimed`), in the same round trip, so a delivery GitHub sends
    again starts nothing twice. Deliveries that start no work keep no key at all."""

    def __init__(self, queue: Queue, key: str, seconds: int) -> None:
        # The process's queue's client and loaded script: nothing is made per delivery.
        self.redis = queue.redis
        self.claim_and_enqueue = queue.claim_and_enqueue
        self.key = key
        self.seconds = seconds
        self.claimed = False

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        queue_name: str = QUEUE_NAME,
        defer_seconds: float = 0,
        **kwargs: Any,
    ) -> bool:
        """`Queue.enqueue`, claiming the delivery first; `DuplicateDelivery` if it was taken."""
        if self.claimed:
            return await super().enqueue(
                function,
                *args,
                job_id=job_id,
                queue_name=queue_name,
                defer_seconds=defer_seconds,
                **kwargs,
            )
        redis = self.redis
        now = timestamp_ms()
        job = serialize_job(function, args, kwargs, None, now, serializer=redis.job_serializer)
        outcome = await self.claim_and_enqueue(
            keys=[self.key, job_key_prefix + job_id, result_key_prefix + job_id, queue_name],
            args=[
                self.seconds,
                redis.expires_extra_ms + round(defer_seconds * 1000),
                job,
                now + round(defer_seconds * 1000),
                job_id,
            ],
        )
        if outcome == -1:
            raise DuplicateDelivery(self.key)
        self.claimed = True
        if outcome == 0:
            log.info("job %s already queued, running or done", job_id)
        return outcome == 1
