"""The first answer to a comment's commands: 👀 at once, a permission check, then the answers.

Runs within a second of the webhook, on a queue and a worker of its own (`bot.worker`). It
parses the comment (the webhook handler only looked for a line that may be a command), asks
GitHub for the author's permission (never trusting `author_association` alone), reads the
book's settings file for the role allowed to run commands (not needed when the author is an
admin, who passes any role, and no `/usage` needs the book's budget: the jobs read the
settings with the book anyway), and hands each command that starts a job to that job with a
status comment of its own, which the job keeps editing. Everything answered right here
(`/help`, `/usage`, malformed lines, typo suggestions, settings problems, the hourly limit)
shares ONE comment, so a comment of a hundred lines gets one answer, not a hundred.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.book.config import ROLE_ORDER, ConfigError, parse_config, role_allows
from bot.commands import (
    Cancel,
    Command,
    CommandError,
    Confirm,
    GenerateChapter,
    GenerateFigure,
    GenerateQuiz,
    GenerateVideo,
    Help,
    Init,
    Outline,
    Publish,
    Revise,
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
    if isinstance(command, GenerateQuiz):
        return shorten(f"/generate quiz chapter {command.selector}", 200, "the comment")
    if isinstance(command, GenerateFigure):
        return f"/generate figure chapter {command.selector}"
    if isinstance(command, GenerateVideo):
        return f"/generate video chapter {command.selector}"
    if isinstance(command, Revise):
        chapter = f" chapter {command.chapter}" if command.chapter else ""
        return f"/revise{chapter}"
    return {
        Help: "/help",
        Init: "/init",
        Outline: "/outline",
        Usage: "/usage",
        Publish: "/publish",
        Confirm: "/confirm",
        Cancel: "/cancel",
    }[type(command)]


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
    if isinstance(command, GenerateChapter | GenerateQuiz):
        return {
            "selector": dataclasses.asdict(command.selector),
            "instructions": command.instructions,
        }
    if isinstance(command, GenerateFigure | GenerateVideo):
        return {**dataclasses.asdict(command), "selector": dataclasses.asdict(command.selector)}
    if isinstance(command, Revise):
        chapter = dataclasses.asdict(command.chapter) if command.chapter else None
        return {"instructions": command.instructions, "chapter": chapter}
    return {}


def no_video_provider(services: Services) -> str:
    """One line when this server cannot make clips (no video model, or no key for its
    provider); "" when it can."""
    from bot.providers import ProviderError, ProviderSettings

    model = services.settings.liquidbook_video_model
    if model:
        try:
            provider = model.partition(":")[0]
            endpoint = ProviderSettings().endpoint(provider, model)
            if endpoint.kind == "runway" and (endpoint.api_key or not endpoint.key_required):
                return ""
        except ProviderError:
            pass
    return (
        "❌ Clips need a video provider, and this server has none configured "
        "(`LIQUIDBOOK_VIDEO_MODEL`, such as `runway:gen4_turbo`, with `RUNWAY_API_KEY`); "
        "nothing was done."
    )


def heading(command: Command, author: str) -> str:
    return f"`{command_text(command)}` — requested by @{author}"


def error_title(error: CommandError) -> str:
    """The heading of the answer to a line that is not a valid command."""
    return f"`{shorten(error.line.strip(), 120)}`"


JOB_FOR = {
    Outline: "outline_book",
    GenerateChapter: "generate_chapters",
    Init: "setup_repository",
    Revise: "revise_pull_request",
    Publish: "publish_book",
    GenerateQuiz: "generate_quizzes",
    GenerateFigure: "generate_figure",
    GenerateVideo: "generate_video",
}
# Commands counted by the hourly limit.
WRITING = Outline | GenerateChapter | Revise | GenerateQuiz | GenerateFigure | GenerateVideo


def expected_answers(items: list[Command | CommandError]) -> int:
    """How many comments answer these commands when each may run: a status comment per job,
    and one for everything answered at once (a refusal or a settings problem turns a job
    into a section of that one)."""
    jobs = sum(isinstance(item, WRITING | Init | Publish) for item in items)
    return jobs + (1 if jobs < len(items) else 0)


async def acknowledge_command(ctx: dict[str, Any], request: dict[str, Any]) -> str:
    """React, check the author, and start (or answer) each command in the comment."""
    services: Services = ctx["services"]
    if services.github is None:
        return "skipped: app not configured"
    # One httpx client for the job's few calls (githubkit makes one per call otherwise).
    async with services.github.installation(request["installation_id"]) as gh:
        return await _acknowledge_with(services, gh, request)


async def _acknowledge_with(services: Services, gh: GitHub, request: dict[str, Any]) -> str:
    try:
        outcome = await _acknowledge(services, gh, request)
        await dashboard_after_ack(services, request, outcome)
        return outcome
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


async def dashboard_after_ack(services: Services, request: dict[str, Any], outcome: str) -> None:
    """A ticked dashboard box counts the jobs it started (unticked now if none); the first
    command on a repository without a dashboard opens one (when it holds a book)."""
    from bot.jobs.dashboard import box_started, issue_key, schedule_refresh

    full_name = request["repository"]
    box = request.get("dashboard_box")
    if isinstance(box, str):
        jobs = len(outcome[len("started ") :].split(", ")) if outcome.startswith("started ") else 0
        await box_started(services.redis, full_name, box, jobs)
    if isinstance(box, str) or not await services.redis.exists(issue_key(full_name)):
        await schedule_refresh(
            services, request["installation_id"], full_name, request.get("default_branch") or "main"
        )


@dataclass(frozen=True)
class Answer:
    """What one line of the comment gets at once (help, a usage report, an error, a refusal):
    a section of the comment's one answer. `text` starts with ✅, ⚠️ or ❌."""

    title: str  # the heading when it is the comment's only answer
    section: str  # the heading of its section among several
    text: str
    footer: str = ""
    # A malformed line: the answer ends by pointing at `/help` (once, and not when the
    # comment's answer already holds the help).
    points_to_help: bool = False
    is_help: bool = False


