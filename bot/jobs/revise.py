"""`/revise <instructions>` in a pull request: one new commit on top of its branch.

The job reads the PR (its head branch and repository, its changed files), the book at the
branch's head, and revises each chapter the PR changes with the chapter at the head, the PR's
diff, the style guide, the outline and the neighbours in view (`bot.book.revision`). Each
answer is cleaned and build-checked as a generated chapter is (`bot.jobs.drafting`). The
change is one commit whose parent is the head the job read, moved as a fast-forward only:
a reviewer's commit on the branch is the base a revision builds on and is never rewritten
(`bot.commit_on_top`). When the branch moved while the job ran, it rebuilds once on the new
head, then reports. A revision that changes nothing pushes nothing and says so. A PR from a
fork is revised the same way, but the app cannot push there: the change is offered as one
review of suggested changes instead (`bot.jobs.revise_fork`).

GitHub calls for a one-file PR: the PR, its files, the branch head, the tarball, a tree, a
commit, the ref, the final status (eight), plus a status edit for each stage that lasts.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from githubkit import GitHub

from bot.book.chapters import Chapter
from bot.book.check import BuildReport
from bot.book.model import Book
from bot.book.paths import safe_book_path
from bot.book.review_outcome import LineComment, outcome_lines
from bot.book.revision import LineChanges, line_changes, revision_prompt
from bot.book_reader import BookCheckout, checkout_commit
from bot.commit_on_top import CommitRecord, NotFastForward, Recorded, commit_on_top, fast_forward
from bot.jobs.drafting import CHAPTER_MAX_TOKENS, Unwritten, write_chapter
from bot.jobs.proposal import build_problems, models_for, text_request, usage_line
from bot.jobs.revise_chapter import revise_chapter
from bot.jobs.revise_fork import offer_suggestions
from bot.jobs.runner import command_job
from bot.pending import TYPICAL_ANSWER_TOKENS as CHAPTER_TYPICAL_TOKENS
from bot.pending import Ask, Estimate, ask_first
from bot.providers import TextResult
from bot.pull_request import BaseCommit, KnownPullRequests, base_commit, shorten
from bot.services import Services
from bot.status import StatusComment
from bot.usage import UsageContext

log = logging.getLogger(__name__)

MAX_FILES_LISTED = 300  # GitHub's files list pages at 100; a revision reads the first pages


class Unrevisable(Exception):
    """This PR cannot be revised (closed, from a deleted fork, no chapter in it): the
    sentence says why."""


async def read_pull(gh: GitHub, full_name: str, number: int) -> dict[str, Any]:
    owner, _, repo = full_name.partition("/")
    return dict((await gh.arequest("GET", f"/repos/{owner}/{repo}/pulls/{number}")).json())


async def read_pull_files(gh: GitHub, full_name: str, number: int) -> list[dict[str, Any]]:
    """The PR's changed files with their patches (one call for up to 100 files)."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "GET", f"/repos/{owner}/{repo}/pulls/{number}/files", params={"per_page": 100}
    )
    return [f for f in response.json() if isinstance(f, dict)][:MAX_FILES_LISTED]


def from_fork(pull: dict[str, Any], full_name: str) -> bool:
    """True when the PR's head branch is in another repository (the app cannot push there)."""
    return bool(((pull.get("head") or {}).get("repo") or {}).get("full_name") != full_name)


def check_pull(pull: dict[str, Any], full_name: str) -> str:
    """The PR's head branch, when the app may revise it (push to it, or, on a fork, suggest)."""
    if pull.get("state") != "open":
        raise Unrevisable(
            f"❌ #{pull.get('number')} is {'merged' if pull.get('merged') else 'closed'}; "
            "a revision goes on an open pull request. Open a new one, or use "
            "`/revise chapter N <instructions>` on an issue."
        )
    head = pull.get("head") or {}
    if not (head.get("repo") or {}).get("full_name"):
        raise Unrevisable(
            "❌ This pull request comes from a deleted fork: there is no branch to read the "
            "chapter at, so nothing was revised."
        )
    return str(head["ref"])


def diff_of(files: list[dict[str, Any]]) -> str:
    """The PR's diff as one text, one header per file (what a reviewer reads)."""
    parts = []
    for item in files:
        patch = item.get("patch")
        if isinstance(patch, str) and patch:
            parts.append(f"--- {item.get('filename')}\n{patch}")
    return "\n".join(parts)


