"""The first answer to a submitted review whose body holds `/revise`: one job per review.

GitHub delivers a submitted review twice over: `pull_request_review` submitted, and a
`pull_request_review_comment` created for each of its line comments, in no promised order.
Whichever arrives first starts this acknowledgement (a line command in such a review hands
over to it, `bot.jobs.line_commands`); it is keyed by the review id on the queue and by a
marker in Redis, so the review is revised once and no line twice. It checks the reviewer's
role and the hourly limit as every command does, reads the review's line comments (one
call), posts one status comment in the PR's conversation, and queues the PR's revision job
(`bot.jobs.revise`) with all the comments as one set of instructions: one commit, one reply.
"""

from __future__ import annotations

import time
from typing import Any

from githubkit import GitHub

from bot.book.config import ConfigError, parse_config, role_allows
from bot.book.review_outcome import LineComment, review_body_text, review_instructions
from bot.jobs.acknowledge import read_settings_file, repository_role
from bot.jobs.cancel import remember_job
from bot.providers.ratelimit import RateLimiter
from bot.pull_request import shorten
from bot.services import Services
from bot.status import create_status_comment

MAX_REVIEW_COMMENTS = 100  # one page of GitHub's list: a review longer than that is rare


async def read_review(gh: GitHub, full_name: str, pull: int, review_id: int) -> dict[str, Any]:
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest("GET", f"/repos/{owner}/{repo}/pulls/{pull}/reviews/{review_id}")
    return dict(response.json())


async def read_review_comments(
    gh: GitHub, full_name: str, pull: int, review_id: int
) -> list[dict[str, Any]]:
    """The review's line comments, oldest first (one call)."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "GET",
        f"/repos/{owner}/{repo}/pulls/{pull}/reviews/{review_id}/comments",
        params={"per_page": MAX_REVIEW_COMMENTS},
    )
    return [c for c in response.json() if isinstance(c, dict)]


async def acknowledge_review(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """Check the reviewer, post the status comment, and queue the revision of the review."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    gh = services.github.installation(request["installation_id"])
    full_name, author = request["repository"], request["author"]
    pull, review_id = request["issue_number"], request["review_id"]
    marker = f"liquidbook:status-of:{full_name}:review:{review_id}"
    heading = f"`/revise` review by @{author}"
    known = await services.redis.get(marker)
    if known is not None:
        status_text, _, started = (known.decode() if isinstance(known, bytes) else known).partition(
            ":"
        )
        if started != "queued":
            return "answered"
        # A re-run after the status comment was posted: queue again (the job id dedups).
        status_id = int(status_text)
        command = await _command(gh, request)
    else:

        async def answer(text: str) -> str:
            posted = await create_status_comment(gh, full_name, pull, heading, text)
            await services.redis.set(marker, f"{posted.comment_id}:", ex=7 * 24 * 3600)
            return text[:40]

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
        command = await _command(gh, request)
        if not command["comments"] and not review_body_text(request["body"]):
            return await answer(
                "⚠️ This review has no line comments and no instructions after `/revise`: "
                "write what to change, e.g. `/revise make it shorter`, or comment on lines."
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
        count = len(command["comments"])
        status = await create_status_comment(
            gh,
            full_name,
            pull,
            heading,
            f"⏳ Queued: revising with the review's {count} line comment"
            f"{'s' if count != 1 else ''}…",
        )
        status_id = status.comment_id
        await services.redis.set(marker, f"{status_id}:queued", ex=7 * 24 * 3600)
    status_ref = {"comment_id": status_id, "heading": heading, "at": time.time()}
    job_id = f"review:{full_name}:{review_id}"
    await services.queue.enqueue(
        "revise_pull_request",
        {**request, "comment_id": review_id},
        command,
        status_ref,
        job_id=job_id,
    )
    # `/cancel` in the PR's conversation finds it.
    await remember_job(services.redis, request, job_id, status_ref)
    await services.redis.set(marker, f"{status_id}:started", ex=7 * 24 * 3600)
    return "started revise_pull_request"


async def _command(gh: GitHub, request: dict[str, Any]) -> dict[str, Any]:
    """The revision's arguments: the review's comments and all of it as instructions."""
    raw = await read_review_comments(
        gh, request["repository"], request["issue_number"], request["review_id"]
    )
    # Replies in older threads are not part of what this review asks.
    raw = [c for c in raw if c.get("in_reply_to_id") is None]
    comments = [c for c in map(LineComment.from_json, raw) if c is not None]
    instructions = review_instructions(
        request["author"], review_body_text(request["body"]), comments
    )
    kept = [
        {k: c.get(k) for k in ("path", "line", "start_line", "side", "body", "diff_hunk")}
        for c in raw
    ]
    return {"instructions": shorten(instructions, 16000), "chapter": None, "comments": kept}
