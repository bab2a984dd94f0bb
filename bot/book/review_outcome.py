"""A whole review as revision instructions, and what the revision did to each comment's lines.

A review's line comments become one numbered list of instructions, each with the lines it
is about quoted from its diff hunk (the hunk ends at the commented line), so the model sees
which passage each comment means. After the revision, each comment is answered with whether
its lines were changed, read from a line diff of the file before and after.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

MAX_QUOTED_LINES = 40
REVISE_IN_REVIEW = re.compile(r"^\s*/revise(?:\s|$)", re.IGNORECASE | re.MULTILINE)


def holds_revise(body: object) -> bool:
    """Whether a review's body asks for a revision: a line of it starts with `/revise`."""
    return isinstance(body, str) and REVISE_IN_REVIEW.search(body[:65536]) is not None


def review_body_text(body: str) -> str:
    """The review's body without its `/revise` command word (the rest is instructions)."""
    return REVISE_IN_REVIEW.sub("", body, count=1).strip()


@dataclass(frozen=True)
class LineComment:
    """One line comment of a review: where it is and what it asks."""

    path: str
    start: int
    end: int
    body: str
    quoted: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> LineComment | None:
        """From GitHub's `review-comment`; None for a comment not on current RIGHT-side lines."""
        line, path, body = item.get("line"), item.get("path"), item.get("body")
        if not (isinstance(line, int) and isinstance(path, str) and isinstance(body, str)):
            return None
        if (item.get("side") or "RIGHT") != "RIGHT":
            return None
        given = item.get("start_line")
        start = min(given, line) if isinstance(given, int) else line
        return cls(path, start, line, body, quoted_lines(item.get("diff_hunk"), line - start + 1))

    def where(self) -> str:
        span = f"line {self.end}" if self.start == self.end else f"lines {self.start}–{self.end}"
        return f"{span} of `{self.path}`"


def quoted_lines(hunk: object, count: int) -> tuple[str, ...]:
    """The last `count` lines of the new side of a diff hunk (what a RIGHT comment is on)."""
    if not isinstance(hunk, str):
        return ()
    new_side = [text[1:] for text in hunk.split("\n")[1:] if text[:1] in ("+", " ")]
    return tuple(new_side[-min(count, MAX_QUOTED_LINES) :]) if count > 0 else ()


def review_instructions(author: str, body: str, comments: list[LineComment]) -> str:
    """The review's body and its numbered line comments, as one set of instructions."""
    general = body.strip()
    parts = [f"A review by @{author}. " + (general or "Apply its line comments.")]
    parts.append("Apply each of its line comments (line numbers are of the file as it is now):")
    for number, comment in enumerate(comments, 1):
        item = f"{number}. On {comment.where()}: {comment.body.strip()}"
        if comment.quoted:
            item += "\n   The lines:\n" + "\n".join(f"   > {text}" for text in comment.quoted)
        parts.append(item)
    return "\n".join(parts)


def changed_old_lines(old: str, new: str) -> set[int]:
    """1-based lines of `old` that the change from `old` to `new` replaced or deleted, plus the
    line before each pure insertion (an insertion touches the place it goes)."""
    a, b = old.split("\n"), new.split("\n")
    touched: set[int] = set()
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            touched.update(range(i1 + 1, i2 + 1))
        elif tag == "insert":
            touched.update({max(1, i1), i1 + 1})
    return touched


def outcome_lines(comments: list[LineComment], texts: dict[str, tuple[str, str]]) -> list[str]:
    """One line per comment: changed, or left as it was (with why when the file was not)."""
    cache: dict[str, set[int]] = {}
    lines = []
    for number, comment in enumerate(comments, 1):
        if comment.path not in texts:
            lines.append(f"{number}. {comment.where()}: not revised (not a chapter of the PR).")
            continue
        if comment.path not in cache:
            old, new = texts[comment.path]
            cache[comment.path] = changed_old_lines(old, new) if old != new else set()
        hit = cache[comment.path] & set(range(comment.start, comment.end + 1))
        verdict = "changed" if hit else "left as they were"
        lines.append(f"{number}. {comment.where()} ({shorten_body(comment.body)}): {verdict}.")
    return lines


def shorten_body(body: str, limit: int = 60) -> str:
    text = " ".join(body.split())
    return f"“{text}”" if len(text) <= limit else f"“{text[: limit - 1]}…”"
