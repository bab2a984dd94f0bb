"""Which chapters a command means: `3`, `2-5`, `all` or `"Bayes' rule"`.

Shared by the comment grammar (`bot.commands`) and by `Book.chapter`, so a selector typed in a
comment and one built in code resolve the same way.

Read by a scanner that looks at each character at most a fixed number of times and never goes
back (no regular expression with nested or overlapping repetition, which a crafted comment
can make backtrack for hours), so the time is linear in the text whatever a comment holds. A chapter number is
ASCII digits only: `²`, `①` or `３` pass `str.isdigit` but are no number `int` reads, and are
answered with a sentence saying so. A number is never converted before its length says it
fits (a 5,000-digit number is refused by its length, not by `int`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SelectorKind = Literal["number", "range", "all", "title"]
MAX_CHAPTER_NUMBER = 999

_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}
_RANGE_MARKS = ("-", "–", "—", "..")
_SHOWN_DIGITS = 12  # a longer number is shown as its head, an ellipsis and its length


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


def is_ascii_digit(char: str) -> bool:
    """True for `0`–`9` only (`str.isdigit` also accepts `²`, `①`, `٣`)."""
    return len(char) == 1 and "0" <= char <= "9"


def is_number(text: str) -> bool:
    """True when `text` is one or more ASCII digits and nothing else."""
    return text.isascii() and text.isdigit()


# Runs of one class of character: the scanner's only use of the regular-expression engine.
# One class repeated once, with nothing after it, has nothing to backtrack into: each is a
# single linear pass in C (a Python loop over characters would be linear too, 50× slower).
_DIGITS = re.compile(r"[0-9]*")
_SPACES = re.compile(r"\s*")
_NON_SPACES = re.compile(r"\S*")


def _run_end(run: re.Pattern[str], text: str, start: int) -> int:
    found = run.match(text, start)
    return start if found is None else found.end()


def digits_end(text: str, start: int) -> int:
    """The index after the run of ASCII digits that begins at `start` (`start` if none)."""
    return _run_end(_DIGITS, text, start)


def spaces_end(text: str, start: int) -> int:
    """The index after the whitespace that begins at `start`."""
    return _run_end(_SPACES, text, start)


def range_at(text: str, start: int = 0) -> tuple[str, str, int] | None:
    """`N - M` at `start` (spaces around the dash allowed; `-`, `–`, `—` or `..`): the two
    digit strings and the index after the second, or None."""
    first_end = digits_end(text, start)
    if first_end == start:
        return None
    mark_at = spaces_end(text, first_end)
    mark = next((m for m in _RANGE_MARKS if text.startswith(m, mark_at)), None)
    if mark is None:
        return None
    second = spaces_end(text, mark_at + len(mark))
    second_end = digits_end(text, second)
    if second_end == second:
        return None
    return text[start:first_end], text[second:second_end], second_end


def shown_number(digits: str) -> str:
    """A digit string as a message shows it: whole when short, else head, ellipsis, length."""
    if len(digits) <= _SHOWN_DIGITS:
        return digits
    return f"{digits[:6]}… (a number of {len(digits):,} digits)"


def chapter_number(digits: str) -> int:
    """The chapter an ASCII digit string names, checked to be 1 … `MAX_CHAPTER_NUMBER`."""
    significant = digits.lstrip("0")
    if len(significant) > len(str(MAX_CHAPTER_NUMBER)):
        raise SelectorError(
            f"there is no chapter {shown_number(digits)}; books here stop at {MAX_CHAPTER_NUMBER}"
        )
    number = int(significant or "0")
    if number < 1:
        raise SelectorError("chapters are numbered from 1; there is no chapter 0")
    if number > MAX_CHAPTER_NUMBER:
        raise SelectorError(
            f"there is no chapter {number}; books here stop at {MAX_CHAPTER_NUMBER}"
        )
    return number


def _first_word(text: str) -> tuple[str, str]:
    """The text up to the first whitespace, and what follows it (stripped)."""
    end = _run_end(_NON_SPACES, text, 0)
    return text[:end], text[end:].strip()


def _shown(token: str, limit: int = 40) -> str:
    return token if len(token) <= limit else token[:limit] + "…"


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
    spaced = range_at(text)
    if spaced is not None:
        start, end_digits, after = spaced
        return _range(start, end_digits, text[:after]), text[after:].strip()
    first, rest = _first_word(text)
    if first.lower() == "all":
        return ChapterSelector("all"), rest
    if is_number(first):
        number = chapter_number(first)
        return ChapterSelector("number", start=number, end=number), rest
    if first.startswith("-"):
        raise SelectorError(
            f"`{_shown(first)}` is not a chapter number; chapters are numbered from 1"
        )
    if first[0].isdigit():
        if any(not c.isascii() for c in first if c.isdigit()):
            raise SelectorError(
                f"`{_shown(first)}` is not a chapter number: write numbers with the digits "
                "0-9 (`3`, `2-5`), or put a title in quotes"
            )
        raise SelectorError(
            f"`{_shown(first)}` is not a chapter number or range: write `3` or `2-5`, "
            'or put a title in quotes ("3D graphics")'
        )
    return ChapterSelector("title", title=text.strip("\"'“”")), ""


def parse_selector(text: str) -> ChapterSelector:
    """Read a whole string as one selector (`Book.chapter("2-4")`)."""
    selector, rest = split_selector(text)
    if rest:
        raise SelectorError(f"unexpected text after the chapter: `{_shown(rest)}`")
    return selector


def _range(first: str, last: str, typed: str) -> ChapterSelector:
    start, end = chapter_number(first), chapter_number(last)
    if start > end:
        raise SelectorError(
            f"a range goes from the lower to the higher number: `{end}-{start}`, "
            f"not `{_shown(typed)}`"
        )
    if start == end:
        return ChapterSelector("number", start=start, end=start)
    return ChapterSelector("range", start=start, end=end)
