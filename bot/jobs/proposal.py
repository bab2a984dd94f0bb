"""What every book-writing job ends with: check the changed book, commit it, open the PR.

The files a job writes pass `safe_book_path` first (no model answer or comment text can reach
`.github/workflows/` or leave the repository), the book is built with the real `jupyter-book`
on a copy with the change applied, and the PR says what the build found.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from githubkit import GitHub

from bot.book.check import BuildReport, check_book
from bot.book.config import BookConfig
from bot.book.paths import safe_book_path
from bot.book.prompts import Prompt
from bot.book_reader import BookCheckout
from bot.providers import TextRequest, TextResult
from bot.pull_request import (
    KnownPullRequests,
    PullRequest,
    commit_files,
    open_or_update_pull_request,
)
from bot.settings import Settings


@dataclass(frozen=True)
class Proposal:
    """A job's change as it landed: the PR and what the build check said."""

    pull_request: PullRequest
    report: BuildReport


def models_for(config: BookConfig, settings: Settings) -> list[str]:
    """The fallback chain: the book's choice first, else the server's defaults."""
    first = config.models.text or settings.liquidbook_model
    rest = config.models.fallbacks if config.models.text else settings.liquidbook_fallback_models
    return list(dict.fromkeys([first, *rest]))


def budget_for(config: BookConfig, settings: Settings) -> Decimal:
    """The monthly budget for calls from this book: the installation's, or lower if the
    book's settings say so. A book can never raise it: anyone who can push to a book could
    otherwise lift the operator's cap on spending."""
    operator = Decimal(str(settings.liquidbook_monthly_budget_usd))
    value = config.budget.monthly_usd
    return operator if value is None else min(operator, Decimal(str(value)))


def text_request(prompt: Prompt, max_tokens: int) -> TextRequest:
    """A model request from a book prompt, its stable prefix first so providers can cache it."""
    user = prompt.user
    if prompt.stable_prefix and user.startswith(prompt.stable_prefix):
        rest = user[len(prompt.stable_prefix) :].lstrip()
        return TextRequest(
            system=prompt.system,
            stable_prefix=prompt.stable_prefix,
            prompt=rest,
            max_tokens=max_tokens,
        )
    return TextRequest(system=prompt.system, prompt=user, max_tokens=max_tokens)


def usage_line(result: TextResult, seconds: float) -> str:
    """Model, tokens, cost and time, for status comments and PR bodies."""
    usage = result.usage
    cost = sum((a.usage.cost_usd for a in result.attempts), Decimal(0)) or usage.cost_usd
    tried = ""
    if len(result.attempts) > 1:
        tried = (
            " (after " + "; ".join(f"`{a.model}` {a.summary()}" for a in result.attempts[:-1]) + ")"
        )
    return (
        f"`{result.model}`{tried} · {usage.tokens_in:,} tokens in, {usage.tokens_out:,} out · "
        f"${cost:.4f} · {seconds:.1f} s"
    )


def _apply(source: Path, variant: Path, files: Mapping[str, str]) -> None:
    """A copy of the book at `variant` with `files` written over it."""
    shutil.copytree(source, variant, ignore=shutil.ignore_patterns("_build"))
    for path, text in files.items():
        target = variant / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


async def propose(
    gh: GitHub,
    request: Mapping[str, Any],
    checkout: BookCheckout,
    files: Mapping[str, str],
    *,
    branch: str,
    title: str,
    body: str,
    scratch: Path,
    redis: Any,
) -> Proposal:
    """Build-check `files` on top of the checkout, then commit them to `branch` and open the PR."""
    safe = {safe_book_path(path): text for path, text in files.items()}
    variant = scratch / branch.replace("/", "_")
    # File work runs in a thread: in `liquidbook serve` this loop also answers webhooks.
    await asyncio.to_thread(_apply, checkout.directory, variant, safe)
    report = await check_book(variant)
    await asyncio.to_thread(shutil.rmtree, variant, True)
    known = KnownPullRequests(redis, request["repository"])
    number = await known.get(branch)
    await commit_files(
        gh,
        request["repository"],
        checkout.base,
        branch,
        safe,
        title,
        branch_exists=number is not None,
        memory=known,
    )
    where = f"#{request['issue_number']}"
    full_body = (
        f"{body}\n\n### Build check\n\n{report.markdown()}\n\n---\n"
        f"Requested by @{request['author']} in {where} ({request.get('comment_url') or 'comment'}). "
        "Merge when it reads right. To have it rewritten, comment the command again with "
        "instructions on the lines below it; commits you push to this branch are never "
        "overwritten (a re-run stops and says so instead)."
    )
    pr = await open_or_update_pull_request(
        gh,
        request["repository"],
        branch=branch,
        base=checkout.base.branch,
        title=title,
        body=full_body,
        known_number=number,
    )
    await known.remember(branch, pr.number)
    return Proposal(pr, report)
