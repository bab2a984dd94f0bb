"""`/suggest …` on lines of a pull request: a suggested change in the thread, one click away.

The job reads the PR (its current head), the book at that head, and asks the model for the
commented lines only (`start_line`..`line`, right side) with the chapter around them in view
(`bot.book.suggestion`). The answer is cleaned, applied to the file as GitHub would apply
the suggestion, and that file is build-checked; the reply holds one ```` ```suggestion ````
block replacing exactly those lines, the build's verdict, model, tokens, cost and time.

A comment GitHub marks outdated (`line: null`) cannot take a suggestion: its lines are
found in the current file (`remap_range`) and the suggestion is posted as a new line comment
there, linked from the reply in the old thread. Lines outside the PR's diff get a sentence
saying so, never a failed job.
"""

from __future__ import annotations

import base64
import functools
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, cast

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.book.check import check_book
from bot.book.paths import safe_book_path
from bot.book.suggestion import (
    apply_lines,
    clean_replacement,
    remap_range,
    suggestion_block,
    suggestion_prompt,
)
from bot.book_reader import checkout_commit
from bot.jobs.proposal import budget_for, build_problems, models_for, text_request, usage_line
from bot.jobs.revise import read_pull
from bot.jobs.runner import command_job
from bot.pending import Ask, Estimate, ask_first
from bot.providers import TextResult
from bot.pull_request import BaseCommit
from bot.services import Services
from bot.status import StatusComment
from bot.usage import UsageContext

SUGGESTION_MAX_TOKENS = 8000
SUGGESTION_TYPICAL_TOKENS = 800  # a few lines, for the estimate's "about"


class NoSuggestion(Exception):
    """The lines cannot take a suggestion; the sentence (with its mark) says why."""


async def file_at(gh: GitHub, full_name: str, path: str, ref: str) -> str | None:
    """The text of `path` at commit `ref`, or None when it is not there."""
    owner, _, repo = full_name.partition("/")
    try:
        response = await gh.arequest(
            "GET", f"/repos/{owner}/{repo}/contents/{path}", params={"ref": ref}
        )
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return None
        raise
    data = response.json()
    if not isinstance(data, dict) or data.get("encoding") != "base64":
        return None
    return base64.b64decode(data["content"]).decode("utf-8", errors="replace")


def span(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}–{end}"


async def current_range(gh: GitHub, request: dict[str, Any], text: str) -> tuple[int, int, bool]:
    """The commented lines in the file at the head: (start, end, outdated)."""
    line = request.get("line")
    if isinstance(line, int):
        return int(request.get("start_line") or line), line, False
    end = request.get("original_line")
    commit = request.get("original_commit_id")
    if not isinstance(end, int) or not isinstance(commit, str):
        raise NoSuggestion(
            "❌ GitHub sent no line for this comment, so there is nothing to change."
        )
    start = int(request.get("original_start_line") or end)
    old = await file_at(gh, request["repository"], request["path"], commit)
    mapped = remap_range(old, text, start, end) if old is not None else None
    if mapped is None:
        raise NoSuggestion(
            f"⚠️ This comment is outdated and its {span(start, end)} have changed since, so a "
            "suggestion for them could not be placed. Comment on the current lines instead."
        )
    return mapped[0], mapped[1], True


async def post_line_comment(
    gh: GitHub, request: dict[str, Any], head: str, start: int, end: int, body: str
) -> str | None:
    """A new line comment on the current lines (its URL), or None when GitHub refuses them
    as outside the diff."""
    owner, _, repo = request["repository"].partition("/")
    payload: dict[str, Any] = {
        "body": body,
        "commit_id": head,
        "path": request["path"],
        "line": end,
        "side": "RIGHT",
    }
    if start != end:
        payload |= {"start_line": start, "start_side": "RIGHT"}
    try:
        response = await gh.arequest(
            "POST", f"/repos/{owner}/{repo}/pulls/{request['issue_number']}/comments", json=payload
        )
    except RequestFailed as exc:
        if exc.response.status_code == 422:
            return None
        raise
    return str(response.json().get("html_url") or "")


