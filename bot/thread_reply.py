"""The living answer in a review thread: one reply to a line comment, edited as the job moves.

It is a status comment (`bot.status`: throttled stages, a final answer always written) whose
edits go to the pull request's review-comment API instead of the issue-comment one.
"""

from __future__ import annotations

import time

from githubkit import GitHub

from bot.status import StatusComment


class ThreadReply(StatusComment):
    """A reply the app owns in a review thread."""

    async def _edit(self, text: str) -> None:
        owner, _, repo = self.full_name.partition("/")
        await self.gh.arequest(
            "PATCH",
            f"/repos/{owner}/{repo}/pulls/comments/{self.comment_id}",
            json={"body": self.render(self.heading, text, self.footer)},
        )
        self._last_edit = time.monotonic()


async def post_thread_reply(
    gh: GitHub, full_name: str, pull_number: int, comment_id: int, heading: str, text: str
) -> ThreadReply:
    """Reply in the thread of review comment `comment_id`, and return a handle that edits it."""
    owner, _, repo = full_name.partition("/")
    response = await gh.arequest(
        "POST",
        f"/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
        json={"body": StatusComment.render(heading, text)},
    )
    reply = ThreadReply(gh, full_name, int(response.json()["id"]), heading, "", pull_number)
    reply._last_edit = time.monotonic()
    return reply
