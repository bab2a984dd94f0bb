"""Ask the model for a chapter, clean it, build-check it, and give it one fix-up round.

Every job that writes a chapter's text (`/generate chapter`, `/revise`) goes through the same
steps, so a revision is held to what a first draft is: the answer is cleaned
(`bot.book.clean`), rendered with the chapter's own front matter, built with `jupyter-book`
on the checkout with the change applied; when the build has errors the model gets its text
as checked and the ⛔️ lines once, and the version with fewer errors wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from bot.book.chapters import Chapter, has_body
from bot.book.check import BuildReport, check_book, plural
from bot.book.clean import clean_chapter_body
from bot.book.model import Book, BookError
from bot.book.paths import safe_book_path
from bot.book.prompts import Prompt, repair_request
from bot.book.render import render_chapter
from bot.book_reader import BookCheckout
from bot.jobs.proposal import budget_for, models_for, text_request
from bot.providers import ProviderError, TextResult
from bot.services import Services
from bot.usage import UsageContext

CHAPTER_MAX_TOKENS = 16000
MAX_PROBLEMS_SENT = 20  # build problems sent back to the model with its chapter

# (emoji, sentence) → an edit of the status comment; the job decides how it shows.
Stage = Callable[[str, str], Awaitable[None]]


class Unwritten(Exception):
    """The model gave no usable chapter (an error, or an answer cut off); the sentence says
    why, and nothing is committed."""


@dataclass
class Draft:
    """One version of a chapter: the file's text, what clean-up repaired, what the build said."""

    content: str
    body: str
    fixes: list[str]
    report: BuildReport


@dataclass
class Written:
    """The version to propose, every model call made for it, and how the fix-up round went."""

    draft: Draft
    results: list[TextResult]
    repair_note: str


def problems_in_body(report: BuildReport, chapter: Chapter, content: str, body: str) -> list[str]:
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


async def write_chapter(
    services: Services,
    book: Book,
    chapter: Chapter,
    prompt: Prompt,
    co: BookCheckout,
    context: UsageContext,
    stage: Stage,
    name: str,
) -> Written:
    """The chapter's new text, cleaned and build-checked, after at most one fix-up round.

    Raises `Unwritten` with the sentence for the author when the model gave nothing usable.
    """
    config = book.config
    models = models_for(config, services.settings)
    path = safe_book_path(chapter.path)

    def acceptable(answer: str) -> str | None:
        """A chapter answer needs a body once cleaned: one without (empty, front matter or
        a title alone) would delete the chapter's text, so that model failed."""
        if has_body(clean_chapter_body(answer, book, chapter).body):
            return None
        return "answered with no chapter text (nothing but front matter, a title or blank lines)"

    async def ask(request: Any) -> TextResult:
        return cast(
            TextResult,
            await services.model_client().generate_text(
                replace(request, accept=acceptable),
                models=models,
                context=context,
                monthly_budget_usd=budget_for(config, services.settings),
            ),
        )

    async def draft(answer: str, again: bool) -> Draft:
        cleaned = clean_chapter_body(answer, book, chapter)
        if not has_body(cleaned.body):
            # `acceptable` already failed such an answer; never commit one that got past.
            raise BookError("the model's answer has no chapter text, so the chapter keeps its own")
        content = render_chapter(chapter, cleaned.body)
        again_word = "the corrected " if again else ""
        await stage("🔎", f"Checking the build of {again_word}{name} with `jupyter-book`…")
        report = await check_book(co.directory, files={path: content})
        return Draft(content, cleaned.body, cleaned.fixes, report)

    results: list[TextResult] = []
    try:
        results.append(await ask(text_request(prompt, CHAPTER_MAX_TOKENS)))
    except ProviderError as exc:
        raise Unwritten(exc.user_message) from None
    if results[0].truncated:
        raise Unwritten(
            "the model's answer was cut off at its length limit even after asking it to "
            "continue. Ask for a shorter text in the lines below the command, or configure a "
            "model with a longer output."
        )
    first = await draft(results[0].text, again=False)
    chosen, repair_note = first, ""
    if first.report.errors:
        # One chance to fix what the build found: the model gets its chapter (as checked)
        # and the problems, and the better of the two versions is proposed.
        count = len(first.report.errors)
        await stage(
            "🔧",
            f"The build check found {plural(count, 'error')} in {name}; asking "
            f"`{results[0].model}` to fix them…",
        )
        follow_up = repair_request(
            problems_in_body(first.report, chapter, first.content, first.body)
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
    return Written(chosen, results, repair_note)
