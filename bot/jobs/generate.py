"""`/generate chapter N | N-M | all | "title"`: write chapters, one pull request each.

The book is read once at the default branch's head; every selected chapter is written with
the style guide, the whole outline and its neighbours' summaries in the prompt, cleaned of
what models typically get wrong, and build-checked. When the build has errors, the model is
sent its chapter as checked with the ⛔️ lines and asked once for a corrected version; the
version with fewer errors is proposed, on its own branch (`liquidbook/chapter-<file>`), so a
re-run updates the same PR. A chapter whose build still has errors is reported ⚠️ with the
errors, never ✅. Chapters run in parallel, bounded, within the installation's budget (the
provider layer refuses calls past it).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, cast

from bot import pending
from bot.book.chapters import Chapter, has_body
from bot.book.check import BuildReport, check_book, plural
from bot.book.clean import clean_chapter_body
from bot.book.genre import bib_path, finish_chapter, split_references
from bot.book.model import Book, BookError
from bot.book.paths import safe_book_path
from bot.book.prompts import chapter_prompt, repair_request
from bot.book.render import render_chapter, slugify
from bot.book.selector import ChapterSelector
from bot.book_reader import BookCheckout, checkout
from bot.jobs.cancel import uninterrupted
from bot.jobs.continuity import ChapterMemory, written_summary
from bot.jobs.outline import OUTLINE_BRANCH
from bot.jobs.proposal import (
    budget_for,
    build_problems,
    chapter_failure,
    each_chapter,
    models_for,
    propose,
    text_request,
    usage_line,
    verdict,
)
from bot.jobs.runner import command_job
from bot.providers import ProviderError, TextResult
from bot.pull_request import (
    BRANCH_PREFIX,
    KnownPullRequests,
    shorten,
)
from bot.services import Services
from bot.status import StatusComment
from bot.usage import UsageContext

log = logging.getLogger(__name__)

CHAPTER_MAX_TOKENS = 16000
MAX_PROBLEMS_SENT = 20  # build problems sent back to the model with its chapter


@dataclass
class ChapterOutcome:
    chapter: Chapter
    line: str
    ok: bool  # a PR was opened or updated, or nothing needed changing
    clean: bool = False  # …and the build check found nothing
    unchanged: bool = False  # the text equals what it would replace: nothing committed


def describe(chapters: list[Chapter]) -> str:
    if len(chapters) == 1:
        return f"chapter {chapters[0].number} ({shorten(chapters[0].title, 80)})"
    return f"{len(chapters)} chapters ({chapters[0].number}–{chapters[-1].number})"


class Board:
    """The status comment while chapters are written: one chapter's stage, or for several
    each one's stage and the outcome of those done (edits throttled by `StatusComment`)."""

    def __init__(self, status: StatusComment, chapters: list[Chapter], model: str) -> None:
        self.status = status
        self.chapters = chapters
        self.model = model
        self.lines = {
            c.path: f"Chapter {c.number} ({shorten(c.title, 80)}): waiting" for c in chapters
        }
        self.finished: set[str] = set()
        status.remaining = lambda: [
            f"Chapter {c.number} ({shorten(c.title, 80)})"
            for c in chapters
            if c.path not in self.finished
        ]

    async def stage(self, chapter: Chapter, emoji: str, single: str, several: str) -> None:
        """`single` is the sentence for a one-chapter job; `several` the chapter's bullet."""
        if len(self.chapters) == 1:
            await self.status.progress(f"{emoji} {single}")
            return
        label = f"Chapter {chapter.number} ({shorten(chapter.title, 80)})"
        self.lines[chapter.path] = f"{emoji} {label}: {several}"
        await self.status.progress(self.render(), update=True)

    def record(self, outcome: ChapterOutcome) -> None:
        """Count the chapter as finished (once), for a cancelled status too."""
        if outcome.chapter.path in self.finished:
            return
        self.status.done.append(outcome.line)
        self.finished.add(outcome.chapter.path)
        self.lines[outcome.chapter.path] = outcome.line

    async def done(self, outcome: ChapterOutcome) -> None:
        self.record(outcome)
        if len(self.status.done) < len(self.chapters):
            await self.status.progress(self.render(), update=True)

    def render(self) -> str:
        header = (
            f"✍️ Writing {describe(self.chapters)} with `{self.model}`; "
            f"{len(self.status.done)} of {len(self.chapters)} done:"
        )
        return header + "\n\n" + "\n".join(f"- {line}" for line in self.lines.values())


