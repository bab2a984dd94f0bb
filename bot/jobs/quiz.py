"""`/generate quiz chapter <N | N-M | all>`: a JupyterQuiz file per chapter, in its own PR.

For each selected chapter the text model writes questions on the chapter's learning
objectives in JupyterQuiz's JSON format. The answer is checked (`bot.book.quiz`): an invalid
one goes back to the same model once with the problems, then to the rest of the fallback
chain (each answer refused by the same check). A valid quiz is committed as
`quizzes/<chapter stem>.json` with the chapter's `## Self-check` section rendered from it,
on the chapter's quiz branch (`liquidbook/quiz-<slug>`), so a re-run updates the same PR.
A chapter whose quiz is never valid gets ❌ and nothing is committed; ⚠️ means committed
with build problems.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bot.book.bundled import WORKFLOW_PATH
from bot.book.chapters import Chapter
from bot.book.model import Book
from bot.book.paths import safe_book_path
from bot.book.prompts import Prompt, system_prompt
from bot.book.quiz import (
    MAX_QUESTIONS,
    WIDGET_PATH,
    QuizError,
    parse_quiz,
    quiz_path,
    render_self_check,
    widget_block,
    with_self_check,
)
from bot.book.render import render_chapter, slugify
from bot.book.selector import ChapterSelector
from bot.book_reader import BookCheckout, checkout
from bot.jobs.generate import chapter_branch
from bot.jobs.proposal import (
    budget_for,
    build_problems,
    chapter_failure,
    each_chapter,
    models_for,
    propose,
    repository_url,
    text_request,
    usage_line,
    verdict,
)
from bot.jobs.runner import command_job
from bot.jobs.setup import open_setup_pull_request
from bot.pending import Estimate, ask_first
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

QUIZ_MAX_TOKENS = 6000
QUIZ_TYPICAL_TOKENS = 2500  # a quiz's usual answer, for the estimate's "about"
CHAPTER_CHARS = 24_000  # of the chapter's text sent with the request

FORMAT = f"""Write the quiz as a JSON array of questions in JupyterQuiz's format, and nothing
else (no prose before or after it). Between 4 and 8 questions unless the instructions say
otherwise, at most {MAX_QUESTIONS}. Each question is one of:

- {{"type": "multiple_choice", "question": "...", "answers": [{{"answer": "...", "correct": true,
  "feedback": "..."}}, ...]}}: exactly one correct answer, 3 or 4 answers.
- {{"type": "many_choice", ...}}: the same shape, one or more correct answers.
- {{"type": "numeric", "question": "...", "precision": 3, "answers": [{{"type": "value",
  "value": 2.5, "correct": true, "feedback": "..."}}, {{"type": "range", "range": [0, 1],
  "correct": false, "feedback": "..."}}, {{"type": "default", "feedback": "..."}}]}}: numbers are
  JSON numbers; a range is [low, high] with low <= high.
- {{"type": "string", "question": "...", "answers": [{{"answer": "...", "correct": true,
  "match_case": false, "fuzzy_threshold": 0.8, "feedback": "..."}}]}}.

Every question has at least one correct answer and no answer twice. Every answer has
feedback that explains why it is right or wrong. Questions test the chapter's learning
objectives, not trivia. Text may use simple HTML (<code>, <em>, <strong>) and no other markup."""


@dataclass
class QuizOutcome:
    chapter: Chapter
    line: str
    ok: bool
    clean: bool = False


def quiz_branch(chapter: Chapter) -> str:
    """`liquidbook/quiz-<slug>`: the chapter branch's name with `quiz-` for `chapter-`."""
    return BRANCH_PREFIX + "quiz-" + chapter_branch(chapter)[len(BRANCH_PREFIX + "chapter-") :]


class SetupOnce:
    """The setup PR, opened or refreshed with the files the book lacks (the quiz widget
    module, for a book set up before it existed), once per job whatever the number of
    chapters: quiz PRs leave shared files alone, and the setup PR is the one PR that adds
    them, so no two open PRs change the same file."""

    def __init__(
        self, services: Services, gh: Any, request: dict[str, Any], co: BookCheckout
    ) -> None:
        self.services, self.gh, self.request, self.co = services, gh, request, co
        self._lock = asyncio.Lock()
        self._reference: str | None = None

    async def pull_request(self) -> str:
        """A reference to the setup PR for a quiz PR's body."""
        async with self._lock:  # the chapters of a range run at once
            if self._reference is None:
                self._reference = await self._open()
            return self._reference

    async def _open(self) -> str:
        co, request = self.co, self.request
        present = {
            path
            for path in ("myst.yml", WIDGET_PATH, WORKFLOW_PATH)
            if (co.directory / path).is_file()
        }
        opened = await open_setup_pull_request(
            self.gh,
            request["repository"],
            co.base,
            present,
            repository_url(request, self.services.settings.github_web_url),
            KnownPullRequests(self.services.redis, request["repository"]),
            checkout=co.directory,
        )
        return f"#{opened[0].number}" if opened is not None else "the setup pull request"


