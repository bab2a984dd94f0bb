"""The arq workers that run jobs: in `liquidbook serve`'s worker children (`bot.supervisor`),
or alone (`liquidbook worker`); never in the process that answers webhooks.

A process runs two arq workers together (`Workers`): one for the job queue (writing chapters,
outlines, the setup PR: up to `LIQUIDBOOK_MAX_JOBS` at once, minutes each) and one for the
acknowledgement queue (👀, the permission check, the status comment: a second each). A job
queue whose every slot is busy with slow model calls never delays an acknowledgement.

Jobs receive the process's `Services` in `ctx["services"]`. A job function is registered in
`bot/jobs/__init__.py`; its id is chosen by whoever enqueues it (see `bot.queue`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Worker
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms

from bot import job_results
from bot.jobs import ACK_FUNCTIONS, FUNCTIONS, scheduled_jobs
from bot.metrics import JOB_SECONDS
from bot.queue import ACK_QUEUE_NAME, QUEUE_NAME, redis_settings
from bot.services import Services

log = logging.getLogger(__name__)

# Acknowledgements at once per process, and the time limit of one (it makes a few calls).
ACK_MAX_JOBS = 20
ACK_TIMEOUT_SECONDS = 120


def timed(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Record a job function's run time under its own name (arq names jobs by qualname,
    which `wraps` keeps; its hooks are not told which function ran)."""

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await function(ctx, *args, **kwargs)
        finally:
            JOB_SECONDS.labels(job=function.__name__).observe(time.perf_counter() - started)

    return run


class EagerWorker(Worker):
    """arq's worker, which goes on at once while there is a backlog instead of on the clock.

    arq's poll reads the due jobs, starts as many as it has free slots, and sleeps
    `poll_delay` (0.1 s) before it looks again, even when a slot frees a millisecond later:
    a worker of 20 slots whose jobs take 50 ms ran them at most 20 per 0.1 s, and one slot
    at most 10 a second (`bench/probot_side_by_side.py --drain`). Here a poll that filled
    every slot (so more may be waiting) polls again as soon as the next job ends, or after a
    poll's delay if none ends by then (arq's poll also reads `/cancel`'s aborts and writes the
    health check, which must not wait for an hour-long job); a poll that left a slot free (the queue is drained) or started nothing
    (what it read is running in another process) sleeps as before, so an idle or crowded
    queue costs no more Redis calls than arq's.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slot_freed = asyncio.Event()
        self._started = 0
        self._claim: Any = None

    # arq's claim of a due job (WATCH, EXISTS, ZSCORE, then MULTI, PSETEX, EXEC: four round
    # trips), as one script with the same checks: not running anywhere (its in-progress key),
    # still queued, due. Its score, or nil.
    _CLAIM = """
    if redis.call('EXISTS', KEYS[1]) == 1 then return false end
    local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
    if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
    redis.call('PSETEX', KEYS[1], ARGV[3], '1')
    return score
    """

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq's `start_jobs`, with two savings. A job this worker is running is skipped
        without asking Redis: a running job stays at the head of the queue until it ends,
        so each poll of a busy worker read its own 20 running jobs first and tried to claim
        each. And the claim is one script, not four round trips."""
        before = len(self.tasks)
        if self._claim is None:
            self._claim = self.pool.register_script(self._CLAIM)
        in_progress_ms = str(int(self.in_progress_timeout_s * 1000))
        for job_id_b in job_ids:
            job_id = job_id_b.decode()
            running = self.tasks.get(job_id)
            if running is not None and not running.done():
                continue
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                break
            self.job_counter += 1
            score = await self._claim(
                keys=[in_progress_key_prefix + job_id, self.queue_name],
                args=[job_id, str(timestamp_ms()), in_progress_ms],
            )
            if score is None:  # running elsewhere, ended, or deferred meanwhile
                self.job_counter -= 1
                self.sem.release()
                continue
            task = self.loop.create_task(self.run_job(job_id, int(float(score))))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task
        self._started += len(self.tasks) - before

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._slot_freed.set()

    async def _poll_iteration(self) -> None:
        while True:
            self._started = 0
            await super()._poll_iteration()
            if not self._started or self.job_counter < self.max_jobs:
                return
            # Every slot is busy now (no await since the check): the next job to end frees
            # one. At most a poll's delay, so aborts (`/cancel`) and the health check are
            # still read on arq's clock while long jobs hold every slot.
            # (A timer, not `asyncio.wait_for`: on Python 3.11 a cancel that lands as the
            # wait ends can be lost in it, and the worker would not stop.)
            self._slot_freed.clear()
            timer = asyncio.get_running_loop().call_later(self.poll_delay_s, self._slot_freed.set)
            try:
                await self._slot_freed.wait()
            finally:
                timer.cancel()