@dataclass
class Draft:
    """One version of a chapter: the file's text, what clean-up repaired, what the build said."""

    content: str
    body: str
    fixes: list[str]
    report: BuildReport
    files: dict[str, str | None]  # every file it writes: the chapter, its references


def _problems_in_body(report: BuildReport, chapter: Chapter, content: str, body: str) -> list[str]:
    """The build's problems, with line numbers of the chapter's file turned into lines of
    the body the model wrote (the front matter comes first in the file)."""
    start = content.rfind(body.strip())
    offset = content[:start].count("\n") if start >= 0 else 0
    problems = []
    for issue in [*report.errors, *report.warnings][:MAX_PROBLEMS_SENT]:
        if issue.file == chapter.path and issue.line is not None and issue.line > offset:
            where = f"line {issue.line - offset}: "
        elif issue.file and issue.file != chapter.path:
            where = f"in `{issue.file}`: "
        else:
            where = ""
        icon = "⛔️" if issue.level == "error" else "⚠️"
        problems.append(f"{icon} {where}{issue.message}")
    return problems


async def _write_one(
    services: Services,
    gh: Any,
    request: dict[str, Any],
    book: Book,
    chapter: Chapter,
    instructions: str,
    co: BookCheckout,
    board: Board,
) -> ChapterOutcome:
    if not chapter.is_markdown:
        return ChapterOutcome(
            chapter,
            f"⚠️ Chapter {chapter.number} (`{chapter.path}`) is not a Markdown file; Liquid Book "
            "writes Markdown chapters only, so it was left as it is (no model was called).",
            False,
        )
    started = time.monotonic()
    config = book.config
    models = models_for(config, services.settings)
    name = describe([chapter])
    context = UsageContext(
        request["installation_id"], request["repository"], f"generate chapter {chapter.number}"
    )
    memory = ChapterMemory(
        services.redis,
        services.model_client(),
        models,
        context,
        budget_for(config, services.settings),
    )
    prompt = chapter_prompt(book, chapter, instructions, await memory.near(book, chapter))
    branch = chapter_branch(chapter)
    path = safe_book_path(chapter.path)

    def acceptable(answer: str) -> str | None:
        """A chapter answer needs a body once cleaned: one without (empty, front matter or
        a title alone) would delete the chapter's text, so that model failed."""
        if has_body(clean_chapter_body(answer, book, chapter).body):
            return None
        return "answered with no chapter text (nothing but front matter, a title or blank lines)"

    async def ask(text_request_: Any) -> TextResult:
        return cast(
            TextResult,
            await services.model_client().generate_text(
                replace(text_request_, accept=acceptable),
                models=models,
                context=context,
                monthly_budget_usd=budget_for(config, services.settings),
            ),
        )

    async def draft(answer: str, again: bool) -> Draft:
        research = config.type == "research"
        text, references = split_references(answer) if research else (answer, "")
        cleaned = clean_chapter_body(text, book, chapter)
        if not has_body(cleaned.body):
            # `acceptable` already failed such an answer; never commit one that got past.
            raise BookError("the model's answer has no chapter text, so the chapter keeps its own")
        own_bib = bib_path(path)
        finished = finish_chapter(
            config.type, cleaned.body, path, references, book.citation_keys(except_path=own_bib)
        )
        content = render_chapter(chapter, finished.body)
        files: dict[str, str | None] = {path: content, **finished.files}
        if research and own_bib not in files and (co.directory / own_bib).is_file():
            files[own_bib] = None  # the chapter cites nothing of its old references now
        await board.stage(
            chapter,
            "🔎",
            f"Checking the build of {'the corrected ' if again else ''}{name} with `jupyter-book`…",
            "checking the build" + (" again" if again else ""),
        )
        report = await check_book(co.directory, files=files)
        return Draft(content, finished.body, cleaned.fixes + finished.fixes, report, files)

    await board.stage(chapter, "✍️", f"Writing {name} with `{models[0]}`…", "writing")
    results: list[TextResult] = []
    try:
        results.append(await ask(text_request(prompt, CHAPTER_MAX_TOKENS)))
    except ProviderError as exc:
        return ChapterOutcome(
            chapter,
            f"❌ Chapter {chapter.number}: {exc.user_message} Nothing was committed; the "
            "chapter keeps its text.",
            False,
        )
    if results[0].truncated:
        return ChapterOutcome(
            chapter,
            f"❌ Chapter {chapter.number}: the model's answer was cut off at its length limit "
            f"even after asking it to continue, so nothing was committed. Ask for a shorter "
            f"chapter in the lines below the command, or configure a model with a longer output.",
            False,
        )
    first = await draft(results[0].text, again=False)
    chosen, repair_note = first, ""
    if first.report.errors:
        # One chance to fix what the build found: the model gets its chapter (as checked)
        # and the problems, and the better of the two versions is proposed.
        count = len(first.report.errors)
        await board.stage(
            chapter,
            "🔧",
            f"The build check found {plural(count, 'error')} in {name}; asking "
            f"`{results[0].model}` to fix them…",
            f"fixing {plural(count, 'build error')}",
        )
        follow_up = repair_request(
            _problems_in_body(first.report, chapter, first.content, first.body)
        )
        try:
            results.append(
                await ask(text_request(prompt, CHAPTER_MAX_TOKENS, first.body, follow_up))
            )
        except ProviderError as exc:
            repair_note = (
                f"The first version failed the build check with {plural(count, 'error')}; "
                f"asking the model to fix them failed ({exc.user_message}), so it is proposed "
                "as it is."
            )
        else:
            second = None if results[1].truncated else await draft(results[1].text, again=True)
            if second is not None and len(second.report.errors) <= count:
                chosen = second
                left = len(second.report.errors)
                repair_note = (
                    f"The first version failed the build check with {plural(count, 'error')}; "
                    "the model was sent them and asked once for a corrected version, "
                    + ("which builds." if not left else f"which still has {plural(left, 'error')}.")
                )
            else:
                repair_note = (
                    f"The first version failed the build check with {plural(count, 'error')}; "
                    "the corrected version the model sent back was no better, so the first is "
                    "proposed."
                )
    report = chosen.report
    # The chapter's own PR carries its summary as written, for the prompts of the others.
    summary = written_summary(chosen.body, chapter.summary)
    if summary != chapter.summary:
        chosen.files[path] = render_chapter(replace(chapter, summary=summary), chosen.body)
    results = [*memory.results, *results]
    seconds = time.monotonic() - started
    fixes = "".join(f"\n- {fix}" for fix in chosen.fixes)
    body = (
        f"Writes **chapter {chapter.number}, {shorten(chapter.title, 200)}** (`{chapter.path}`).\n\n"
        + (
            "Extra instructions:\n\n> " + shorten(instructions).replace("\n", "\n> ") + "\n\n"
            if instructions
            else ""
        )
        + (f"{repair_note}\n\n" if repair_note else "")
        + (f"Repairs made to the model's answer:{fixes}\n" if fixes else "")
    )
    await board.stage(
        chapter, "📬", f"Opening the pull request for {name}…", "opening the pull request"
    )

    async def open_pull_request() -> ChapterOutcome:
        # Recorded on the board as soon as it is known: a `/cancel` that waited for this
        # step (`uninterrupted`) lists the chapter as finished, with its pull request.
        proposal = await propose(
            gh,
            request,
            co,
            chosen.files,
            branch=branch,
            title=f"Write chapter {chapter.number}: {shorten(chapter.title, 200)}",
            body=body,
            details=f"Model: {usage_line(results, seconds)}",
            redis=services.redis,
            report=report,
        )
        usage = usage_line(results, time.monotonic() - started)
        if proposal.pull_request is None or proposal.unchanged:
            outcome = ChapterOutcome(
                chapter,
                f"ℹ️ Chapter {chapter.number}: nothing changed — the model's text is "
                f"{proposal.unchanged}, so nothing was committed and {proposal.left_as_is}. "
                f"— {usage}",
                True,
                True,
                unchanged=True,
            )
            board.record(outcome)
            return outcome
        line = (
            f"{'✅' if report.clean else '⚠️'} Chapter {chapter.number}: "
            f"{proposal.pull_request.html_url} — {usage}"
        )
        if not report.clean:
            line += f" — {verdict(report)}:\n{build_problems(report)}"
        outcome = ChapterOutcome(chapter, line, True, report.clean)
        board.record(outcome)
        return outcome

    return await uninterrupted(open_pull_request())


