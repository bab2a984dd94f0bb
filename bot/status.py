"""The one living status comment a command gets: created at once, edited as the job moves.

Edits are throttled (GitHub calls are the budget of a job): an intermediate stage is shown
only when the previous edit is more than a moment old, the final answer always is. The
comment carries a hidden marker so people and the app can tell which command it answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from githubkit import GitHub

from bot.pull_request import clip

MARKER = "<!-- liquidbook:status -->"
MIN_EDIT_INTERVAL = 1.5


@dataclass
class StatusComment:
    """An existing comment the app owns on an issue or PR."""

    gh: GitHub
    full_name: str
    comment_id: int
    heading: str
    _last_edit: float = field(default=0.0)
    # Work already finished (one line each, e.g. a PR opened), so an interruption can say
    # what was done before it.
    done: list[str] = field(default_factory=list)

    @staticmethod
    def render(heading: str, text: str) -> str:
        """The comment body: marker, a bold heading line, then the text."""
        return clip(f"{MARKER}\n**{heading}**\n\n{text}".rstrip() + "\n")

    async def _edit(self, body: str) -> None:
        owner, _, repo = self.full_name.partition("/")
        await self.gh.arequest(
            "PATCH",
            f"/repos/{owner}/{repo}/issues/comments/{self.comment_id}",
            json={"body": body},
        )
        self._last_edit = time.monotonic()

    async def progress(self, stage: str) -> None:
        """Show a stage (e.g. "⏳ Writing chapter 3 with openai:gpt-4.1…") unless we just edited."""
        if time.monotonic() - self._last_edit < MIN_EDIT_INTERVAL:
            return
        await self._edit(self.render(self.heading, stage))

    async def finish(self, text: str) -> None:
        """The final answer: always written."""
        await self._edit(self.render(self.heading, text))


async def create_status_comment(
    gh: GitHub, full_name: str, issue_number: int, heading: str, text: str
) -> StatusComment:
    """Post the status comment and return a handle that edits it."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "POST",
        f"/repos/{owner}/{repo}/issues/{issue_number}/comments",
        json={"body": StatusComment.render(heading, text)},
    )
    status = StatusComment(gh, full_name, int(response.json()["id"]), heading)
    status._last_edit = time.monotonic()
    return status
