"""The one living status comment a command gets: created at once, edited as the job moves.

A job reports its stages (reading the book, writing, checking the build, opening the PR) with
`progress`. GitHub calls are the job's budget, so intermediate edits are throttled: a stage
is written only once it has lasted `MIN_EDIT_INTERVAL` and the previous edit is at least that
old. It waits in the background meanwhile, replaced by any newer stage, and is dropped if
the job finishes first. A fast job thus spends no call on its stages, while what a slow job
is waiting for (a slow model, a long build) shows. At most `max_progress_edits` intermediate
edits are made; the final answer (`finish`) is always written. The comment carries a hidden
marker so people and the app can tell which command it answers, and a footer that is never
cut (GitHub's 65,536-character limit cuts the text above it instead).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from githubkit import GitHub

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
    # Intermediate edits this job may make, and has made.
    max_progress_edits: int = DEFAULT_PROGRESS_EDITS
    progress_edits: int = 0
    _last_edit: float = field(default=0.0)
    # Work already finished (one line each, e.g. a PR opened), so an interruption can say
    # what was done before it.
    done: list[str] = field(default_factory=list)
    _pending: str | None = field(default=None, repr=False)
    _since: float = field(default=0.0, repr=False)
    _timer: asyncio.Task[None] | None = field(default=None, repr=False)
    _finished: bool = field(default=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @staticmethod
    def render(heading: str, text: str, footer: str = "") -> str:
        """The comment body: marker, a bold heading line, the text, then the footer."""
        top = f"{MARKER}\n**{shorten(heading, HEADING_LIMIT)}**\n\n{text.rstrip()}"
        return fit(top, f"\n\n{footer.strip()}\n" if footer.strip() else "\n")

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
        """The final answer: always written, after any stage edit already under way."""
        self._finished = True
        timer = self._timer
        if timer is not None:
            if not self._lock.locked():  # waiting, not in the middle of its edit
                timer.cancel()
            await asyncio.wait([timer])  # never raises, so our own cancellation still does
        async with self._lock:
            await self._edit(text)


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
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "POST",
        f"/repos/{owner}/{repo}/issues/{issue_number}/comments",
        json={"body": StatusComment.render(heading, text, footer)},
    )
    status = StatusComment(gh, full_name, int(response.json()["id"]), heading, footer)
    status._last_edit = time.monotonic()
    return status