def chapter_branch(chapter: Chapter) -> str:
    """`liquidbook/chapter-<slug of its path>`: one branch per chapter file, stable when the
    toc is reordered, a valid ref whatever the file or its label is called. A short hash of
    the path keeps two files apart when their slugs would be equal (non-Latin names)."""
    stem = chapter.path.rsplit(".", 1)[0]
    if stem.startswith("chapters/"):
        stem = stem[len("chapters/") :]
    slug = slugify(stem.replace("/", "-"))
    if slug != stem.lower().replace("/", "-").replace("_", "-"):
        slug = f"{slug}-{hashlib.sha1(chapter.path.encode()).hexdigest()[:7]}"
    return f"{BRANCH_PREFIX}chapter-{slug}"


async def _guarded(
    services: Services,
    gh: Any,
    request: dict[str, Any],
    book: Book,
    chapter: Chapter,
    instructions: str,
    co: BookCheckout,
    board: Board,
) -> ChapterOutcome:
    """`_write_one`, with each chapter's failure kept to its own line: one chapter that
    cannot be written never stops or hides the others."""
    try:
        return await _write_one(services, gh, request, book, chapter, instructions, co, board)
    except Exception as exc:
        return ChapterOutcome(
            chapter, chapter_failure(chapter.number, exc, request["repository"]), False
        )


