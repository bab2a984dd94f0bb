"""The first answer to a command: 👀 at once, a permission check, then one status comment each.

Runs within a second of the webhook, on a queue and a worker of its own (`bot.worker`). It
asks GitHub for the author's permission (never trusting `author_association` alone), reads
the book's settings file for the role allowed to run commands (not needed when the author is
an admin, who passes any role, and no `/usage` needs the book's budget: the jobs read the
settings with the book anyway), and hands each command to its job with the status comment
that job will keep editing. `/help`, `/usage` and malformed commands are answered right here.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import logging
import time
from decimal import Decimal
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.book.config import ROLE_ORDER, ConfigError, parse_config, role_allows
from bot.commands import (
    Command,
    CommandError,
    GenerateChapter,
    Help,
    Init,
    Outline,
    Usage,
    help_text,
    parse_commands,
)
from bot.jobs.proposal import budget_for
from bot.jobs.usage import usage_report
from bot.providers.ratelimit import RateLimiter
from bot.pull_request import shorten
from bot.services import Services
from bot.status import StatusComment, create_status_comment

log = logging.getLogger(__name__)

CONFIG_PATH = ".github/liquidbook.yml"


async def react(gh: GitHub, full_name: str, comment_id: int, content: str = "eyes") -> bool:
    """React to the comment; False when it no longer exists (deleted before we got to it)."""
    owner, _, repo = full_name.partition("/")
    try:
        await gh.arequest(
            "POST",
            f"/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            json={"content": content},
        )
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return False
        raise
    return True


async def read_settings_file(gh: GitHub, full_name: str, ref: str) -> str | None:
    """The text of `.github/liquidbook.yml` on `ref`, or None when there is none."""
    owner, _, repo = full_name.partition("/")
    try:
        response = await gh.arequest(
            "GET", f"/repos/{owner}/{repo}/contents/{CONFIG_PATH}", params={"ref": ref}
        )
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return None
        raise
    data = response.json()
    if not isinstance(data, dict) or data.get("encoding") != "base64":
        return None
    return base64.b64decode(data["content"]).decode("utf-8", errors="replace")


async def repository_role(gh: GitHub, full_name: str, login: str) -> str:
    """The person's role on the repository: admin, maintain, write, triage, read or none."""
    owner, _, repo = full_name.partition("/")
    try:
        response = await gh.arequest(
            "GET", f"/repos/{owner}/{repo}/collaborators/{login}/permission"
        )
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return "none"
        raise
    return role_of(response.json())


def role_of(permission: dict[str, Any]) -> str:
    """The role from GitHub's "repository permission for a user" answer.

    `role_name` is finer (maintain, triage) but names an organisation's custom role as the
    organisation called it ("docs-writer"); `permission` (admin, write, read) is then the
    role it is based on.
    """
    role = str(permission.get("role_name") or "").lower()
    if role in ROLE_ORDER:
        return role
    return str(permission.get("permission") or "none").lower()


def command_text(command: Command) -> str:
    """The command as a person would type it (for the status comment's heading)."""
    if isinstance(command, GenerateChapter):
        return shorten(f"/generate chapter {command.selector}", 200, "the comment")
    return {Help: "/help", Init: "/init", Outline: "/outline", Usage: "/usage"}[type(command)]


def ignored_note(command: Command) -> str:
    """A line for the status comment when words after a command were left unused."""
    ignored = getattr(command, "ignored", "")
    if not ignored:
        return ""
    quoted = shorten(" ".join(ignored.split()), 200)
    return f"ℹ️ `{command_text(command)}` takes nothing after it, so “{quoted}” was ignored."


def command_payload(command: Command) -> dict[str, Any]:
    """The command's arguments as plain data for the job (arq pickles job arguments)."""
    if isinstance(command, Outline):
        return {"description": command.description}
    if isinstance(command, GenerateChapter):
        return {
            "selector": dataclasses.asdict(command.selector),
            "instructions": command.instructions,
        }
    return {}


def heading(command: Command, author: str) -> str:
    return f"`{command_text(command)}` — requested by @{author}"


def error_title(error: CommandError) -> str:
    """The heading of the answer to a line that is not a valid command."""
    return f"`{shorten(error.line.strip(), 200)}`"


JOB_FOR = {Outline: "outline_book", GenerateChapter: "generate_chapters", Init: "setup_repository"}


