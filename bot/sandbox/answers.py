"""Waiting for the app's answers: status comments that are final, or a time-out.

The app answers each command of a comment with one status comment (marked by a hidden
`STATUS_MARKER`) that it edits as the job goes on; it is final once its text no longer
starts with one of the app's progress marks (`bot.status.PROGRESS_MARKS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.sandbox.app import AppChild
from bot.sandbox.console import say
from bot.sandbox.world import REPOSITORY
from bot.status import MARKER as STATUS_MARKER
from bot.status import PROGRESS_MARKS

POLL_SECONDS = 0.25
GOOD_MARKS = ("✅", "⚠️", "ℹ️")  # ℹ️: nothing needed changing, which is no failure
# Answers that are final without a verdict mark: the command only reports something.
REPORTING_COMMANDS = ("`/help`", "`/usage`")

T = TypeVar("T")


@dataclass
class CommentResult:
    """What one comment led to: its final status comments and the PRs its jobs wrote."""

    statuses: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = True


def final_answers(
    gh: Any, issue: int | None, comment_id: int, expected: int
) -> CommentResult | None:
    """Every status comment of one comment in a final state, or None while one is missing."""
    replies = [
        c
        for c in gh.comments(REPOSITORY, issue)
        if c["id"] > comment_id and (c.get("user") or {}).get("type") == "Bot"
    ]
    statuses = [c for c in replies if STATUS_MARKER in (c.get("body") or "")]
    refusals = [c for c in replies if STATUS_MARKER not in (c.get("body") or "")]
    if refusals:  # e.g. not allowed to run commands: no status comment will follow
        return CommentResult(statuses=refusals, ok=False)
    if len(statuses) < expected or not all(map(is_final, statuses)):
        return None
    return CommentResult(statuses=statuses, ok=all(map(is_success, statuses)))


def wait_for(
    probe: Callable[[], T | None], what: str, timeout: float, app: AppChild | None
) -> T | None:
    """Poll `probe` until it returns something, or say it timed out (with the app's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        if app is not None and app.exited():
            say(f"❌ The app exited while waiting for {what}:\n{app.log_tail()}")
            return None
        time.sleep(POLL_SECONDS)
    tail = app.log_tail() if app else ""
    say(f"❌ Timed out after {timeout:g} s waiting for {what}. The app's log ends:\n{tail}")
    return None


def status_text(comment: dict[str, Any]) -> tuple[str, str]:
    """A status comment's heading (`**…**`) and its text after it."""
    body = (comment.get("body") or "").replace(STATUS_MARKER, "").strip()
    heading, _, text = body.partition("\n")
    return heading.strip("* "), text.strip()


def is_final(comment: dict[str, Any]) -> bool:
    """Final unless the text starts with one of the app's progress marks."""
    return not status_text(comment)[1].startswith(PROGRESS_MARKS)


def is_success(comment: dict[str, Any]) -> bool:
    """✅, ⚠️ or ℹ️ (nothing changed), or the answer of a command that only reports
    (`/help`, `/usage`)."""
    heading, text = status_text(comment)
    return text.startswith(GOOD_MARKS) or heading.startswith(REPORTING_COMMANDS)
