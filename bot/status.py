"""The one living status comment a command gets: created at once, edited as the job moves.

A job reports its stages (reading the book, writing, checking the build, opening the PR) with
`progress`. GitHub calls are the job's budget, so intermediate edits are throttled: a stage
is written only once it has lasted `MIN_EDIT_INTERVAL` and the previous edit is at least that
old. It waits in the background meanwhile, replaced by any newer stage, and is dropped if
the job finishes first. A fast job thus spends no call on its stages, while what a slow job
is waiting for (a slow model, a long build) shows. At most `max_progress_edits` intermediate
edits are made; the final answer (`finish`) is always written: when editing the comment
keeps failing, it is posted as a new comment instead, so an author is never left with
"⏳ Queued". The comment carries a hidden marker so people and the app can tell which command
it answers, and a footer that is never cut (GitHub's 65,536-character limit cuts the text
above it instead).

Everything a job writes here may quote text nobody vetted (a title a model chose, a line of
the comment, a commit message): its `@mentions` are neutralised (`bot.mentions`), except the
heading's "requested by @login", which names the person the comment answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from githubkit import GitHub

from bot.github import find_after_timeout, timed_out
from bot.mentions import neutralise_mentions
from bot.pull_request import fit, shorten

log = logging.getLogger(__name__)

MARKER = "<!-- liquidbook:status -->"
# What a stage starts with (queued, reading, writing, fixing, checking, opening the PR). A
# comment whose text starts with none of them is final; the sandbox reads them that way.
PROGRESS_MARKS = ("⏳", "📖", "✍️", "🔧", "🔎", "📬")
# A stage shown sooner costs a GitHub call for what a person barely sees: a one-chapter
# build check lasts 1–2 s, a model writing a chapter tens of seconds.
MIN_EDIT_INTERVAL = 3.0
HEADING_LIMIT = 300
DEFAULT_PROGRESS_EDITS = 3
# The final answer's edit is tried this many times, this many seconds apart, before it is
# posted as a new comment.
FINISH_EDITS = 2
FINISH_PAUSE = 1.0
REPLACED_NOTE = "_(Posted anew: the status comment above could not be edited.)_"
# The end of a command's heading (`bot.jobs.acknowledge.heading`): the one mention kept.
_REQUESTER = re.compile(r" — requested by @[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


@dataclass
class StatusComment:
    """An existing comment the app owns on an issue or PR."""

    gh: GitHub
    full_name: str
    comment_id: int
    heading: str
    # Shown under every version of the comment and never cut (e.g. "the words after
    # `/init` were ignored").
    footer: str = ""
    # The issue or PR it is on (where the final answer goes if the comment cannot be
    # edited); read from the comment when not known.
    issue_number: int | None = None
    # Intermediate edits this job may make, and has made.
    max_progress_edits: int = DEFAULT_PROGRESS_EDITS
    progress_edits: int = 0
    _last_edit: float = field(default=0.0)
    # Work already finished (one line each, e.g. a PR opened), so an interruption can say
    # what was done before it.
    done: list[str] = field(default_factory=list)
    # The work not finished yet (one line each), for the final status of a cancelled job.
    remaining: Callable[[], list[str]] | None = field(default=None, repr=False)
    _pending: str | None = field(default=None, repr=False)
    _since: float = field(default=0.0, repr=False)
    _timer: asyncio.Task[None] | None = field(default=None, repr=False)
    _finished: bool = field(default=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @staticmethod
    def render(heading: str, text: str, footer: str = "") -> str:
        """The comment body: marker, a bold heading line, the text, then the footer; every
        mention neutralised but the requester's at the end of the heading."""
        requester = _REQUESTER.search(heading)
        suffix = requester.group(0) if requester else ""
        heading = neutralise_mentions(heading[: len(heading) - len(suffix)])
        top = f"{MARKER}\n**{shorten(heading, HEADING_LIMIT)}{suffix}**\n\n" + neutralise_mentions(
            text.rstrip()
        )
        footer = neutralise_mentions(footer.strip())
        return fit(top, f"\n\n{footer}\n" if footer else "\n")

    async def _edit(self, text: str) -> None:
        owner, _, repo = self.full_name.partition("/")
        await self.gh.arequest(
            "PATCH",
            f"/repos/{owner}/{repo}/issues/comments/{self.comment_id}",
            json={"body": self.render(self.heading, text, self.footer)},
        )
        self._last_edit = time.monotonic()

    async def progress(self, stage: str, *, update: bool = False) -> None:
        """Show a stage (e.g. "✍️ Writing chapter 3 with `openai:gpt-4.1`…") once it has
        lasted a moment, unless a newer stage or the final answer comes first. `update`: the
        same stage with new details (a chapter of several done), which does not start its
        moment again. A stage starts with one of `PROGRESS_MARKS`."""
        if not stage.startswith(PROGRESS_MARKS):
            raise ValueError(f"a stage starts with one of {PROGRESS_MARKS}: {stage[:40]!r}")
        if self._finished or not self._may_edit():
            return
        if not (update and self._pending is not None):
            self._since = time.monotonic()
        self._pending = stage
        if self._timer is None:
            self._timer = asyncio.create_task(self._show_later())

    def _may_edit(self) -> bool:
        return self.progress_edits < self.max_progress_edits

    async def _show_later(self) -> None:
        try:
            while True:
                due = max(self._since, self._last_edit) + MIN_EDIT_INTERVAL
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
                    continue  # a newer stage may have come meanwhile
                async with self._lock:
                    stage, self._pending = self._pending, None
                    if stage is None or self._finished or not self._may_edit():
                        return
                    self.progress_edits += 1
                    try:
                        await self._edit(stage)
                    except Exception as exc:  # a progress edit is worth no failed job
                        log.warning(
                            "status comment %s: progress edit failed: %s", self.comment_id, exc
                        )
                return
        finally:
            self._timer = None

    async def finish(self, text: str) -> None:
        """The final answer: always written, after any stage edit already under way. An
        edit that keeps failing (the comment deleted, GitHub timing out) is given up for a
        new comment with the answer, which this handle then edits."""
        self._finished = True
        timer = self._timer
        if timer is not None:
            if not self._lock.locked():  # waiting, not in the middle of its edit
                timer.cancel()
            await asyncio.wait([timer])  # never raises, so our own cancellation still does
        async with self._lock:
            for attempt in range(1, FINISH_EDITS + 1):
                try:
                    await self._edit(text)
                    return
                except Exception as exc:  # an edit is idempotent: try again, then post anew
                    log.warning(
                        "status comment %s: final edit %d failed: %s",
                        self.comment_id,
                        attempt,
                        exc,
                    )
                    if attempt < FINISH_EDITS:
                        await asyncio.sleep(FINISH_PAUSE)
            issue = self.issue_number or await self._issue_of_comment()
            replacement = await post_status_comment(
                self.gh,
                self.full_name,
                issue,
                self.render(self.heading, f"{text.rstrip()}\n\n{REPLACED_NOTE}", self.footer),
            )
            self.comment_id, self.issue_number = replacement, issue
            self._last_edit = time.monotonic()

    async def _issue_of_comment(self) -> int:
        """The number of the issue or PR the comment is on (its `issue_url` ends with it)."""
        owner, _, repo = self.full_name.partition("/")
        response = await self.gh.arequest(
            "GET", f"/repos/{owner}/{repo}/issues/comments/{self.comment_id}"
        )
        return int(str(response.json()["issue_url"]).rstrip("/").rsplit("/", 1)[1])


