"""The frame every command job runs in: its GitHub client, its status comment, its errors.

Errors an author can act on (a bad selector, an invalid settings file, a model refusing, the
budget) end the job with that sentence in the status comment. Anything else is our fault:
the comment says so without a stack trace, and the exception goes to the logs and metrics.

arq runs a job again when its worker dies. Each try first records the model calls an earlier
try left in flight (`bot.inflight`); a job whose worker died `MAX_TRIES` times is not run
again: its next start only says so in the status comment and records what was cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.book.config import ConfigError
from bot.book.model import BookError
from bot.book.outline import OutlineError
from bot.book.paths import UnsafePathError
from bot.book.tarball import TarballError
from bot.inflight import CURRENT, InFlightCalls
from bot.jobs.cancel import OPENED, cancelled_by, cancelled_text
from bot.metrics import record_outcome
from bot.pending import AwaitingConfirmation
from bot.providers import ProviderError
from bot.pull_request import BranchEdited, WriteRefused
from bot.services import Services
from bot.status import StatusComment, edited_at
from bot.thread_reply import ThreadReply

log = logging.getLogger(__name__)

JobBody = Callable[[Services, Any, StatusComment], Awaitable[str]]


def gave_up(tries: int) -> str:
    """The final status of a job whose every try was cut off."""
    return (
        f"❌ Gave up after {tries} tries; nothing committed by the last one. Each try was cut "
        "off before it finished (the worker running it stopped or was killed), so it will not "
        "run again; a pull request an earlier try opened stays as it is. Comment the command "
        "again to retry."
    )


def status_comment(gh: Any, full_name: str, status_ref: dict[str, Any]) -> StatusComment:
    """The handle on the status comment the acknowledgement posted for this command (a reply
    in a review thread when `status_ref["thread"]` says so)."""
    kind = ThreadReply if status_ref.get("thread") else StatusComment
    status = kind(
        gh,
        full_name,
        status_ref["comment_id"],
        status_ref["heading"],
        footer=status_ref.get("footer", ""),
        issue_number=status_ref.get("issue_number"),
    )
    status._last_edit = edited_at(status_ref.get("at"))
    return status


async def command_job(
    ctx: dict[str, Any],
    request: dict[str, Any],
    status_ref: dict[str, Any],
    name: str,
    body: JobBody,
) -> str:
    """Run `body(services, gh, status)`, turning failures into a final status message."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    gh = services.github.installation(request["installation_id"])
    status = status_comment(
        gh, request["repository"], {"issue_number": request.get("issue_number"), **status_ref}
    )
    calls = InFlightCalls(services.redis, str(ctx.get("job_id") or name))
    await _settle(services, calls)
    # A job `/cancel` stopped never runs again, whatever arq thinks of its end (a worker
    # that stopped before it read the abort queues the cancelled job once more): its
    # status comment already says it was cancelled and what it finished.
    if await cancelled_by(services.redis, ctx.get("job_id")) is not None:
        log.info("%s: job %s was cancelled; not run again", name, ctx.get("job_id"))
        record_outcome(name, "cancelled")
        return "cancelled"
    # arq allows one start more than the tries (`bot.worker`): it only reports the giving up.
    tries = services.settings.liquidbook_job_tries
    if ctx.get("job_try", 1) > tries:
        log.error("%s gave up after %d tries (job %s)", name, tries, ctx.get("job_id"))
        record_outcome(name, "gave up")
        await status.finish(gave_up(tries))
        return "gave up"
    running = CURRENT.set(calls)
    opened = OPENED.set([])
    try:
        outcome = await body(services, gh, status)
    except AwaitingConfirmation:
        # `bot.pending.ask_first` kept the job for `/confirm` and said so.
        outcome = "awaiting confirmation"
    except ConfigError as exc:
        await status.finish("❌ " + exc.markdown())
        outcome = "config error"
    except (BookError, OutlineError, TarballError) as exc:
        await status.finish(f"❌ {exc}")
        outcome = "book error"
    except ProviderError as exc:
        await status.finish(f"❌ {exc.user_message}\n\nNothing was committed.")
        outcome = "model error"
    except BranchEdited as exc:
        await status.finish(exc.markdown())
        outcome = "branch edited"
    except (UnsafePathError, WriteRefused) as exc:
        await status.finish(f"❌ Refused to write: {exc}. Nothing was committed.")
        outcome = "refused"
    except asyncio.CancelledError:
        if await _cancelled(services, ctx, calls, status, name):
            raise
        # arq cancels a job at its time limit and when the worker shuts down (it then queues
        # the job again). Say so instead of leaving "Writing…" up forever, then let it go.
        record_outcome(name, "interrupted")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                status.finish(
                    "⚠️ The job was interrupted before it finished (its time limit, or a worker "
                    "restart). If a worker takes it up again, this comment will be updated; "
                    "otherwise comment the command again. Pull requests already opened stay."
                    + (
                        "\n\nFinished before the interruption:\n"
                        + "\n".join(f"- {line}" for line in status.done)
                        if status.done
                        else ""
                    )
                ),
                timeout=10,
            )
        raise
    except Exception:
        log.exception(
            "%s failed for %s (job %s)", name, request.get("repository"), ctx.get("job_id")
        )
        record_outcome(name, "crashed")
        await status.finish(
            "❌ Something went wrong on our side, and nothing was committed. The operators "
            f"have the details (job `{ctx.get('job_id', '?')}`); comment the command again to retry."
        )
        raise
    finally:
        CURRENT.reset(running)
        OPENED.reset(opened)
        # The Book Dashboard: untick the box that started this job, refresh (coalesced).
        from bot.jobs.dashboard import after_job

        await after_job(services, request)
    record_outcome(name, outcome)
    return outcome


async def _cancelled(
    services: Services, ctx: dict[str, Any], calls: InFlightCalls, status: StatusComment, name: str
) -> bool:
    """A job stopped by `/cancel` (`bot.jobs.cancel`): record the model calls in flight,
    end the status comment with what was finished and what was not; False otherwise."""
    try:
        author = await asyncio.shield(cancelled_by(services.redis, ctx.get("job_id")))
    except BaseException:
        return False
    if author is None:
        return False
    record_outcome(name, "cancelled")
    with contextlib.suppress(BaseException):
        await asyncio.shield(_settle(services, calls))
    remaining = status.remaining() if status.remaining else []
    # A pull request written while the cancel waited (`uninterrupted`) and not yet in the
    # job's own account of what it finished is named all the same.
    done = [*status.done]
    for url in OPENED.get() or []:
        if not any(url in line for line in done):
            done.append(f"Pull request opened or updated: {url}")
    with contextlib.suppress(BaseException):
        await asyncio.shield(
            asyncio.wait_for(status.finish(cancelled_text(author, done, remaining)), 10)
        )
    return True


async def _settle(services: Services, calls: InFlightCalls) -> None:
    """Record the model calls an earlier try of this job left in flight; accounting that
    fails is logged and never stops the job."""
    try:
        leftovers = await calls.settle(services.model_client)
    except Exception:
        log.exception("job %s: could not record the calls an earlier try cut off", calls.job_id)
        return
    if leftovers:
        log.warning(
            "job %s: recorded %d model call(s) an earlier try cut off", calls.job_id, leftovers
        )