def quiz_prompt(book: Book, chapter: Chapter, instructions: str) -> Prompt:
    objectives = "\n".join(f"- {o}" for o in chapter.objectives) or "- (none listed: use the text)"
    text = chapter.body.strip()
    if len(text) > CHAPTER_CHARS:
        text = text[:CHAPTER_CHARS] + "\n\n[… the chapter goes on]"
    stable = f"Write a self-check quiz for a chapter of the book “{book.config.title}”.\n\n{FORMAT}"
    user = (
        f"{stable}\n\nThe chapter: {chapter.number}. {chapter.title}\n\n"
        f"Its learning objectives:\n{objectives}\n\nThe chapter's text:\n\n<chapter>\n{text}\n"
        "</chapter>\n"
        + (f"\nThe author's instructions for this quiz:\n{instructions}\n" if instructions else "")
    )
    return Prompt(system_prompt(book.config), user, stable)


def _problems_text(error: QuizError) -> str:
    lines = "\n".join(f"- {p}" for p in error.problems)
    return (
        f"That quiz cannot be used:\n{lines}\n\nAnswer again with the whole corrected quiz as a "
        "JSON array, and nothing else."
    )


def _accept(answer: str) -> str | None:
    try:
        parse_quiz(answer)
    except QuizError as exc:
        return "answered with an invalid quiz (" + shorten(str(exc), 300) + ")"
    return None


def quizzes_estimate(
    services: Services, book: Book, chapters: list[Chapter], instructions: str
) -> Estimate:
    """The quizzes' cost: per chapter that gets one, a first request and at worst a
    correction and a last try (`_write_quiz`)."""
    model = models_for(book.config, services.settings)[0]
    return Estimate.total(
        Estimate.with_fix_up(
            model,
            text_request(quiz_prompt(book, chapter, instructions), QUIZ_MAX_TOKENS),
            QUIZ_TYPICAL_TOKENS,
            fix_ups=2,
        )
        for chapter in chapters
        if chapter.is_markdown and not chapter.is_stub and not chapter.missing
    )


async def _write_quiz(
    services: Services,
    gh: Any,
    request: dict[str, Any],
    book: Book,
    chapter: Chapter,
    instructions: str,
    co: BookCheckout,
    status: StatusComment,
    setup: SetupOnce,
) -> QuizOutcome:
    number = chapter.number
    if not chapter.is_markdown:
        return QuizOutcome(
            chapter,
            f"❌ Chapter {number} (`{chapter.path}`) is not a Markdown file; its quiz would have "
            "no Self-check section to show in, so nothing was committed.",
            False,
        )
    if chapter.is_stub or chapter.missing:
        return QuizOutcome(
            chapter,
            f"❌ Chapter {number} has no text yet: write it first (`/generate chapter {number}`), "
            "then ask for its quiz. Nothing was committed.",
            False,
        )
    started = time.monotonic()
    config = book.config
    models = models_for(config, services.settings)
    budget = budget_for(config, services.settings)
    context = UsageContext(request["installation_id"], request["repository"], "quiz")
    prompt = quiz_prompt(book, chapter, instructions)
    client = services.model_client()
    await status.progress(f"✍️ Writing the quiz of chapter {number} with `{models[0]}`…")
    results: list[TextResult] = []
    problems = ""
    try:
        results.append(
            await client.generate_text(
                text_request(prompt, QUIZ_MAX_TOKENS),
                models=models,
                context=context,
                monthly_budget_usd=budget,
            )
        )
        quiz = parse_quiz(results[-1].text)
    except ProviderError as exc:
        return QuizOutcome(
            chapter, f"❌ Chapter {number}: {exc.user_message} Nothing was committed.", False
        )
    except QuizError as first:
        # Once back to the same model with what is wrong; then the rest of the chain, each
        # answer refused by the same check.
        follow_up = text_request(prompt, QUIZ_MAX_TOKENS, results[-1].text, _problems_text(first))
        used = results[-1].model
        rest = [m for m in models[models.index(used) + 1 :]] if used in models else []
        try:
            await status.progress(
                f"🔧 The quiz of chapter {number} was invalid ({shorten(str(first), 200)}); "
                f"asking `{used}` once to correct it…"
            )
            results.append(
                await client.generate_text(
                    replace(follow_up, accept=_accept if rest else None),
                    models=[used],
                    context=context,
                    monthly_budget_usd=budget,
                )
            )
            quiz = parse_quiz(results[-1].text)
        except (ProviderError, QuizError) as second:
            if not rest:
                problems = shorten(str(getattr(second, "user_message", second)), 500)
                return QuizOutcome(
                    chapter,
                    f"❌ Chapter {number}: the model's quiz is invalid ({problems}), and asking it "
                    "once to correct it did not help, so nothing was committed.",
                    False,
                )
            try:
                results.append(
                    await client.generate_text(
                        replace(text_request(prompt, QUIZ_MAX_TOKENS), accept=_accept),
                        models=rest,
                        context=context,
                        monthly_budget_usd=budget,
                    )
                )
                quiz = parse_quiz(results[-1].text)
            except (ProviderError, QuizError) as last:
                message = getattr(last, "user_message", None) or str(last)
                return QuizOutcome(
                    chapter,
                    f"❌ Chapter {number}: no model wrote a valid quiz ({shorten(message, 500)}), "
                    "so nothing was committed.",
                    False,
                )
        problems = (
            f"The first quiz the model wrote was invalid ({shorten(str(first), 300)}); it was "
            "corrected before committing."
        )
    source = safe_book_path(quiz_path(chapter.path))
    label = chapter.label or slugify(chapter.title)
    has_widget = (co.directory / WIDGET_PATH).is_file()
    widget = widget_block(quiz, chapter.path) if has_widget else ""
    body = with_self_check(chapter.body, render_self_check(quiz, label, source, widget))
    if not has_widget:
        files_pr = await setup.pull_request()
        problems += (
            f"\n\nThe book has no quiz widget yet (`{WIDGET_PATH}`): the quiz shows as exercises "
            f"with collapsed solutions. Merge {files_pr} and comment the command again for the "
            "interactive version."
        )
    files: dict[str, str | None] = {
        source: quiz.json(),
        safe_book_path(chapter.path): render_chapter(chapter, body),
    }
    await status.progress(f"🔎 Checking the build of chapter {number} with its quiz…")
    seconds = time.monotonic() - started
    proposal = await propose(
        gh,
        request,
        co,
        files,
        branch=quiz_branch(chapter),
        title=f"Quiz for chapter {number}: {shorten(chapter.title, 200)}",
        body=(
            f"Adds a self-check quiz of {len(quiz.questions)} questions to **chapter {number}, "
            f"{shorten(chapter.title, 200)}**: `{source}` (JupyterQuiz JSON, the source of "
            f"truth) and the chapter's `## Self-check` section rendered from it.\n\n"
            + (
                "Extra instructions:\n\n> " + shorten(instructions).replace("\n", "\n> ") + "\n\n"
                if instructions
                else ""
            )
            + (f"{problems}\n" if problems else "")
        ),
        details=f"Model: {usage_line(results, seconds)}",
        redis=services.redis,
    )
    usage = usage_line(results, time.monotonic() - started)
    if proposal.pull_request is None or proposal.unchanged:
        return QuizOutcome(
            chapter,
            f"ℹ️ Chapter {number}: the quiz is {proposal.unchanged}, so nothing was committed "
            f"and {proposal.left_as_is}. — {usage}",
            True,
            True,
        )
    report = proposal.report
    clean = report is not None and report.clean
    line = f"{'✅' if clean else '⚠️'} Chapter {number}: {proposal.pull_request.html_url} — {usage}"
    if report is not None and not clean:
        line += f" — {verdict(report)}:\n{build_problems(report)}"
    return QuizOutcome(chapter, line, True, clean)


