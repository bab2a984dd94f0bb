"""`/cancel`: stop every queued or running job started from an issue or pull request.

Each command job the acknowledgement queues is remembered under its issue or PR
(`liquidbook:jobs-of:{owner/repo}:{number}`, job id → its status comment). `/cancel` marks
each job still queued or running as cancelled (by whom) and aborts it with arq: a queued job
never starts (its status comment is finished here), a running one is cancelled where it
stands (`bot.jobs.runner.command_job` records the model calls already in flight and ends its
status comment with what was finished and what was not). A job that already ended is left
alone; cancelling with nothing running says so. Jobs of review comments and submitted
reviews are remembered under their pull request, so `/cancel` in its conversation reaches
them; requests waiting for `/confirm` on the issue or PR (`bot.pending`) are dropped, and
their status comments say so.

A cancel never cuts a commit or a pull request in half: `uninterrupted` lets the step that
writes them (`bot.jobs.proposal.propose`) end before the cancel goes on, and each pull request
it opened or updated is remembered for the job (`OPENED`), so the cancelled status names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from arq.jobs import Job, JobStatus

from bot.queue import QUEUE_NAME

log = logging.getLogger(__name__)

JOBS_SECONDS = 7 * 24 * 3600
CANCELLED_SECONDS = 24 * 3600
# How long a cancelled job still waits for a commit or pull request under way to be written.
FINISH_WRITING_SECONDS = 60.0

T = TypeVar("T")

# The pull requests (their addresses) the running job opened or updated: `bot.jobs.runner`
# sets a list per job, `note_opened` adds to it.
OPENED: ContextVar[list[str] | None] = ContextVar("liquidbook_opened", default=None)


def note_opened(url: str) -> None:
    """Remember that the running job opened or updated the pull request at `url`."""
    opened = OPENED.get()
    if opened is not None and url not in opened:
        opened.append(url)


async def together(*steps: Awaitable[T]) -> list[T]:
    """`asyncio.gather` that never leaves a step running behind it. gather raises as soon as
    one step is cancelled or fails and lets the others run on; here a cancel (or a failure)
    returns only once every step has ended, so a job's final status is written after the
    pull request a step was still opening (`uninterrupted`), not before. The first failure
    is raised then; results keep the steps' order."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


async def uninterrupted(step: Awaitable[T], grace_s: float = FINISH_WRITING_SECONDS) -> T:
    """Await `step` in a task of its own; a cancel while it runs waits for it to end (at most
    `grace_s` seconds) and is then raised. For the steps that write to the repository: a
    branch moved without its pull request, or a pull request the status does not name,
    would be worse than the few seconds the cancel waits."""
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), grace_s)
            if not task.done():
                task.cancel()
        raise


def jobs_key(full_name: str, number: int) -> str:
    return f"liquidbook:jobs-of:{full_name}:{number}"


def cancelled_key(job_id: str) -> str:
    return f"liquidbook:cancelled:{job_id}"


async def remember_job(
    redis: Any, request: dict[str, Any], job_id: str, status_ref: dict[str, Any]
) -> None:
    """Remember a queued command job under the issue or PR it was asked on."""
    key = jobs_key(request["repository"], request["issue_number"])
    await redis.hset(
        key, job_id, json.dumps({**status_ref, "installation": request["installation_id"]})
    )
    await redis.expire(key, JOBS_SECONDS)


async def cancelled_by(redis: Any, job_id: str | None) -> str | None:
    """Who cancelled this job, when it was cancelled."""
    if not job_id:
        return None
    value = await redis.get(cancelled_key(job_id))
    return value.decode() if isinstance(value, bytes) else value


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def cancel(services: Any, request: dict[str, Any]) -> str:
    """Cancel the jobs of this issue or PR; the answer's text."""
    redis = services.queue.redis
    entries = await redis.hgetall(jobs_key(request["repository"], request["issue_number"]))
    live: list[tuple[str, dict[str, Any], JobStatus]] = []
    for raw_id, raw_ref in entries.items():
        job_id = _text(raw_id)
        if await redis.exists(cancelled_key(job_id)):
            continue
        state = await Job(job_id, redis, _queue_name=QUEUE_NAME).status()
        if state in (JobStatus.deferred, JobStatus.queued, JobStatus.in_progress):
            try:
                live.append((job_id, json.loads(_text(raw_ref)), state))
            except ValueError:
                continue
    author = request["author"]
    dropped = await _drop_pending(services, request, author)
    if not live and not dropped:
        return (
            "ℹ️ Nothing to cancel: no job started from here is queued, running or waiting for "
            "`/confirm` (they have ended, or were cancelled already)."
        )
    for job_id, ref, state in live:
        await redis.set(cancelled_key(job_id), author, ex=CANCELLED_SECONDS)
        job = Job(job_id, redis, _queue_name=QUEUE_NAME)
        # The abort is a mark the worker reads; its wait for the job's end is not needed
        # (the job's own status comment tells), so a short wait and whatever it raises
        # (the cancelled job's result is a failure) are let go.
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError, Exception):
            await job.abort(timeout=0.2, poll_delay=0.1)
        if state != JobStatus.in_progress and services.github is not None:
            await _finish_queued(
                services,
                request,
                ref,
                f"🛑 Cancelled by @{author} before it started: nothing was done.",
            )
    parts = []
    if live:
        count = len(live)
        jobs = "1 job" if count == 1 else f"{count} jobs"
        parts.append(
            f"🛑 Cancelled {jobs} started from here; "
            f"{'its' if count == 1 else 'each'} status comment says what was finished and "
            "what was not."
        )
    if dropped:
        asked = "1 request" if dropped == 1 else f"{dropped} requests"
        parts.append(
            f"🛑 Dropped {asked} waiting for `/confirm`: nothing was spent on "
            f"{'it' if dropped == 1 else 'them'}."
        )
    return "\n\n".join(parts)


async def _drop_pending(services: Any, request: dict[str, Any], author: str) -> int:
    """Drop the requests of this issue or PR waiting for `/confirm` (`bot.pending`), ending
    each one's status comment; how many there were."""
    from bot.pending import take_all

    waiting = await take_all(services.redis, request["repository"], request["issue_number"])
    for entry in waiting.values():
        args = entry.get("args") or []
        ref = args[-1] if args and isinstance(args[-1], dict) else None
        if ref is not None and services.github is not None:
            await _finish_queued(
                services,
                request,
                {"installation": request["installation_id"], **ref},
                f"🛑 Dropped by @{author} while it waited for `/confirm`: nothing was done "
                "and nothing was spent.",
            )
    return len(waiting)


async def _finish_queued(
    services: Any, request: dict[str, Any], ref: dict[str, Any], text: str
) -> None:
    from bot.jobs.runner import status_comment

    try:
        gh = services.github.installation(request["installation_id"])
        status = status_comment(gh, request["repository"], ref)
        await status.finish(text)
    except Exception:
        log.exception("could not finish the status comment of a cancelled job")


def cancelled_text(author: str, done: list[str], remaining: list[str]) -> str:
    """The final status of a job cancelled while it ran."""
    text = f"🛑 Cancelled by @{author}; nothing more will be committed."
    text += "\n\nFinished before the cancel:\n" + (
        "\n".join(f"- {line}" for line in done) if done else "- nothing"
    )
    if remaining:
        text += "\n\nNot finished:\n" + "\n".join(f"- {line}" for line in remaining)
    return text
