"""The first answer to `/suggest …` or `/revise …` on lines of a pull request.

On the acknowledgement queue, like `bot.jobs.acknowledge` for issue comments: 👀 on the line
comment, the commenter's role against the book's `permissions.min_role`, the hourly limit,
then one reply in the thread that the job keeps editing. `/suggest` answers with a suggested
change (`bot.jobs.suggest`); `/revise` does too unless the book's `revise.mode` is `commit`,
when the PR's revision job (`bot.jobs.revise`) commits the change to the branch and answers
in the same reply.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.book.config import ConfigError, parse_config, role_allows
from bot.book.review_outcome import holds_revise
from bot.jobs.acknowledge import read_settings_file, repository_role
from bot.jobs.cancel import remember_job
from bot.jobs.review_commands import read_review
from bot.providers.ratelimit import RateLimiter
from bot.pull_request import shorten
from bot.queue import ACK_QUEUE_NAME
from bot.services import Services
from bot.thread_reply import post_thread_reply
from handlers.comments import is_bot
from handlers.reviews import review_job_request

log = logging.getLogger(__name__)


async def react_to_line_comment(gh: GitHub, full_name: str, comment_id: int) -> bool:
    """👀 on a review comment; False when it no longer exists."""
    owner, _, repo = full_name.partition("/")
    try:
        await gh.arequest(
            "POST",
            f"/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions",
            json={"content": "eyes"},
        )
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return False
        raise
    return True


def instructions_of(body: str) -> str:
    """What follows the command word: the rest of its line and the lines below."""
    text = body.lstrip()
    return text.split(None, 1)[1].strip() if len(text.split(None, 1)) > 1 else ""


def span_of(request: dict[str, Any]) -> str:
    line = request.get("line") or request.get("original_line")
    start = request.get("start_line") or request.get("original_start_line") or line
    return f"line {line}" if start == line else f"lines {start}–{line}"


async def _hand_to_review(services: Services, gh: GitHub, request: dict[str, Any]) -> bool:
    """True when the comment's review holds `/revise`: then the review's one job (queued here
    if its own event has not queued it yet, keyed by the review id) answers for every line
    comment of it, this one included."""
    full_name, pull, review_id = (
        request["repository"],
        request["issue_number"],
        request["review_id"],
    )
    try:
        review = await read_review(gh, full_name, pull, review_id)
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return False
        raise
    if not holds_revise(review.get("body")) or is_bot(review.get("user")):
        return False
    owner = {"full_name": full_name, "default_branch": request["default_branch"]}
    await services.queue.enqueue(
        "acknowledge_review",
        review_job_request(
            request["installation_id"],
            owner,
            pull,
            review_id,
            str((review.get("user") or {}).get("login")),
            str(review["body"]),
            str(review.get("html_url") or ""),
        ),
        job_id=f"ack-review:{full_name}:{review_id}",
        queue_name=ACK_QUEUE_NAME,
    )
    return True


async def acknowledge_line_command(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """React, check the commenter, reply in the thread, and queue the job."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    gh = services.github.installation(request["installation_id"])
    full_name, author = request["repository"], request["author"]
    pull, comment_id = request["issue_number"], request["comment_id"]
    marker = f"liquidbook:status-of:{full_name}:{comment_id}:line"
    known = await services.redis.get(marker)
    if known is None and request.get("review_id") and await _hand_to_review(services, gh, request):
        return "part of a /revise review"
    if known is None and not await react_to_line_comment(gh, full_name, comment_id):
        return "comment deleted"
    command = request["command"]
    heading = (
        f"`/{command}` on {span_of(request)} of `{request.get('path')}` — requested by @{author}"
    )

    async def answer(text: str) -> str:
        reply = await post_thread_reply(gh, full_name, pull, comment_id, heading, text)
        await services.redis.set(marker, str(reply.comment_id), ex=7 * 24 * 3600)
        return text[:40]

    if known is None:
        role = await repository_role(gh, full_name, author)
        try:
            config = parse_config(
                await read_settings_file(gh, full_name, request["default_branch"])
            )
        except ConfigError as exc:
            return await answer("❌ " + exc.markdown())
        if not role_allows(role, config.permissions.min_role):
            return await answer(
                f"❌ Liquid Book commands here need the **{config.permissions.min_role}** role "
                f"on this repository (you have **{role}**)."
            )
        instructions = instructions_of(request["body"])
        if not instructions:
            return await answer(
                f"⚠️ `/{command}` needs instructions, e.g. `/{command} use the active voice`."
            )
        limit = services.settings.liquidbook_commands_per_hour
        if limit > 0:
            limiter = RateLimiter(services.redis, window_s=3600)
            wait = await limiter.try_acquire(f"commands:{request['installation_id']}", limit)
            if wait > 0:
                minutes = max(1, round(wait / 60))
                return await answer(
                    f"❌ This installation has used its {limit} writing commands of the last "
                    f"hour. Try again in about {minutes} minute{'s' if minutes != 1 else ''}."
                )
        mode: str = "suggest" if command == "suggest" else config.revise.mode
        reply = await post_thread_reply(
            gh, full_name, pull, comment_id, heading, "⏳ Queued: reading the pull request…"
        )
        status_id = reply.comment_id
        await services.redis.set(marker, f"{status_id}:{mode}", ex=7 * 24 * 3600)
    else:
        status_id_text, _, mode = str(
            known.decode() if isinstance(known, bytes) else known
        ).partition(":")
        if not mode:
            return "answered"
        status_id = int(status_id_text)
        instructions = instructions_of(request["body"])
    status_ref = {"comment_id": status_id, "heading": heading, "at": time.time(), "thread": True}
    if mode == "commit":
        where = f"On {span_of(request)} of `{request.get('path')}`"
        if request.get("line") is None:
            where += " (as they were when the comment was written; they have changed since)"
        job, command_args = (
            "revise_pull_request",
            {
                "instructions": f"{where}: {shorten(instructions, 8000)}",
                "chapter": None,
            },
        )
    else:
        job, command_args = "suggest_lines", {"instructions": shorten(instructions, 8000)}
    job_id = f"line:{full_name}:{comment_id}"
    await services.queue.enqueue(job, request, command_args, status_ref, job_id=job_id)
    # `/cancel` in the PR's conversation finds it.
    await remember_job(services.redis, request, job_id, status_ref)
    return f"started {job}"
