"""Merges close together make one glossary run, deferred, and a merge during a run queues
the next: against the real Redis, through the queue the webhook handlers use."""

from __future__ import annotations

from arq.constants import job_key_prefix
from arq.utils import timestamp_ms

from bot.jobs.glossary import schedule_glossary
from bot.queue import QUEUE_NAME, Queue, connect


def merge_of(number: int) -> dict[str, object]:
    return {"installation_id": 1, "repository": "octo-org/book", "merged_pr": number}


async def test_merges_within_the_delay_share_one_deferred_run(redis_url: str) -> None:
    redis = await connect(redis_url)
    try:
        queue = Queue(redis)
        before = timestamp_ms()
        delivery = queue.for_delivery("liquidbook:test:delivery:1", 60)
        assert await schedule_glossary(delivery, redis, merge_of(7), 30)
        assert not await schedule_glossary(queue.for_delivery("d2", 60), redis, merge_of(8), 30)
        job_id = "glossary:octo-org/book:7"
        score = await redis.zscore(QUEUE_NAME, job_id)
        assert score is not None and score >= before + 30_000  # deferred by the delay
        assert await redis.pttl(job_key_prefix + job_id) > 30_000  # kept until it runs
        assert await redis.zcard(QUEUE_NAME) == 1
        # The run clears the mark as it starts: the next merge queues the next run.
        await redis.delete("liquidbook:glossary:pending:octo-org/book")
        assert await schedule_glossary(queue, redis, merge_of(9), 30)
        assert await redis.zcard(QUEUE_NAME) == 2
    finally:
        await redis.aclose()