def build_worker(
    services: Services,
    *,
    burst: bool = False,
    handle_signals: bool = False,
    poll_delay: float = 0.1,
) -> Workers:
    """The job worker and the acknowledgement worker, each on its own Redis connection."""
    settings = services.settings
    common: dict[str, Any] = {
        # Its own connection: arq closes the pool it runs on when the worker closes.
        "redis_settings": redis_settings(services.redis_url),
        "ctx": {"services": services},
        "burst": burst,
        "poll_delay": poll_delay,
        "keep_result": 3600,
        # One start more than a job's tries: a command job started past them (its worker
        # died every time) only reports that it gave up (`bot.jobs.runner.command_job`).
        # Other jobs (setup, acknowledgements: idempotent, short) may use it as a last try.
        "max_tries": settings.liquidbook_job_tries + 1,
        # Results and failures are stored without credentials (`bot.job_results`).
        "job_serializer": job_results.serialize,
        "job_deserializer": job_results.deserialize,
    }
    jobs = EagerWorker(
        functions=[timed(f) for f in FUNCTIONS],  # type: ignore[misc]
        # The recovery of missed deliveries, every half hour and at start-up.
        cron_jobs=scheduled_jobs(settings),
        queue_name=QUEUE_NAME,
        handle_signals=handle_signals,
        max_jobs=settings.liquidbook_max_jobs,
        job_timeout=settings.liquidbook_job_timeout,
        # `/cancel` aborts the jobs of an issue or PR (`bot.jobs.cancel`).
        allow_abort_jobs=True,
        **common,
    )
    acknowledgements = EagerWorker(
        functions=[timed(f) for f in ACK_FUNCTIONS],  # type: ignore[misc]
        queue_name=ACK_QUEUE_NAME,
        handle_signals=False,  # the job worker's handler stops both (`Workers`)
        max_jobs=ACK_MAX_JOBS,
        job_timeout=ACK_TIMEOUT_SECONDS,
        **common,
    )
    return Workers(jobs, acknowledgements)


class Workers:
    """The two arq workers of a process, run and stopped as one (what `liquidbook worker`
    and each worker child of `liquidbook serve` run).

    With `handle_signals`, arq's SIGTERM/SIGINT handler on the job worker also stops the
    acknowledgement worker (`on_stop`). If either worker's loop ends on an error (Redis
    away), the other is stopped too and the error is raised, so a supervisor restarts both.
    """

    def __init__(self, jobs: Worker, acknowledgements: Worker) -> None:
        self.jobs = jobs
        self.acknowledgements = acknowledgements
        jobs.on_stop = acknowledgements.handle_sig

    @property
    def all(self) -> tuple[Worker, Worker]:
        return (self.jobs, self.acknowledgements)

    async def async_run(self) -> None:
        """Run both until both end (burst mode), one fails, or this is cancelled."""
        tasks = [
            asyncio.create_task(worker.async_run(), name=f"arq-{worker.queue_name}")
            for worker in self.all
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Close both (each even if the other fails)."""
        errors = []
        for worker in self.all:
            try:
                await worker.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
