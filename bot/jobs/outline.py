"""`/outline <description>`: plan the book and propose it as one pull request.

The model answers with JSON (see `bot.book.prompts.outline_prompt`); the PR writes the toc in
`myst.yml`, one stub file per new chapter with its front matter, and `.github/liquidbook.yml`.
Existing chapters the plan keeps (by file or title) keep their text, and a written chapter
the plan forgets stays in the toc (`bot.book.replan`); the PR lists what moved. An answer with
no readable outline fails that model, so the fallback chain goes on; a plan that changes
nothing commits nothing (ℹ️).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bot import pending
from bot.book.outline import OutlineError, guard_outline, parse_outline, plan_outline
from bot.book.prompts import outline_prompt
from bot.book_reader import checkout
from bot.jobs.proposal import (
    budget_for,
    build_problems,
    models_for,
    propose,
    text_request,
    usage_line,
    verdict,
)
from bot.jobs.runner import command_job
from bot.pull_request import shorten
from bot.services import Services
from bot.status import StatusComment
from bot.usage import UsageContext

OUTLINE_MAX_TOKENS = 8000
OUTLINE_TYPICAL_TOKENS = 3000  # an outline's usual answer, for the estimate's "about"
OUTLINE_BRANCH = "liquidbook/outline"
SUMMARY_LIMIT = 400  # of each chapter's summary in the PR body (the stub files hold it all)


def readable_outline(answer: str) -> str | None:
    """The provider layer's check of an outline answer: one with no outline in it (prose, a
    refusal, JSON missing the chapters) fails that model, so the fallback chain goes on
    rather than the job failing on the first model's answer."""
    try:
        parse_outline(answer)
    except OutlineError as error:
        return f"answered with no usable outline ({error})"
    return None


async def outline_book(
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Ask the model for an outline and open the PR that writes it."""

    async def run(services: Services, gh: Any, status: StatusComment) -> str:
        started = time.monotonic()
        await status.progress(f"📖 Reading the book at `{request['default_branch']}`…")
        with TemporaryDirectory(prefix="liquidbook-") as tmp:
            scratch = Path(tmp)
            co = await checkout(gh, request["repository"], request["default_branch"], scratch)
            config = co.book.config
            models = models_for(config, services.settings)
            await status.progress(f"✍️ Planning the outline with `{models[0]}`…")
            prompt = outline_prompt(config, command["description"], co.book)
            asked = replace(text_request(prompt, OUTLINE_MAX_TOKENS), accept=readable_outline)
            # The estimate first; over `budget.confirm_above_usd` it waits for `/confirm`.
            typical, worst = pending.request_estimate(models[0], asked, OUTLINE_TYPICAL_TOKENS)
            args = [request, command, status_ref]
            limit = config.budget.confirm_above_usd
            if await pending.gate(
                services, ctx, "outline_book", args, status, limit, typical, worst
            ):
                return "awaiting confirmation"
            result = await services.model_client().generate_text(
                asked,
                models=models,
                context=UsageContext(request["installation_id"], request["repository"], "outline"),
                monthly_budget_usd=budget_for(config, services.settings),
            )
            if result.truncated:
                await status.finish(
                    "❌ The model's outline was cut off at its length limit, so nothing was committed. Try a shorter description or fewer chapters."
                )
                return "truncated"
            outline, repairs = guard_outline(parse_outline(result.text), co.book)
            plan = plan_outline(co.book, outline, config, command["description"])
            files = plan.files
            changes = plan.changes.markdown()
            chapters = "\n".join(
                f"{i}. **{shorten(c.title, 200)}** — {shorten(c.summary, SUMMARY_LIMIT)}"
                for i, c in enumerate(outline.chapters, 1)
            )
            body = (
                f"Proposes an outline for **{shorten(outline.title, 300)}** "
                f"({len(outline.chapters)} chapters):\n\n{chapters}\n\n"
                "The description asked for:\n\n> "
                + shorten(command["description"]).replace("\n", "\n> ")
                + (f"\n\n{changes}" if changes else "")
                + "\n\nEdit the titles, order or summaries right in this PR; after merging, "
                "`/generate chapter N` writes a chapter."
                + (
                    "\n\nRepairs made to the model's answer:"
                    + "".join(f"\n- {fix}" for fix in repairs)
                    if repairs
                    else ""
                )
            )
            details = (
                "Files: "
                + ", ".join(
                    f"`{p}`" + (" (removed)" if files[p] is None else "") for p in sorted(files)
                )
                + "\n\n"
                + f"Model: {usage_line(result, time.monotonic() - started)}"
            )
            proposal = await propose(
                gh,
                request,
                co,
                files,
                branch=OUTLINE_BRANCH,
                title=f"Outline: {shorten(outline.title, 200)}",
                body=body,
                details=details,
                redis=services.redis,
                status=status,
            )
        report = proposal.report
        if proposal.pull_request is None or report is None or proposal.unchanged:
            await status.finish(
                f"ℹ️ Nothing changed: the outline the model proposed is {proposal.unchanged}, "
                f"so nothing was committed and {proposal.left_as_is}.\n\n"
                f"{usage_line(result, time.monotonic() - started)}"
            )
            return "unchanged"
        mark = "✅" if report.clean else "⚠️"
        check = "" if report.clean else f" — {verdict(report)}:\n{build_problems(report)}"
        await status.finish(
            f"{mark} Outline of {len(outline.chapters)} chapters: "
            f"{proposal.pull_request.html_url}{check}\n\n"
            f"{usage_line(result, time.monotonic() - started)}"
        )
        return f"pr #{proposal.pull_request.number}"

    return await command_job(ctx, request, status_ref, "outline_book", run)