def chapters_changed(book: Book, files: list[dict[str, Any]]) -> list[Chapter]:
    """The Markdown chapters of the book that the PR adds or changes, in reading order."""
    changed = {str(f.get("filename")) for f in files if f.get("status") != "removed"}
    return [c for c in book.toc if c.path in changed and c.is_markdown and not c.missing]


class Revision:
    """One try at revising the PR's chapters on one head of its branch."""

    def __init__(
        self,
        services: Services,
        request: dict[str, Any],
        instructions: str,
        status: StatusComment,
        ask: Ask | None = None,
    ) -> None:
        self.services = services
        self.ask = ask
        self.request = request
        self.instructions = instructions
        self.status = status
        self.results: list[TextResult] = []
        self.notes: list[str] = []
        self.reports: list[tuple[Chapter, BuildReport]] = []

    async def stage(self, emoji: str, sentence: str) -> None:
        await self.status.progress(f"{emoji} {sentence}")

    async def files(
        self, co: BookCheckout, chapters: list[Chapter], diff: str
    ) -> dict[str, tuple[str, str]]:
        """Each chapter's path → (text at the head, revised text)."""
        context = UsageContext(
            self.request["installation_id"], self.request["repository"], "revise"
        )
        model = models_for(co.book.config, self.services.settings)[0]
        prompts = [revision_prompt(co.book, c, diff, self.instructions) for c in chapters]
        if self.ask is not None:
            # Each chapter: its revision and at worst one fix-up of its build (`write_chapter`).
            estimate = Estimate.total(
                Estimate.with_fix_up(
                    model, text_request(prompt, CHAPTER_MAX_TOKENS), CHAPTER_TYPICAL_TOKENS
                )
                for prompt in prompts
            )
            await self.ask(co.book.config, estimate)
            self.ask = None  # asked once per job: a second try on a moved branch goes on
        changed: dict[str, tuple[str, str]] = {}
        for chapter, prompt in zip(chapters, prompts, strict=True):
            name = f"chapter {chapter.number} ({shorten(chapter.title, 80)})"
            await self.stage("✍️", f"Revising {name} with `{model}`…")
            try:
                written = await write_chapter(
                    self.services, co.book, chapter, prompt, co, context, self.stage, name
                )
            except Unwritten as exc:
                self.notes.append(f"❌ Chapter {chapter.number}: {exc} It keeps its text.")
                continue
            self.results += written.results
            if written.repair_note:
                self.notes.append(f"Chapter {chapter.number}: {written.repair_note}")
            before = (co.directory / safe_book_path(chapter.path)).read_text(encoding="utf-8")
            changed[chapter.path] = (before, written.draft.content)
            self.reports.append((chapter, written.draft.report))
        return changed


def summary_text(
    pull: dict[str, Any],
    changes: dict[str, LineChanges],
    revision: Revision,
    seconds: float,
    sha: str,
    outcomes: tuple[str, ...] = (),
) -> str:
    """The final status: the commit link, then files and lines, what became of each line
    comment of a review, the build, model and cost."""
    html = (pull.get("base", {}).get("repo") or {}).get("html_url") or ""
    broken = [(c, r) for c, r in revision.reports if r.errors]
    mark = "⚠️" if broken or any(n.startswith("❌") for n in revision.notes) else "✅"
    lines = [f"{mark} Revised in {html}/commit/{sha} on `{pull['head']['ref']}`."]
    lines += [f"- `{path}`: {change} lines" for path, change in changes.items()]
    if outcomes:
        lines += ["\nThe review's line comments:", *outcomes]
    for chapter, report in broken:
        lines.append(
            f"- ⚠️ The build of chapter {chapter.number} has errors:\n{build_problems(report)}"
        )
    lines += [f"- {note}" for note in revision.notes]
    lines.append(f"\nModel: {usage_line(revision.results, seconds)}")
    return "\n".join(lines)