async def acknowledge_command(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """React, check the author, and start (or answer) each command in the comment."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    async with services.github.installation(request["installation_id"]) as gh:
        try:
            return await _acknowledge(services, gh, request)
        except Exception:
            # Before any command was looked at (reading the settings file or the author's
            # role failed): one comment says so, once, instead of a lone 👀.
            log.exception("acknowledging comment %s failed", request["comment_id"])
            once = f"liquidbook:ack-failed:{request['repository']}:{request['comment_id']}"
            with contextlib.suppress(Exception):
                if await services.redis.set(once, "1", nx=True, ex=7 * 24 * 3600):
                    owner, _, repo = request["repository"].partition("/")
                    await gh.arequest(
                        "POST",
                        f"/repos/{owner}/{repo}/issues/{request['issue_number']}/comments",
                        json={
                            "body": f"@{request['author']} something went wrong on our side "
                            "while reading your command, and nothing was done. Comment it "
                            "again to retry."
                        },
                    )
            raise


async def _acknowledge(services: Services, gh: GitHub, request: dict[str, Any]) -> str:
    full_name, issue, author = request["repository"], request["issue_number"], request["author"]
    if not await react(gh, full_name, request["comment_id"]):
        return "comment deleted"

    items = parse_commands(request["body"])
    role = await repository_role(gh, full_name, author)
    config_problem: ConfigError | None = None
    min_role = "write"
    book_budget: Decimal | None = None
    # An admin passes any configured role; the settings are then read only for `/usage`
    # (the book's budget). Command jobs read them again with the book, from the tarball.
    if role != ROLE_ORDER[-1] or any(isinstance(item, Usage) for item in items):
        try:
            config = parse_config(
                await read_settings_file(gh, full_name, request["default_branch"])
            )
            min_role = config.permissions.min_role
            book_budget = budget_for(config, services.settings)
        except ConfigError as exc:
            config_problem = exc
    if not role_allows(role, min_role):
        owner, _, repo = full_name.partition("/")
        await gh.arequest(
            "POST",
            f"/repos/{owner}/{repo}/issues/{issue}/comments",
            json={
                "body": f"Sorry @{author}, Liquid Book commands here need the **{min_role}** role "
                f"on this repository (you have **{role}**)."
            },
        )
        return f"refused: {author} is {role}, needs {min_role}"

    started = []
    limiter = RateLimiter(services.redis, window_s=3600)
    limit = services.settings.liquidbook_commands_per_hour
    for index, item in enumerate(items):
        # A re-run of this job (its worker died) finds what the first run already posted.
        marker = f"liquidbook:status-of:{full_name}:{request['comment_id']}:{index}"
        try:
            job = await _start(
                services,
                gh,
                request,
                index,
                item,
                marker,
                limiter,
                limit,
                config_problem,
                book_budget,
            )
        except Exception:
            # One command failing (GitHub down for a moment, the database away for /usage)
            # must not silently drop the commands after it in the same comment.
            log.exception("command %d of comment %s failed", index, request["comment_id"])
            with contextlib.suppress(Exception):
                await _report_failure(services, gh, request, item, marker)
            continue
        if job:
            started.append(job)
    return "started " + ", ".join(started) if started else "answered"


FAILED_TO_START = (
    "❌ Something went wrong on our side before this command could start, and nothing was "
    "done. Comment it again to retry."
)


async def _report_failure(
    services: Services,
    gh: GitHub,
    request: dict[str, Any],
    item: Command | CommandError,
    marker: str,
) -> None:
    """Say so where the author looks: the command's status comment if it has one, else a
    new one."""
    full_name, issue = request["repository"], request["issue_number"]
    title = (
        error_title(item) if isinstance(item, CommandError) else heading(item, request["author"])
    )
    known = await services.redis.get(marker)
    if known is not None:
        await StatusComment(gh, full_name, int(known), title).finish(FAILED_TO_START)
    else:
        await create_status_comment(gh, full_name, issue, title, FAILED_TO_START)


async def _start(
    services: Services,
    gh: GitHub,
    request: dict[str, Any],
    index: int,
    item: Command | CommandError,
    marker: str,
    limiter: RateLimiter,
    limit: int,
    config_problem: ConfigError | None,
    book_budget: Decimal | None,
) -> str | None:
    """Answer or queue one command of the comment; the job's name when one was queued."""
    full_name, issue, author = request["repository"], request["issue_number"], request["author"]
    known = await services.redis.get(marker)

    footer = ignored_note(item) if not isinstance(item, CommandError) else ""

    async def answer(title: str, text: str, marker: str = marker) -> int:
        status = await create_status_comment(gh, full_name, issue, title, text, footer)
        await services.redis.set(marker, str(status.comment_id), ex=7 * 24 * 3600)
        return status.comment_id

    if isinstance(item, CommandError):
        if known is None:
            hint = f"\n\nDid you mean `{shorten(item.suggestion, 300)}`?" if item.suggestion else ""
            await answer(
                error_title(item),
                f"⚠️ {shorten(item.message, 2000)}{hint}\n\nComment `/help` for every command.",
            )
        return None
    title = heading(item, author)
    if isinstance(item, Help | Usage) or (
        config_problem is not None and not isinstance(item, Init)
    ):
        if known is not None:
            return None
        if isinstance(item, Help):
            await answer(title, "✅ What I can do:\n\n" + help_text())
        elif isinstance(item, Usage):
            report = await usage_report(
                services, request["installation_id"], full_name, book_budget
            )
            await answer(title, "✅ " + report)
        elif config_problem is not None:
            await answer(title, "❌ " + config_problem.markdown())
        return None
    if known is not None:
        status_id = int(known)
    else:
        if isinstance(item, Outline | GenerateChapter) and limit > 0:
            wait = await limiter.try_acquire(f"commands:{request['installation_id']}", limit)
            if wait > 0:
                minutes = max(1, round(wait / 60))
                await answer(
                    title,
                    f"❌ This installation has used its {limit} writing commands of the last "
                    f"hour. Try again in about {minutes} minute{'s' if minutes != 1 else ''}.",
                )
                return None
        status_id = await answer(title, "⏳ Queued: reading the book as soon as a worker is free.")
    job = JOB_FOR[type(item)]
    status_ref = {"comment_id": status_id, "heading": title, "footer": footer, "at": time.time()}
    if isinstance(item, Init):
        args: tuple[Any, ...] = (request["installation_id"], full_name, status_ref)
    else:
        args = (request, command_payload(item), status_ref)
    await services.queue.enqueue(
        job, *args, job_id=f"cmd:{full_name}:{request['comment_id']}:{index}"
    )
    return job
