"""Suggested changes on lines of a chapter: the prompt, the block, applying it, re-anchoring.

A GitHub *suggested change* is a ```` ```suggestion ```` block in a reply on a line comment;
applying it replaces exactly the commented lines (`start_line`..`line`, right side). The
model is asked for those lines only, with the whole chapter around them in view; its answer
is cleaned of what would break the file (a fence around it, control characters, references
out of the book) and checked as the file it would make.

A comment GitHub marks outdated (`line: null`) was made on `original_line` of an older
commit; `remap_range` finds those lines in the current text (where they are unchanged), so
the suggestion can be posted on the current lines instead.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from bot.book.chapters import Chapter
from bot.book.clean import strip_control
from bot.book.guard import Place, guard
from bot.book.model import Book
from bot.book.prompts import Prompt, chapter_prompt

_OPENING = re.compile(r"^\s*(`{3,}|~{3,})[\w+-]*\s*$")


def numbered(text: str, start: int, end: int) -> str:
    """The file's lines numbered from 1, the lines `start`..`end` marked with `>`."""
    lines = text.split("\n")
    width = len(str(len(lines)))
    return "\n".join(
        f"{'>' if start <= n <= end else ' '} {n:>{width}}| {line}"
        for n, line in enumerate(lines, start=1)
    )


def suggestion_prompt(
    book: Book, chapter: Chapter, text: str, start: int, end: int, instructions: str
) -> Prompt:
    """Ask for the replacement of lines `start`..`end` of the chapter file `text`."""
    base = chapter_prompt(book, chapter)
    span = f"line {start}" if start == end else f"lines {start}–{end}"
    task = [
        f"A reviewer of chapter {chapter.number}, {chapter.title}, asks for a change to "
        f"{span} of its file (marked with `>` below).",
        "",
        numbered(text, start, end),
        "",
        f"The reviewer's instructions: {instructions.strip()}",
        "",
        f"Answer with the new text of {span} only, without line numbers or markers: it "
        "replaces exactly those lines, so keep the lines around them in mind (do not repeat "
        "them) and keep Markdown blocks that start or end there balanced.",
    ]
    user = f"{base.stable_prefix}\n\n" + "\n".join(task) + "\n"
    return Prompt(base.system, user, base.stable_prefix)


def clean_replacement(answer: str, original: str, path: str, root: Path | None = None) -> str:
    """The model's lines, without a fence wrapped around the whole answer (unless the
    `original` lines are themselves such a block) or control characters, and with
    references out of the book removed (`bot.book.guard`)."""
    text, _ = strip_control(answer.replace("\r\n", "\n"))
    lines = text.strip("\n").split("\n")
    fence = _OPENING.match(lines[0]) if len(lines) >= 2 else None
    wrapped = fence is not None and lines[-1].strip() == fence.group(1)
    if wrapped and not _OPENING.match(original.split("\n", 1)[0]):
        lines = lines[1:-1]
    return guard("\n".join(lines), Place(path, root)).text.rstrip("\n")


def apply_lines(text: str, start: int, end: int, replacement: str) -> str:
    """`text` with lines `start`..`end` (from 1, inclusive) replaced, as GitHub applies a
    suggestion: an empty replacement deletes the lines."""
    lines = text.split("\n")
    new = replacement.split("\n") if replacement else []
    return "\n".join([*lines[: start - 1], *new, *lines[end:]])


def suggestion_block(replacement: str) -> str:
    """A suggested-change block whose fence is longer than any backtick run inside it, so
    a replacement holding code blocks stays one suggestion."""
    runs = [len(run) for run in re.findall(r"`+", replacement)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return (
        f"{fence}suggestion\n{replacement}\n{fence}"
        if replacement
        else f"{fence}suggestion\n{fence}"
    )


def remap_range(old: str, new: str, start: int, end: int) -> tuple[int, int] | None:
    """Where lines `start`..`end` of `old` are in `new`, when they are all there unchanged
    and in one piece; None when any of them changed or the range is not in `old`."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    if not 1 <= start <= end <= len(old_lines):
        return None
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        if a <= start - 1 and end <= a + size:
            return b + (start - 1 - a) + 1, b + (end - 1 - a) + 1
    return None