FINAL_MARKS = ("❌", "⚠️", "✅")  # worst first: the one answer's first line shows the worst
SEE_HELP = "Comment `/help` for every command."


def answer_body(answers: list[Answer], author: str) -> tuple[str, str, str]:
    """The heading, text and footer of the one comment that holds every immediate answer of
    a comment. One answer keeps its own heading; several are sections under a first line
    that says how many could not run (its mark is the worst of theirs, so a reader and
    `bot.status` see at once whether all went well)."""
    see_help = any(a.points_to_help for a in answers) and not any(a.is_help for a in answers)
    if len(answers) == 1:
        (only,) = answers
        return only.title, only.text + (f"\n\n{SEE_HELP}" if see_help else ""), only.footer
    marks = [next((m for m in FINAL_MARKS if a.text.startswith(m)), "✅") for a in answers]
    worst = min(marks, key=FINAL_MARKS.index)
    failed = sum(mark != "✅" for mark in marks)
    if failed:
        first = f"{worst} {failed} of {len(answers)} lines of the comment could not run; "
        first += "each line's answer is below."
    else:
        first = f"✅ The answers to the {len(answers)} commands of the comment are below."
    sections = [
        f"#### {a.section}\n\n{a.text}" + (f"\n\n{a.footer}" if a.footer else "") for a in answers
    ]
    heading = f"{len(answers)} answers to the comment of @{author}"
    return heading, "\n\n".join([first, *sections, *([SEE_HELP] if see_help else [])]), ""


async def _acknowledge(services: Services, gh: GitHub, request: dict[str, Any]) -> str:
    full_name, issue, author = request["repository"], request["issue_number"], request["author"]
    # The webhook handler only saw a line that may be a command; the grammar runs here, off
    # the server's event loop, and a comment with no command gets no call at all.
    items = parse_commands(request["body"])
    if not items:
        return "no command"
    synthetic = request.get("dashboard_box") or request.get("no_reaction")  # a ticked box
    if not synthetic and not await react(gh, full_name, request["comment_id"]):
        return "comment deleted"

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

    # A re-run of this job (its worker died) finds the one answer the first run posted.
    answered = f"liquidbook:answer-of:{full_name}:{request['comment_id']}"
    already_answered = await services.redis.get(answered) is not None
    started: list[str] = []
    answers: list[Answer] = []
    limiter = RateLimiter(services.redis, window_s=3600)
    limit = services.settings.liquidbook_commands_per_hour
    for index, item in enumerate(items):
        # A re-run of this job finds the status comment the first run posted for a job.
        marker = f"liquidbook:status-of:{full_name}:{request['comment_id']}:{index}"
        try:
            outcome = await _start(
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
                skip_answers=already_answered,
            )
        except Exception:
            # One command failing (GitHub down for a moment, the database away for /usage)
            # must not silently drop the commands after it in the same comment.
            log.exception("command %d of comment %s failed", index, request["comment_id"])
            outcome = await _failure(services, gh, request, item, marker)
        if isinstance(outcome, str):
            started.append(outcome)
        elif outcome is not None:
            footer = ignored_note(item) if not isinstance(item, CommandError) else ""
            answers.append(dataclasses.replace(outcome, footer=footer))
    if answers and not already_answered:
        title, text, footer = answer_body(answers, author)
        try:
            status = await create_status_comment(gh, full_name, issue, title, text, footer)
            await services.redis.set(answered, str(status.comment_id), ex=7 * 24 * 3600)
        except Exception:
            # The jobs above are started and answer in their own comments: the failure is
            # logged, not reported as "nothing was done".
            log.exception("the answer to comment %s could not be posted", request["comment_id"])
    return "started " + ", ".join(started) if started else "answered"


