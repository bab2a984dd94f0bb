"""What the model is told to revise a chapter a pull request changes, and what changed after.

The prompt has the same stable prefix as a chapter's (the outline, the MyST rules, the
labels), so a provider's cache serves both; then the chapter as it is at the PR's head, the
PR's diff against its base (what the reviewer is looking at), the neighbours' summaries and
the reviewer's instructions. The model answers with the whole revised body.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from bot.book.chapters import Chapter
from bot.book.model import Book
from bot.book.prompts import Prompt, chapter_prompt

MAX_DIFF_CHARS = 20_000  # of the PR's diff in the prompt; the chapter itself is always whole


def revision_prompt(book: Book, chapter: Chapter, diff: str, instructions: str) -> Prompt:
    """Ask for the chapter's whole body revised by `instructions`, with the PR's `diff`."""
    base = chapter_prompt(book, chapter)
    task = [f"Revise chapter {chapter.number}, {chapter.title}, as a reviewer asked."]
    if chapter.summary:
        task.append(f"What it covers: {chapter.summary}")
    for number, role in ((chapter.number - 1, "previous"), (chapter.number + 1, "next")):
        if 1 <= number <= len(book.toc):
            other = book.toc[number - 1]
            task.append(
                f"The {role} chapter, {number}. {other.title}: {other.summary or '(no summary)'}"
            )
    if diff.strip():
        shown = diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS] + "\n… (cut)"
        task += ["", "The pull request's changes so far (a unified diff):", "", shown.strip()]
    task += [
        "",
        "The chapter's current text (its body, after the front matter):",
        "",
        chapter.body.strip() or "(empty)",
        "",
        f"The reviewer's instructions: {instructions.strip()}",
        "",
        "Answer with the whole revised chapter body. Keep every directive, label and "
        "cross-reference the instructions do not ask you to change.",
    ]
    user = f"{base.stable_prefix}\n\n" + "\n".join(task) + "\n"
    return Prompt(base.system, user, base.stable_prefix)


@dataclass(frozen=True)
class LineChanges:
    """Lines added and removed between two versions of a file."""

    added: int
    removed: int

    def __str__(self) -> str:
        return f"+{self.added} −{self.removed}"


def line_changes(before: str, after: str) -> LineChanges:
    """How many lines `after` adds and removes against `before` (as `git diff --stat`)."""
    # `split("\n")`, not `splitlines()`: that also splits on form feeds and separators
    # a chapter may hold, and would count lines git does not.
    old = before.split("\n") if before else []
    new = after.split("\n") if after else []
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag != "equal":
            removed += a2 - a1
            added += b2 - b1
    return LineChanges(added, removed)