async def _guarded(*args: Any) -> QuizOutcome:
    """`_write_quiz`, with each chapter's failure kept to its own line."""
    chapter: Chapter = args[4]
    try:
        return await _write_quiz(*args)
    except Exception as exc:
        line = chapter_failure(chapter.number, exc, args[2]["repository"], "quiz")
        return QuizOutcome(chapter, line, False)


async def generate_quizzes(
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Write the selected chapters' quizzes, one PR each, and report them."""

    async def run(services: Services, gh: Any, status: StatusComment) -> str:
        selector = ChapterSelector(**command["selector"])
        await status.progress(f"📖 Reading the book at `{request['default_branch']}`…")
        with TemporaryDirectory(prefix="liquidbook-quiz-") as tmp:
            co = await checkout(gh, request["repository"], request["default_branch"], Path(tmp))
            chapters = co.book.chapter(selector)
            status.max_progress_edits = 3 * len(chapters) + 1
            await ask_first(
                ctx,
                "generate_quizzes",
                [request, command, status_ref],
                status,
                co.book.config,
                quizzes_estimate(services, co.book, chapters, command.get("instructions", "")),
            )
            setup = SetupOnce(services, gh, request, co)

            async def one(chapter: Chapter) -> QuizOutcome:
                outcome = await _guarded(
                    services,
                    gh,
                    request,
                    co.book,
                    chapter,
                    command.get("instructions", ""),
                    co,
                    status,
                    setup,
                )
                status.done.append(outcome.line)
                return outcome

            # In parallel, as `/generate chapter 1-5`: a quiz PR each, in the range's order.
            outcomes = await each_chapter(chapters, one)
        lines = "\n".join(f"- {o.line}" for o in outcomes)
        done, clean, count = (
            sum(o.ok for o in outcomes),
            sum(o.clean for o in outcomes),
            len(outcomes),
        )
        if clean == count:
            head = f"✅ Done: {count} quiz{'zes' if count != 1 else ''} proposed or up to date."
        elif done == count:
            head = "⚠️ Done, but the build check found problems (listed below and in the PR)."
        elif done:
            head = f"⚠️ Partly done: {done} of {count} quizzes proposed."
        else:
            head = f"❌ No quiz committed: 0 of {count}."
        await status.finish(f"{head}\n\n{lines}")
        return f"{done}/{count}"

    return await command_job(ctx, request, status_ref, "generate_quizzes", run)