async def _revise(
    services: Services,
    gh: GitHub,
    status: StatusComment,
    request: dict[str, Any],
    instructions: str,
    record: CommitRecord,
    comments: list[LineComment],
    ask: Ask | None = None,
) -> str:
    full_name, number = request["repository"], request["issue_number"]
    started = time.monotonic()
    await status.progress(f"📖 Reading #{number} and its book…")
    pull = await read_pull(gh, full_name, number)
    branch = check_pull(pull, full_name)
    files = await read_pull_files(gh, full_name, number)
    earlier = await record.get()
    memory = KnownPullRequests(services.redis, full_name)
    fork = from_fork(pull, full_name)
    for attempt in (1, 2):
        # A fork's head is served by this repository too (GitHub's `refs/pull/N/head`).
        base = (
            BaseCommit(branch, str(pull["head"]["sha"]), "")
            if fork
            else await base_commit(gh, full_name, branch)
        )
        if earlier is not None and await _finish_earlier(gh, full_name, branch, base.sha, earlier):
            await status.finish(earlier.summary)
            return "revised (found its own commit)"
        with TemporaryDirectory(prefix="liquidbook-revise-") as tmp:
            co = await checkout_commit(gh, full_name, base, Path(tmp))
            chapters = chapters_changed(co.book, files)
            if not chapters:
                raise Unrevisable(
                    "ℹ️ This pull request changes no Markdown chapter of the book, so there is "
                    "nothing to revise; nothing was committed."
                )
            revision = Revision(services, request, instructions, status, ask)
            ask = None  # asked once per job: a second try on a moved branch goes on
            texts = await revision.files(co, chapters, diff_of(files))
        changed = {path: new for path, (old, new) in texts.items() if new != old}
        if not changed:
            notes = "".join(f"\n- {note}" for note in revision.notes)
            failed = any(note.startswith("❌") for note in revision.notes)
            verdict = "❌ Nothing was revised" if failed else "ℹ️ The revision changed nothing"
            await status.finish(
                f"{verdict}, so no commit was pushed.{notes}\n\n"
                f"Model: {usage_line(revision.results, time.monotonic() - started)}"
                if revision.results
                else f"{verdict}, so no commit was pushed.{notes}"
            )
            return "unchanged"
        if fork:
            outcome = (revision.results, revision.notes, revision.reports)
            seconds = time.monotonic() - started
            return await offer_suggestions(
                gh, status, request, pull, files, texts, outcome, seconds
            )
        counts = {path: line_changes(texts[path][0], texts[path][1]) for path in changed}
        message = f"Revise {', '.join(changed)}\n\n{shorten(instructions, 2000)}"
        await status.progress("📬 Committing the revision…")
        summary = functools.partial(
            summary_text,
            pull,
            counts,
            revision,
            time.monotonic() - started,
            outcomes=tuple(outcome_lines(comments, texts)),
        )
        try:
            sha = await commit_on_top(
                gh, full_name, base, changed, message, record, summary, memory
            )
        except NotFastForward:
            if attempt == 2:
                await status.finish(
                    f"⚠️ `{branch}` moved twice while the revision was being written, so "
                    "nothing was committed. Comment the command again once the pushes settle."
                )
                return "branch kept moving"
            log.info("%s moved during a revision of #%s; rebuilding on its head", branch, number)
            earlier = None
            continue
        await status.finish(summary(sha))
        return "revised"
    raise AssertionError("unreachable")


async def _finish_earlier(
    gh: GitHub, full_name: str, branch: str, head: str, earlier: Recorded
) -> bool:
    """True when an earlier try's commit is (now) the branch's head: it had landed, or it
    was made on this very head and only the ref move was cut off (done now)."""
    if head == earlier.sha:
        return True
    if head == earlier.parent:
        try:
            await fast_forward(gh, full_name, branch, earlier.sha)
        except NotFastForward:
            return False
        return True
    return False


async def revise_pull_request(
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Revise the PR the comment is on, and report the commit in the status comment."""

    async def run(services: Services, gh: Any, status: StatusComment) -> str:
        ask = functools.partial(
            ask_first, ctx, "revise_pull_request", [request, command, status_ref], status
        )
        if not request.get("pull_request"):
            if command.get("chapter"):
                try:
                    return await revise_chapter(services, gh, status, request, command, ask)
                except Unrevisable as exc:
                    await status.finish(str(exc))
                    return "unrevisable"
            await status.finish(
                "❌ `/revise` works in a pull request's conversation: comment it on the "
                "chapter's pull request, or name the chapter here: "
                "`/revise chapter 3 <instructions>`."
            )
            return "not a pull request"
        key = f"{request['repository']}:{request['comment_id']}:{status_ref['comment_id']}"
        try:
            return await _revise(
                services,
                gh,
                status,
                request,
                command["instructions"],
                CommitRecord(services.redis, key),
                [c for c in map(LineComment.from_json, command.get("comments") or []) if c],
                ask,
            )
        except Unrevisable as exc:
            await status.finish(str(exc))
            return "unrevisable"

    return await command_job(ctx, request, status_ref, "revise_pull_request", run)