async def _suggest(
    services: Services,
    gh: GitHub,
    status: StatusComment,
    request: dict[str, Any],
    instructions: str,
    ask: Ask,
) -> str:
    started = time.monotonic()
    full_name, path = request["repository"], str(request.get("path") or "")
    if request.get("side", "RIGHT") != "RIGHT":
        raise NoSuggestion(
            "❌ A suggestion replaces lines of the new version: comment on the right side of "
            "the diff."
        )
    await status.progress("📖 Reading the pull request and its book…")
    pull = await read_pull(gh, full_name, request["issue_number"])
    head = str(pull["head"]["sha"])
    with TemporaryDirectory(prefix="liquidbook-suggest-") as tmp:
        co = await checkout_commit(
            gh, full_name, BaseCommit(pull["head"]["ref"], head, ""), Path(tmp)
        )
        chapter = next((c for c in co.book.toc if c.path == path and c.is_markdown), None)
        if chapter is None:
            raise NoSuggestion(
                f"❌ `{path}` is not a Markdown chapter of the book, so Liquid Book does not "
                "write suggestions for it."
            )
        text = (co.directory / safe_book_path(path)).read_text(encoding="utf-8")
        start, end, outdated = await current_range(gh, request, text)
        lines = text.split("\n")
        if not 1 <= start <= end <= len(lines):
            raise NoSuggestion(f"❌ `{path}` has no {span(start, end)} at the PR's head.")
        models = models_for(co.book.config, services.settings)
        prompt = suggestion_prompt(co.book, chapter, text, start, end, instructions)
        asked = text_request(prompt, SUGGESTION_MAX_TOKENS)
        await ask(co.book.config, Estimate.text(models[0], asked, SUGGESTION_TYPICAL_TOKENS))
        await status.progress(f"✍️ Writing a suggestion with `{models[0]}`…")
        result = cast(
            TextResult,
            await services.model_client().generate_text(
                asked,
                models=models,
                context=UsageContext(request["installation_id"], full_name, "revise"),
                monthly_budget_usd=budget_for(co.book.config, services.settings),
            ),
        )
        original = "\n".join(lines[start - 1 : end])
        replacement = clean_replacement(result.text, original, path, co.directory)
        if replacement == original:
            await status.finish(
                f"ℹ️ The model left {span(start, end)} as they are, so there is no suggestion.\n\n"
                f"Model: {usage_line(result, time.monotonic() - started)}"
            )
            return "unchanged"
        await status.progress("🔎 Checking the build with the suggestion applied…")
        report = await check_book(
            co.directory, files={path: apply_lines(text, start, end, replacement)}
        )
    verdict = (
        "Applied, the book builds cleanly."
        if report.clean
        else f"Applied, the build reports:\n{build_problems(report)}"
    )
    mark = "✅" if report.ok else "⚠️"
    answer = (
        f"{mark} A suggested change for {span(start, end)} of `{path}`:\n\n"
        f"{suggestion_block(replacement)}\n\n{verdict}\n\n"
        f"Model: {usage_line(result, time.monotonic() - started)}"
    )
    if not outdated:
        await status.finish(answer)
        return "suggested"
    url = await post_line_comment(
        gh, request, head, start, end, StatusComment.render(status.heading, answer)
    )
    if url is None:
        await status.finish(
            f"⚠️ This comment is outdated; its lines are now {span(start, end)} of `{path}`, "
            "which are outside the pull request's diff, so GitHub cannot take a suggestion "
            f"there. The change, to make by hand:\n\n{suggestion_block(replacement)}"
        )
        return "outside the diff"
    await status.finish(
        f"{mark} This comment is outdated, so the suggestion is on the current lines "
        f"({span(start, end)}): {url}"
    )
    return "suggested on the current lines"


async def suggest_lines(
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Answer a `/suggest` line comment with a suggested change in its thread."""

    async def run(services: Services, gh: Any, status: StatusComment) -> str:
        try:
            ask = functools.partial(
                ask_first, ctx, "suggest_lines", [request, command, status_ref], status
            )
            return await _suggest(services, gh, status, request, command["instructions"], ask)
        except NoSuggestion as exc:
            await status.finish(str(exc))
            return "no suggestion"

    return await command_job(ctx, request, status_ref, "suggest_lines", run)
