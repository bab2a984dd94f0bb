"""`bot.worker.EagerWorker` on a real Redis: a backlog is worked off as fast as jobs end,
not one batch per poll; an idle queue, or one whose jobs run elsewhere, is polled on the
clock as arq does (no busy loop)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from arq.constants import in_progress_key_prefix

from bot.queue import connect, redis_settings
from bot.worker import EagerWorker

pytestmark = pytest.mark.asyncio

# So long that a worker that waited for it between jobs could not finish in the test's time.
LONG_POLL = 30.0


async def quick(ctx: dict[str, Any], n: int) -> int:
    await asyncio.sleep(0.01)
    ctx["done"].append(n)
    if len(ctx["done"]) == ctx["expect"]:
        ctx["all_done"].set()
    return n


def worker(
    redis_url: str, done: list[int], max_jobs: int, all_done: asyncio.Event | None = None
) -> EagerWorker:
    return EagerWorker(
        functions=[quick],
        redis_settings=redis_settings(redis_url),
        queue_name="eager-test",
        max_jobs=max_jobs,
        poll_delay=LONG_POLL,
        handle_signals=False,
        ctx={"done": done, "expect": 12, "all_done": all_done or asyncio.Event()},
    )


@pytest.mark.parametrize("max_jobs", [1, 3])
async def test_a_backlog_runs_as_jobs_end_not_on_the_clock(redis_url: str, max_jobs: int) -> None:
    pool = await connect(redis_url)
    try:
        for n in range(12):
            await pool.enqueue_job("quick", n, _queue_name="eager-test", _job_id=f"job-{n}")
        done: list[int] = []
        all_done = asyncio.Event()
        w = worker(redis_url, done, max_jobs, all_done)
        task = asyncio.create_task(w.async_run())
        try:
            # arq's own worker starts `max_jobs` jobs per poll: 12 jobs would take
            # 12 / max_jobs polls of 30 s. Going on as jobs end, they take a moment.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_done.wait(), LONG_POLL / 2)
            assert sorted(done) == list(range(12))
            await asyncio.gather(*w.tasks.values())  # their ends (results stored)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await w.close()
    finally:
        await pool.aclose()


async def test_jobs_running_elsewhere_or_none_due_do_not_make_it_spin(redis_url: str) -> None:
    """Due ids whose jobs another process runs (arq keeps them queued until they end) are
    skipped: the poll returns and the worker sleeps until its next poll, as arq's does."""
    pool = await connect(redis_url)
    try:
        for n in range(5):
            await pool.enqueue_job("quick", n, _queue_name="eager-test", _job_id=f"busy-{n}")
            await pool.set(in_progress_key_prefix + f"busy-{n}", b"1", px=60_000)
        done: list[int] = []
        w = worker(redis_url, done, max_jobs=2)
        w._pool = pool  # type: ignore[assignment]  # _poll_iteration without main()'s start-up
        await asyncio.wait_for(w._poll_iteration(), 5)
        assert done == [] and w.job_counter == 0
        await pool.flushdb()
        await asyncio.wait_for(w._poll_iteration(), 5)  # an empty queue: returns at once
        w._pool = None  # the test's pool is closed below, not by the worker
        await w.close()
    finally:
        await pool.aclose()


async def sleeper(ctx: dict[str, Any], n: int) -> int:
    ctx["started"].set()
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        ctx["aborted"].set()
        raise
    return n


async def test_an_abort_is_read_while_every_slot_is_busy(redis_url: str) -> None:
    """`/cancel` aborts with arq's mark, which the worker reads in its poll: a worker whose
    every slot runs a long job, with a backlog waiting, still polls on the clock, so the abort
    lands in about a poll's delay, not when some job ends (an hour here)."""
    pool = await connect(redis_url)
    ctx: dict[str, Any] = {
        "done": [],
        "expect": 3,
        "all_done": asyncio.Event(),
        "started": asyncio.Event(),
        "aborted": asyncio.Event(),
    }
    w = EagerWorker(
        functions=[quick, sleeper],
        redis_settings=redis_settings(redis_url),
        queue_name="eager-test",
        max_jobs=1,
        poll_delay=0.05,
        handle_signals=False,
        allow_abort_jobs=True,
        ctx=ctx,
    )
    task = asyncio.create_task(w.async_run())
    try:
        job = await pool.enqueue_job("sleeper", 0, _queue_name="eager-test", _job_id="long")
        assert job is not None
        for n in range(3):  # the backlog behind it
            await pool.enqueue_job("quick", n, _queue_name="eager-test", _job_id=f"after-{n}")
        await asyncio.wait_for(ctx["started"].wait(), 10)
        assert await job.abort(timeout=10)
        await asyncio.wait_for(ctx["aborted"].wait(), 10)
        await asyncio.wait_for(ctx["all_done"].wait(), 10)  # the backlog ran after it
        assert sorted(ctx["done"]) == [0, 1, 2]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await w.close()
        await pool.aclose()


async def test_a_cancel_as_a_job_ends_stops_the_worker(redis_url: str) -> None:
    """Stopping the worker the moment its last job ends (the slot's wake-up and the cancel
    together) stops it: a wait that lost that cancel kept the worker running forever."""
    pool = await connect(redis_url)
    try:
        for n in range(12):
            await pool.enqueue_job("quick", n, _queue_name="eager-test", _job_id=f"end-{n}")
        done: list[int] = []
        all_done = asyncio.Event()
        w = worker(redis_url, done, 1, all_done)
        task = asyncio.create_task(w.async_run())
        try:
            await asyncio.wait_for(all_done.wait(), LONG_POLL / 2)
            await asyncio.gather(*w.tasks.values())
        finally:
            task.cancel()
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
            await w.close()
    finally:
        await pool.aclose()