def edited_at(wall_time: float | None) -> float:
    """The monotonic time of an edit made at `wall_time` (`time.time()`, perhaps by another
    process), so a job's first stage is throttled against the comment the acknowledgement
    just posted."""
    if wall_time is None:
        return 0.0
    return time.monotonic() - max(0.0, time.time() - wall_time)


async def create_status_comment(
    gh: GitHub, full_name: str, issue_number: int, heading: str, text: str, footer: str = ""
) -> StatusComment:
    """Post the status comment and return a handle that edits it."""
    body = StatusComment.render(heading, text, footer)
    comment_id = await post_status_comment(gh, full_name, issue_number, body)
    status = StatusComment(gh, full_name, comment_id, heading, footer, issue_number)
    status._last_edit = time.monotonic()
    return status


async def post_status_comment(gh: GitHub, full_name: str, issue_number: int, body: str) -> int:
    """Post `body` as a comment and answer its id. When the call times out, GitHub may still
    have posted it: the issue's recent comments are searched for it (a few times) before it
    is posted again, so a slow answer neither loses the comment nor doubles it."""
    owner, _, repo = full_name.partition("/")
    since = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def post() -> int:
        response = await gh.arequest(
            "POST", f"/repos/{owner}/{repo}/issues/{issue_number}/comments", json={"body": body}
        )
        return int(response.json()["id"])

    async def posted() -> int | None:
        listed = await gh.arequest(
            "GET",
            f"/repos/{owner}/{repo}/issues/{issue_number}/comments",
            params={"since": since, "per_page": 100},
        )
        found: list[dict[str, Any]] = [c for c in listed.json() if c.get("body") == body]
        return int(found[-1]["id"]) if found else None

    try:
        return await post()
    except Exception as exc:
        if not timed_out(exc):
            raise
        log.warning("posting on %s#%s timed out; looking for the comment", full_name, issue_number)
    found = await find_after_timeout(posted)
    return found if found is not None else await post()
