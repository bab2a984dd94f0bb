"""Which chapters a command means: `3`, `2-5`, `all` or `"Bayes' rule"`.

Shared by the comment grammar (`bot.commands`) and by `Book.chapter`, so a selector typed in a
comment and one built in code resolve the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SelectorKind = Literal["number", "range", "all", "title"]
MAX_CHAPTER_NUMBER = 999

_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}
_RANGE = re.compile(r"^(\d+)\s*(?:-|–|—|\.\.)\s*(\d+)$")


class SelectorError(ValueError):
    """A selector that cannot mean any chapter; the message says how to write one."""

    def sentence(self) -> str:
        """The message as a sentence: capital first letter, full stop."""
        text = str(self)
        return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?")) else ".")


@dataclass(frozen=True)
class ChapterSelector:
    """One way of naming chapters; `start`/`end` are 1-based and inclusive."""

    kind: SelectorKind
    start: int | None = None
    end: int | None = None
    title: str | None = None

    def __str__(self) -> str:
        if self.kind == "number":
            return str(self.start)
        if self.kind == "range":
            return f"{self.start}-{self.end}"
        if self.kind == "all":
            return "all"
        return f'"{self.title}"'


def split_selector(text: str) -> tuple[ChapterSelector, str]:
    """Read a selector from the start of `text`; return it and the text after it.

    `3 with more examples` is chapter 3 plus the words after it; an unquoted title takes the
    whole text, because titles contain spaces.
    """
    text = text.strip()
    if not text:
        raise SelectorError("name a chapter: a number (`3`), a range (`2-5`), `all` or a title")
    closing = _QUOTES.get(text[0])
    if closing is not None:
        end = text.find(closing, 1)
        if end == -1:
            raise SelectorError(f"the title starting with {text[0]} has no closing {closing}")
        title = text[1:end].strip()
        if not title:
            raise SelectorError("the chapter title is empty")
        return ChapterSelector("title", title=title), text[end + 1 :].strip()
    first, rest = ([*re.split(r"\s+", text, maxsplit=1), ""])[:2]
    spaced_range = re.match(r"^(\d+\s*(?:-|–|—|\.\.)\s*\d+)(.*)$", text)
    if spaced_range:
        first, rest = spaced_range.group(1), spaced_range.group(2)
    if first.lower() == "all":
        return ChapterSelector("all"), rest.strip()
    if first.isdigit() or _RANGE.match(first) or first.startswith("-"):
        return _numeric(first), rest.strip()
    if first[0].isdigit():
        raise SelectorError(
            f"`{first}` is not a chapter number or range: write `3` or `2-5`, "
            'or put a title in quotes ("3D graphics")'
        )
    return ChapterSelector("title", title=text.strip("\"'“”")), ""


def parse_selector(text: str) -> ChapterSelector:
    """Read a whole string as one selector (`Book.chapter("2-4")`)."""
    selector, rest = split_selector(text)
    if rest:
        raise SelectorError(f"unexpected text after the chapter: `{rest}`")
    return selector


def _numeric(token: str) -> ChapterSelector:
    match = _RANGE.match(token)
    if match:
        start, end = int(match.group(1)), int(match.group(2))
        _check_number(start)
        _check_number(end)
        if start > end:
            raise SelectorError(
                f"a range goes from the lower to the higher number: `{end}-{start}`, not `{token}`"
            )
        if start == end:
            return ChapterSelector("number", start=start, end=start)
        return ChapterSelector("range", start=start, end=end)
    if not token.isdigit():
        raise SelectorError(f"`{token}` is not a chapter number; chapters are numbered from 1")
    number = int(token)
    _check_number(number)
    return ChapterSelector("number", start=number, end=number)


def _check_number(number: int) -> None:
    if number < 1:
        raise SelectorError("chapters are numbered from 1; there is no chapter 0")
    if number > MAX_CHAPTER_NUMBER:
        raise SelectorError(
            f"there is no chapter {number}; books here stop at {MAX_CHAPTER_NUMBER}"
        )
