"""`/revise chapter N <instructions>` on an issue: revise one chapter where its work lives.

A chapter has one branch, `liquidbook/chapter-<file>` (`bot.jobs.generate.chapter_branch`).
When that branch has an open pull request, the revision is one commit on top of it, exactly
as `/revise` in that PR's conversation (`bot.jobs.revise`): a reviewer's commits there are
the base it builds on. Otherwise the chapter is revised as it is on the default branch and
proposed through a new pull request on that branch, as a chapter job proposes one
(`bot.jobs.proposal.propose`: build-checked, the PR remembered for later runs).
"""

from __future__ import annotations

import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from githubkit import GitHub

from bot.book.selector import ChapterSelector
from bot.book_reader import checkout_commit
from bot.commit_on_top import CommitRecord
from bot.jobs.generate import chapter_branch
from bot.jobs.proposal import propose, usage_line
from bot.pending import Ask
from bot.pull_request import base_commit, shorten
from bot.services import Services
from bot.status import StatusComment


async def open_pull_on(gh: GitHub, full_name: str, branch: str) -> int | None:
    """The open pull request from `branch` of this repository, if any (one call)."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "GET",
        f"/repos/{owner}/{repo}/pulls",
        params={"head": f"{owner}:{branch}", "state": "open", "per_page": 1},
    )
    found = [p for p in response.json() if isinstance(p, dict)]
    return int(found[0]["number"]) if found else None


async def revise_chapter(
    services: Services,
    gh: GitHub,
    status: StatusComment,
    request: dict[str, Any],
    command: dict[str, Any],
    ask: Ask | None = None,
) -> str:
    """Revise the chapter the command names: on its open PR, or through a new one."""
    # Imported here: `bot.jobs.revise` runs this module's job for issue comments.
    from bot.jobs.revise import Revision, _revise

    full_name = request["repository"]
    selector = ChapterSelector(**command["chapter"])
    instructions = command["instructions"]
    started = time.monotonic()
    await status.progress("📖 Reading the book…")
    base = await base_commit(gh, full_name, request["default_branch"])
    with TemporaryDirectory(prefix="liquidbook-revise-chapter-") as tmp:
        co = await checkout_commit(gh, full_name, base, Path(tmp))
        [chapter] = co.book.chapter(selector)[:1]
        if chapter.missing or chapter.is_stub or not chapter.is_markdown:
            await status.finish(
                f"ℹ️ Chapter {chapter.number} is not written yet, so there is nothing to "
                f"revise: comment `/generate chapter {chapter.number}` with these instructions."
            )
            return "chapter not written"
        branch = chapter_branch(chapter)
        number = await open_pull_on(gh, full_name, branch)
        if number is None:
            revision = Revision(services, request, instructions, status, ask)
            texts = await revision.files(co, [chapter], "")
            old, new = texts.get(chapter.path, ("", ""))
            seconds = time.monotonic() - started
            if old == new:
                notes = "".join(f"\n- {note}" for note in revision.notes)
                await status.finish(
                    f"ℹ️ The revision of chapter {chapter.number} changed nothing, so no pull "
                    f"request was opened.{notes}"
                )
                return "unchanged"
            report = revision.reports[0][1] if revision.reports else None
            proposal = await propose(
                gh,
                request,
                co,
                {chapter.path: new},
                branch=branch,
                title=f"Revise chapter {chapter.number}: {shorten(chapter.title, 200)}",
                body=(
                    f"Revises **chapter {chapter.number}, {shorten(chapter.title, 200)}** "
                    f"(`{chapter.path}`) as asked:\n\n> "
                    + shorten(instructions).replace("\n", "\n> ")
                    + "\n"
                ),
                details=f"Model: {usage_line(revision.results, seconds)}",
                redis=services.redis,
                report=report,
                status=status,
            )
            if proposal.pull_request is None or proposal.unchanged:
                await status.finish(
                    f"ℹ️ Chapter {chapter.number}: nothing changed — the revision is "
                    f"{proposal.unchanged}, so nothing was committed."
                )
                return "unchanged"
            mark = "✅" if report is None or report.clean else "⚠️"
            notes = "".join(f"\n- {note}" for note in revision.notes)
            await status.finish(
                f"{mark} Revised chapter {chapter.number} in "
                f"{proposal.pull_request.html_url} (a new pull request on `{branch}`).{notes}"
                f"\n\nModel: {usage_line(revision.results, time.monotonic() - started)}"
            )
            return "revised in a new pull request"
    key = f"{full_name}:{request['comment_id']}:chapter:{number}"
    on_pull = {**request, "issue_number": number, "pull_request": True}
    return await _revise(
        services,
        gh,
        status,
        on_pull,
        instructions,
        CommitRecord(services.redis, key),
        [],
        ask,
    )
