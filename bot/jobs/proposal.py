"""What every book-writing job ends with: check the changed book, commit it, open the PR.

The files a job writes pass `safe_book_path` first (no model answer or comment text can reach
`.github/workflows/` or leave the repository), the book is built with the real `jupyter-book`
on a copy with the change applied, and the PR says what the build found.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.book.chapters import Chapter
from bot.book.check import BuildReport, check_book, plural
from bot.book.config import BookConfig
from bot.book.model import BookError
from bot.book.paths import UnsafePathError, safe_book_path
from bot.book.prompts import Prompt
from bot.book_reader import BookCheckout
from bot.jobs.cancel import note_opened, together, uninterrupted
from bot.jobs.check import report_own_check
from bot.jobs.unchanged import ProposedFiles, open_pull_head, same_as_checkout
from bot.mentions import neutralise_mentions
from bot.providers import Message, TextRequest, TextResult
from bot.pull_request import (
    MAX_BODY,
    BranchEdited,
    KnownPullRequests,
    PullRequest,
    WriteRefused,
    clip,
    commit_and_open,
    fit,
    shorten,
)
from bot.settings import Settings
from bot.status import StatusComment

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Proposal:
    """A job's change as it landed: the PR and what the build check said.

    When the files equal what they would replace, nothing is committed: `unchanged` says
    what they equal, `pull_request` is the open PR left as it is (None: none was opened)
    and `report` is None unless the caller had checked the build already."""

    pull_request: PullRequest | None
    report: BuildReport | None
    unchanged: str = ""

    @property
    def left_as_is(self) -> str:
        """For a status line: which PR was left alone, or that none was opened."""
        if self.pull_request is None:
            return "no pull request was opened"
        return f"{self.pull_request.html_url} was left as it is"


LEAD_ROOM = 2000  # of the PR body kept for `lead`


def _bounded_lead(lead: Callable[[str], str]) -> Callable[[str], str]:
    def bounded(sha: str) -> str:
        return clip(neutralise_mentions(lead(sha)), LEAD_ROOM)

    return bounded


def repository_url(request: dict[str, Any], web_url: str) -> str:
    """The repository's web address, from the command comment's (the same GitHub's), else
    the server's GitHub web URL."""
    comment = str(request.get("comment_url") or "")
    for part in ("/issues/", "/pull/"):
        if part in comment:
            return comment.split(part, 1)[0]
    return f"{web_url.rstrip('/')}/{request['repository']}"


MAX_PARALLEL = 4  # chapters of a range written at once (model calls and build checks)


async def each_chapter(
    chapters: Sequence[Chapter],
    work: Callable[[Chapter], Awaitable[T]],
    limit: int = MAX_PARALLEL,
) -> list[T]:
    """`work` for every chapter of a range, `limit` at a time, outcomes in the range's
    order: the loop of `/generate chapter 1-5` and `/generate quiz chapter 1-5`. `work`
    keeps its chapter's failure to its own outcome (see `chapter_failure`)."""
    gate = asyncio.Semaphore(limit)

    async def bounded(chapter: Chapter) -> T:
        async with gate:
            return await work(chapter)

    # Every chapter's step ends before a cancel goes on (`together`).
    return await together(*(bounded(c) for c in chapters))


def chapter_failure(number: int, exc: Exception, repository: str, thing: str = "") -> str:
    """The status line of a chapter whose part of a job raised `exc` (`thing`: what is
    written, "quiz"; empty for the chapter itself): one chapter that cannot be written never
    stops or hides the others, and never shows a stack trace."""
    pull = f"its {thing} pull request" if thing else "its pull request"
    if isinstance(exc, BranchEdited):
        return (
            f"⚠️ Chapter {number}: {exc}. Merge or close {pull} and delete `{exc.branch}` to "
            "have it written afresh."
        )
    if isinstance(exc, UnsafePathError | WriteRefused | BookError):
        return f"❌ Chapter {number}: refused to write{f' its {thing}' if thing else ''}: {exc}."
    if isinstance(exc, RequestFailed):
        log.warning("%s of chapter %s of %s: GitHub %s", thing or "text", number, repository, exc)
        return (
            f"❌ Chapter {number}: GitHub answered {exc.response.status_code} while opening "
            f"{pull}. Comment the command again to retry."
        )
    log.error("%s of chapter %s of %s failed", thing or "text", number, repository, exc_info=exc)
    return (
        f"❌ Chapter {number}: something went wrong on our side; the operators have the "
        "details. Comment the command again to retry."
    )


def models_for(config: BookConfig, settings: Settings) -> list[str]:
    """The fallback chain: the book's choice first, else the server's defaults."""
    first = config.models.text or settings.liquidbook_model
    rest = config.models.fallbacks if config.models.text else settings.liquidbook_fallback_models
    return list(dict.fromkeys([first, *rest]))


def image_models_for(config: BookConfig, settings: Settings) -> list[str]:
    """The image fallback chain, chosen as for text: the book's image model and its
    `image_fallbacks`, else the server's. Empty: no image model at all."""
    first = config.models.image or settings.liquidbook_image_model
    if not first:
        return []
    rest = (
        config.models.image_fallbacks
        if config.models.image
        else settings.liquidbook_image_fallback_models
    )
    return list(dict.fromkeys([first, *rest]))


def budget_for(config: BookConfig, settings: Settings) -> Decimal:
    """The monthly budget for calls from this book: the installation's, or lower if the
    book's settings say so. A book can never raise it: anyone who can push to a book could
    otherwise lift the operator's cap on spending."""
    operator = Decimal(str(settings.liquidbook_monthly_budget_usd))
    value = config.budget.monthly_usd
    return operator if value is None else min(operator, Decimal(str(value)))


def text_request(
    prompt: Prompt,
    max_tokens: int,
    answer: str | None = None,
    follow_up: str | None = None,
) -> TextRequest:
    """A model request from a book prompt, its stable prefix first so providers can cache it.

    With `answer` and `follow_up`, the conversation goes on: the model's earlier answer, then
    what to change (a fix of what the build check found)."""
    user = prompt.user
    stable: str | None = None
    if prompt.stable_prefix and user.startswith(prompt.stable_prefix):
        user = user[len(prompt.stable_prefix) :].lstrip()
        stable = prompt.stable_prefix
    if answer is not None and follow_up is not None:
        messages = [Message("user", user), Message("assistant", answer), Message("user", follow_up)]
        return TextRequest(
            system=prompt.system, stable_prefix=stable, messages=messages, max_tokens=max_tokens
        )
    return TextRequest(
        system=prompt.system, stable_prefix=stable, prompt=user, max_tokens=max_tokens
    )


def usage_line(results: TextResult | Sequence[TextResult], seconds: float) -> str:
    """Model, tokens, cost and time (of every call, when a job made several), for status
    comments and PR bodies."""
    calls = [results] if isinstance(results, TextResult) else list(results)
    attempts = [a for r in calls for a in r.attempts]
    cost = sum((a.usage.cost_usd for a in attempts), Decimal(0)) or sum(
        (r.usage.cost_usd for r in calls), Decimal(0)
    )
    tokens_in = sum(r.usage.tokens_in for r in calls)
    tokens_out = sum(r.usage.tokens_out for r in calls)
    tried = ""
    failed = [a for r in calls for a in r.attempts[:-1]]
    if failed:
        tried = " (after " + "; ".join(f"`{a.model}` {a.summary()}" for a in failed) + ")"
    models = ", ".join(f"`{m}`" for m in dict.fromkeys(r.model for r in calls))
    count = f" · {len(calls)} calls" if len(calls) > 1 else ""
    return (
        f"{models}{tried}{count} · {tokens_in:,} tokens in, {tokens_out:,} out · "
        f"${cost:.4f} · {seconds:.1f} s"
    )


def build_problems(report: BuildReport, limit: int = 5) -> str:
    """The build's errors (or else warnings) as an indented Markdown list for a status line."""
    issues = report.errors or report.warnings
    lines = [f"  - {shorten(issue.markdown(), 300)}" for issue in issues[:limit]]
    if len(issues) > limit:
        lines.append(f"  - … and {len(issues) - limit} more, listed in the pull request")
    return "\n".join(lines)


def verdict(report: BuildReport) -> str:
    """How a PR's build check went, in a few words for a status line."""
    if report.clean:
        return "the book builds cleanly"
    if report.ok:
        return f"the build has {plural(len(report.warnings), 'warning')}"
    return f"PR opened but the build has {plural(len(report.errors), 'error')}"


async def finish_single(status: Any, proposal: Proposal, noun: str, what: str, said: str) -> str:
    """End the status comment of a job that proposes one PR (a figure, a clip): ℹ️ when
    nothing was committed, else ✅/⚠️ with the PR link, `said` (model, cost) and the build's
    problems; returns the job's result."""
    pr = proposal.pull_request
    if pr is None or proposal.unchanged:
        await status.finish(f"ℹ️ The {noun} is {proposal.unchanged}: nothing was committed.")
        return "unchanged"
    report = proposal.report
    clean = report is not None and report.clean
    tail = "" if report is None or clean else f" — {verdict(report)}:\n{build_problems(report)}"
    await status.finish(f"{'✅' if clean else '⚠️'} {what}: {pr.html_url} — {said}{tail}")
    return f"pr #{pr.number}"


async def propose(
    gh: GitHub,
    request: Mapping[str, Any],
    checkout: BookCheckout,
    files: Mapping[str, str | bytes | None],
    *,
    branch: str,
    title: str,
    body: str,
    details: str = "",
    redis: Any,
    report: BuildReport | None = None,
    status: StatusComment | None = None,
    lead: Callable[[str], str] | None = None,
) -> Proposal:
    """Build-check `files` on top of the checkout (unless `report` is that check's result),
    then commit them to `branch` and open or update the PR.

    The PR body is `body` (the job's account, quoting the author's text), then a footer that
    is never cut: `details` (files, model), the build check and the request it answers. What
    a model or a comment wrote (`body`, `details`, the build's messages) pings nobody: its
    mentions are neutralised; the footer's "Requested by @author" is the app's own.
    `lead(sha)` goes before `body`, once the commit's sha is known (a figure's image pinned
    to its commit), in the same PR call."""
    safe = {safe_book_path(path): text for path, text in files.items()}
    body, details = neutralise_mentions(body), neutralise_mentions(details)
    known = KnownPullRequests(redis, request["repository"])
    proposed = ProposedFiles(redis, request["repository"])
    number = await known.get(branch)
    if number is None and same_as_checkout(checkout.directory, safe):
        return Proposal(None, report, f"the same as on `{checkout.base.branch}`")
    if number is not None and (commit := await proposed.commit_with(branch, safe)):
        head = await open_pull_head(gh, request["repository"], number, branch)
        if head is not None and head[0] == commit:
            return Proposal(PullRequest(number, head[1]), report, f"the same as in #{number}")
    if report is None:
        if status is not None:
            await status.progress("🔎 Checking the build with `jupyter-book`…")
        report = await check_book(checkout.directory, files=safe)
    if status is not None:
        await status.progress("📬 Opening the pull request…")
    where = f"#{request['issue_number']}"
    footer = (
        (f"\n\n{details.strip()}" if details.strip() else "")
        + f"\n\n### Build check\n\n{neutralise_mentions(clip(report.markdown(), MAX_BODY // 3))}"
        "\n\n---\n"
        f"Requested by @{request['author']} in {where} ({request.get('comment_url') or 'comment'}). "
        "Merge when it reads right. To have it rewritten, comment the command again with "
        "instructions on the lines below it; commits you push to this branch are never "
        "overwritten (a re-run stops and says so instead)."
    )
    body_text = fit(body.rstrip(), footer, MAX_BODY - LEAD_ROOM if lead else MAX_BODY)

    async def write() -> PullRequest:
        before = await known.written(branch)
        pr = await commit_and_open(
            gh,
            request["repository"],
            checkout.base,
            branch,
            safe,
            title=title,
            body=body_text,
            known_number=number,
            memory=known,
            lead=None if lead is None else _bounded_lead(lead),
        )
        note_opened(pr.html_url)
        await known.remember(branch, pr.number)
        commits = await known.written(branch) - before
        if len(commits) == 1:  # the commit just written (else unknown: nothing is recorded)
            sha = commits.pop()
            await proposed.record(branch, sha, safe)
            await report_own_check(gh, request["repository"], sha, report, redis)
        return pr

    # A `/cancel` now waits for the commit and its pull request (`bot.jobs.cancel`).
    pr = await uninterrupted(write())
    return Proposal(pr, report)
