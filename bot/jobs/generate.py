"""`/generate chapter N | N-M | all | "title"`: write chapters, one pull request each.

The book is read once at the default branch's head; every selected chapter is written with
the style guide, the whole outline and its neighbours' summaries in the prompt, cleaned of
what models typically get wrong, build-checked, and proposed on its own branch
(`liquidbook/chapter-<file>`), so a re-run updates the same PR. Chapters run in parallel,
bounded, within the installation's budget (the provider layer refuses calls past it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from githubkit.exception import RequestFailed

from bot.book.chapters import Chapter
from bot.book.clean import clean_chapter_body
from bot.book.model import Book, BookError
from bot.book.paths import UnsafePathError
from bot.book.prompts import chapter_prompt
from bot.book.render import render_chapter, slugify
from bot.book.selector import ChapterSelector
from bot.book_reader import checkout
from bot.jobs.outline import OUTLINE_BRANCH
from bot.jobs.proposal import budget_for, models_for, propose, text_request, usage_line
from bot.jobs.runner import command_job
from bot.providers import ProviderError
from bot.pull_request import BRANCH_PREFIX, BranchEdited, KnownPullRequests, WriteRefused
from bot.services import Services
from bot.usage import UsageContext

log = logging.getLogger(__name__)

MAX_PARALLEL = 4
CHAPTER_MAX_TOKENS = 16000


@dataclass
class ChapterOutcome:
    chapter: Chapter
    line: str
    ok: bool


def describe(chapters: list[Chapter]) -> str:
    if len(chapters) == 1:
        return f"chapter {chapters[0].number} ({chapters[0].title})"
    return f"{len(chapters)} chapters ({chapters[0].number}–{chapters[-1].number})"


async def _write_one(
    services: Services,
    gh: Any,
    request: dict[str, Any],
    book: Book,
    chapter: Chapter,
    instructions: str,
    co: Any,
    scratch: Path,
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
    prompt = chapter_prompt(book, chapter, instructions)
    context = UsageContext(
        request["installation_id"], request["repository"], f"generate chapter {chapter.number}"
    )
    try:
        result = await services.model_client().generate_text(
            text_request(prompt, CHAPTER_MAX_TOKENS),
            models=models_for(config, services.settings),
            context=context,
            monthly_budget_usd=budget_for(config, services.settings),
        )
    except ProviderError as exc:
        return ChapterOutcome(chapter, f"❌ Chapter {chapter.number}: {exc.user_message}", False)
    if result.truncated:
        return ChapterOutcome(
            chapter,
            f"❌ Chapter {chapter.number}: the model's answer was cut off at its length limit "
            f"even after asking it to continue, so nothing was committed. Ask for a shorter "
            f"chapter in the lines below the command, or configure a model with a longer output.",
            False,
        )
    cleaned = clean_chapter_body(result.text, book, chapter)
    content = render_chapter(chapter, cleaned.body)
    fixes = "".join(f"\n- {fix}" for fix in cleaned.fixes)
    body = (
        f"Writes **chapter {chapter.number}, {chapter.title}** (`{chapter.path}`).\n\n"
        + (f"Extra instructions: {instructions}\n\n" if instructions else "")
        + f"Model: {usage_line(result, time.monotonic() - started)}\n"
        + (f"\nRepairs made to the model's answer:{fixes}\n" if fixes else "")
    )
    proposal = await propose(
        gh,
        request,
        co,
        {chapter.path: content},
        branch=chapter_branch(chapter),
        title=f"Write chapter {chapter.number}: {chapter.title}",
        body=body,
        scratch=scratch,
        redis=services.redis,
    )
    mark = "✅" if proposal.report.clean else "⚠️"
    return ChapterOutcome(
        chapter,
        f"{mark} Chapter {chapter.number}: {proposal.pull_request.html_url} — "
        f"{usage_line(result, time.monotonic() - started)}"
        + ("" if proposal.report.clean else " — the build check found problems, listed in the PR"),
        True,
    )


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
    co: Any,
    scratch: Path,
) -> ChapterOutcome:
    """`_write_one`, with each chapter's failure kept to its own line: one chapter that
    cannot be written never stops or hides the others."""
    number = chapter.number
    try:
        return await _write_one(services, gh, request, book, chapter, instructions, co, scratch)
    except BranchEdited as exc:
        return ChapterOutcome(
            chapter,
            f"⚠️ Chapter {number}: {exc}. Merge or close its pull request and delete "
            f"`{exc.branch}` to have it written afresh.",
            False,
        )
    except (UnsafePathError, WriteRefused, BookError) as exc:
        return ChapterOutcome(chapter, f"❌ Chapter {number}: refused to write: {exc}.", False)
    except RequestFailed as exc:
        log.warning("chapter %s of %s: GitHub %s", number, request["repository"], exc)
        return ChapterOutcome(
            chapter,
            f"❌ Chapter {number}: GitHub answered {exc.response.status_code} while opening "
            "its pull request. Comment the command again to retry.",
            False,
        )
    except Exception:
        log.exception("chapter %s of %s failed", number, request["repository"])
        return ChapterOutcome(
            chapter,
            f"❌ Chapter {number}: something went wrong on our side; the operators have the "
            "details. Comment the command again to retry.",
            False,
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


async def generate_chapters(
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Write the selected chapters and report each PR in the status comment."""

    async def run(services: Services, gh: Any, status: Any) -> str:
        selector = ChapterSelector(**command["selector"])
        with TemporaryDirectory(prefix="liquidbook-") as tmp:
            scratch = Path(tmp)
            co = await checkout(gh, request["repository"], request["default_branch"], scratch)
            try:
                chapters = co.book.chapter(selector)
            except BookError as exc:
                raise BookError(await _with_outline_hint(services, request, str(exc))) from None
            models = models_for(co.book.config, services.settings)
            await status.progress(f"✍️ Writing {describe(chapters)} with `{models[0]}`…")
            gate = asyncio.Semaphore(MAX_PARALLEL)
            writing = f"✍️ Writing {describe(chapters)} with `{models[0]}`…"

            async def bounded(chapter: Chapter) -> ChapterOutcome:
                async with gate:
                    outcome = await _guarded(
                        services,
                        gh,
                        request,
                        co.book,
                        chapter,
                        command.get("instructions", ""),
                        co,
                        scratch,
                    )
                status.done.append(outcome.line)
                if len(status.done) < len(chapters):
                    # Several chapters: show each as it lands (throttled), so a long run
                    # says what it has done so far.
                    so_far = "\n".join(f"- {line}" for line in status.done)
                    await status.progress(
                        f"{writing}\n\n{len(status.done)} of {len(chapters)} done:\n{so_far}"
                    )
                return outcome

            outcomes = await asyncio.gather(*(bounded(c) for c in chapters))
        lines = "\n".join(f"- {o.line}" for o in outcomes)
        done = sum(o.ok for o in outcomes)
        verdict = (
            "✅ Done"
            if done == len(outcomes)
            else ("⚠️ Partly done" if done else "❌ Nothing written")
        )
        await status.finish(
            f"{verdict}: {done} of {len(outcomes)} pull requests opened or updated.\n\n{lines}"
        )
        return f"{done}/{len(outcomes)}"

    return await command_job(ctx, request, status_ref, "generate_chapters", run)