async def _with_outline_hint(services: Services, request: dict[str, Any], message: str) -> str:
    """Point at a proposed outline: chapters it adds exist only once it is merged."""
    number = await KnownPullRequests(services.redis, request["repository"]).get(OUTLINE_BRANCH)
    if number is None:
        return message
    return (
        f"{message} If you meant a chapter of the outline proposed in #{number}, merge that "
        "pull request first, then comment again."
    )


async def _held_for_confirmation(
    services: Services,
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
    status: StatusComment,
    book: Any,
    chapters: list[Chapter],
    model: str,
) -> bool:
    """The estimate in the status comment, and the wait for `/confirm` (`bot.pending`)."""
    typical, worst = pending.chapters_estimate(model, book, chapters, CHAPTER_MAX_TOKENS)
    args = [request, command, status_ref]
    limit = book.config.budget.confirm_above_usd
    return await pending.gate(
        services, ctx, "generate_chapters", args, status, limit, typical, worst
    )


async def generate_chapters(
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Write the selected chapters and report each PR in the status comment."""

    async def run(services: Services, gh: Any, status: StatusComment) -> str:
        selector = ChapterSelector(**command["selector"])
        await status.progress(f"📖 Reading the book at `{request['default_branch']}`…")
        with TemporaryDirectory(prefix="liquidbook-") as tmp:
            scratch = Path(tmp)
            co = await checkout(gh, request["repository"], request["default_branch"], scratch)
            try:
                chapters = co.book.chapter(selector)
            except BookError as exc:
                raise BookError(await _with_outline_hint(services, request, str(exc))) from None
            models = models_for(co.book.config, services.settings)
            if await _held_for_confirmation(
                services, ctx, request, command, status_ref, status, co.book, chapters, models[0]
            ):
                return "awaiting confirmation"
            status.max_progress_edits = 4 if len(chapters) == 1 else len(chapters) + 2
            board = Board(status, chapters, models[0])

            async def one(chapter: Chapter) -> ChapterOutcome:
                outcome = await _guarded(
                    services,
                    gh,
                    request,
                    co.book,
                    chapter,
                    command.get("instructions", ""),
                    co,
                    board,
                )
                await board.done(outcome)
                return outcome

            outcomes = await each_chapter(chapters, one)
        lines = "\n".join(f"- {o.line}" for o in outcomes)
        done = sum(o.ok for o in outcomes)
        clean = sum(o.clean for o in outcomes)
        count = len(outcomes)
        same = sum(o.unchanged for o in outcomes)
        if same == count:
            verdict_line = (
                f"ℹ️ Nothing changed: the model's text for {'the chapter' if count == 1 else 'every chapter'} "
                "is the same as what it would replace, so nothing was committed."
            )
        elif clean == count:
            verdict_line = f"✅ Done: {done - same} of {count} pull requests opened or updated" + (
                f", {same} unchanged." if same else "."
            )
        elif done == count:
            problems = count - clean
            verdict_line = (
                f"⚠️ Done, but the build check found problems: {done} of {count} pull requests "
                f"opened or updated, {problems} of them with build problems (listed below and in "
                f"{'its' if problems == 1 else 'their'} pull request)."
            )
        elif done:
            verdict_line = f"⚠️ Partly done: {done} of {count} pull requests opened or updated."
        else:
            verdict_line = f"❌ Nothing written: 0 of {count} pull requests opened or updated."
        await status.finish(f"{verdict_line}\n\n{lines}")
        return f"{done}/{count}"

    return await command_job(ctx, request, status_ref, "generate_chapters", run)
