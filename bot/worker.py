"""The arq worker that runs jobs: in the server process by default, or alone (`liquidbook worker`).

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

from bot.jobs import FUNCTIONS
from bot.metrics import JOB_SECONDS
from bot.queue import QUEUE_NAME, redis_settings
from bot.services import Services

log = logging.getLogger(__name__)


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


def build_worker(
    services: Services,
    *,
    burst: bool = False,
    handle_signals: bool = False,
    poll_delay: float = 0.1,
) -> Worker:
    """An arq `Worker` on its own Redis connection, running the app's job functions."""
    return Worker(
        functions=[timed(f) for f in FUNCTIONS],  # type: ignore[misc]
        # Its own connection: arq closes the pool it runs on when the worker closes.
        redis_settings=redis_settings(services.redis_url),
        queue_name=QUEUE_NAME,
        ctx={"services": services},
        burst=burst,
        handle_signals=handle_signals,
        poll_delay=poll_delay,
        max_jobs=services.settings.liquidbook_max_jobs,
        job_timeout=services.settings.liquidbook_job_timeout,
        keep_result=3600,
        max_tries=5,
    )


async def run_in_background(services: Services) -> tuple[Worker, asyncio.Task[None]]:
    """Start a worker as a task of the current loop (the server's in-process worker)."""
    worker = build_worker(services)
    task = asyncio.create_task(worker.async_run(), name="liquidbook-worker")
    return worker, task