FAILED_TO_START = (
    "❌ Something went wrong on our side before this command could start, and nothing was "
    "done. Comment it again to retry."
)


async def _failure(
    services: Services,
    gh: GitHub,
    request: dict[str, Any],
    item: Command | CommandError,
    marker: str,
) -> Answer | None:
    """Say so where the author looks: the status comment of a job that has one (finished
    with the failure), else a section of the comment's one answer."""
    if not isinstance(item, CommandError):
        with contextlib.suppress(Exception):
            known = await services.redis.get(marker)
            if known is not None:
                title = heading(item, request["author"])
                status = StatusComment(gh, request["repository"], int(known), title)
                await status.finish(FAILED_TO_START)
                return None
    return _answer(item, request["author"], FAILED_TO_START)


def _answer(item: Command | CommandError, author: str, text: str) -> Answer:
    if isinstance(item, CommandError):
        return Answer(error_title(item), error_title(item), text)
    return Answer(heading(item, author), f"`{command_text(item)}`", text)


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
    *,
    skip_answers: bool = False,
) -> Answer | str | None:
    """Queue one command of the comment (the job's name), or its immediate answer, or None
    when a re-run finds that the comment's answer is already posted."""
    full_name, issue, author = request["repository"], request["issue_number"], request["author"]
    immediate = isinstance(item, CommandError | Help | Usage | Confirm | Cancel) or (
        config_problem is not None and not isinstance(item, Init)
    )
    known = None if immediate else await services.redis.get(marker)
    if skip_answers and known is None:
        # The first run went through every line before posting the answer: a command it
        # started has its marker, so this one was answered (or refused) there.
        return None
    if isinstance(item, CommandError):
        hint = f"\n\nDid you mean `{shorten(item.suggestion, 300)}`?" if item.suggestion else ""
        text = f"⚠️ {shorten(item.message, 2000)}{hint}"
        return dataclasses.replace(_answer(item, author, text), points_to_help=True)
    if isinstance(item, Help):
        answer = _answer(item, author, "✅ What I can do:\n\n" + help_text())
        return dataclasses.replace(answer, is_help=True)
    if isinstance(item, Usage):
        report = await usage_report(services, request["installation_id"], full_name, book_budget)
        return _answer(item, author, "✅ " + report)
    if isinstance(item, Confirm):
        from bot.pending import confirm

        return _answer(item, author, await confirm(services, request))
    if isinstance(item, Cancel):
        from bot.jobs.cancel import cancel

        return _answer(item, author, await cancel(services, request))
    if config_problem is not None and not isinstance(item, Init):
        return _answer(item, author, "❌ " + config_problem.markdown())
    if isinstance(item, GenerateVideo) and (missing := no_video_provider(services)):
        return _answer(item, author, missing)
    footer = ignored_note(item)
    title = heading(item, author)
    if known is not None:
        status_id = int(known)
    else:
        if isinstance(item, WRITING) and limit > 0:
            wait = await limiter.try_acquire(f"commands:{request['installation_id']}", limit)
            if wait > 0:
                minutes = max(1, round(wait / 60))
                return _answer(
                    item,
                    author,
                    f"❌ This installation has used its {limit} writing commands of the last "
                    f"hour. Try again in about {minutes} minute{'s' if minutes != 1 else ''}.",
                )
        queued = "⏳ Queued: reading the book as soon as a worker is free."
        status = await create_status_comment(gh, full_name, issue, title, queued, footer)
        status_id = status.comment_id
        await services.redis.set(marker, str(status_id), ex=7 * 24 * 3600)
    job = JOB_FOR[type(item)]
    status_ref = {"comment_id": status_id, "heading": title, "footer": footer, "at": time.time()}
    if isinstance(item, Init):
        args: tuple[Any, ...] = (request["installation_id"], full_name, status_ref)
    else:
        args = (request, command_payload(item), status_ref)
    job_id = f"cmd:{full_name}:{request['comment_id']}:{index}"
    await services.queue.enqueue(job, *args, job_id=job_id)
    if not isinstance(item, Init):
        from bot.jobs.cancel import remember_job

        await remember_job(services.redis, request, job_id, status_ref)
    return job
