"""The sandbox playing a reviewer: a comment in a pull request's conversation, a line comment.

`--pr-comment TEXT` posts TEXT in the conversation of the newest pull request the app opened;
`--review-comment "PATH:LINE[-LINE] TEXT"` posts TEXT as a line comment on it (right side of
the diff). Each waits, like an author's comment, until the app's answers are final: status
comments on the PR for a conversation comment, the reply in the thread for a line command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.sandbox.answers import CommentResult, is_final, is_success
from bot.sandbox.world import REPOSITORY
from bot.status import MARKER as STATUS_MARKER

_SPEC = re.compile(
    r"^(?P<path>[^\s:][^\s]*?):(?P<start>\d{1,6})(?:-(?P<end>\d{1,6}))?\s+(?P<text>\S.*)$", re.S
)


@dataclass(frozen=True)
class LineSpec:
    """Where a `--review-comment` goes and what it says."""

    path: str
    start: int
    end: int
    text: str

    def where(self) -> str:
        span = str(self.end) if self.start == self.end else f"{self.start}-{self.end}"
        return f"{self.path}:{span}"


def parse_line_spec(value: str) -> LineSpec:
    """`PATH:LINE TEXT` or `PATH:START-END TEXT`; ValueError saying what is wrong."""
    found = _SPEC.match(value.strip())
    if found is None:
        raise ValueError(
            f"{value!r} is not PATH:LINE[-LINE] TEXT (e.g. chapters/01-intro.md:12-14 /suggest "
            "use the active voice)"
        )
    start = int(found["start"])
    end = int(found["end"]) if found["end"] else start
    if start < 1 or end < start:
        raise ValueError(f"{value!r}: lines count from 1 and the range must not run backwards")
    return LineSpec(found["path"], start, end, found["text"].strip())


def newest_app_pull(gh: Any) -> dict[str, Any] | None:
    """The newest pull request the app opened (open or not), or None before its first."""
    mine = [p for p in gh.pulls(REPOSITORY) if (p.get("user") or {}).get("type") == "Bot"]
    return max(mine, key=lambda p: p["number"]) if mine else None


def thread_answer(gh: Any, pull: int, comment_id: int) -> CommentResult | None:
    """The app's reply in the thread of line comment `comment_id`, once it is final."""
    replies = [
        c
        for c in gh.review_comments(REPOSITORY, pull)
        if c.get("in_reply_to_id") == comment_id and (c.get("user") or {}).get("type") == "Bot"
    ]
    statuses = [c for c in replies if STATUS_MARKER in (c.get("body") or "")]
    if not statuses or not all(map(is_final, statuses)):
        return None
    return CommentResult(statuses=statuses, ok=all(map(is_success, statuses)))
