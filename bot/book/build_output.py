"""Reading `jupyter-book build` output into issues.

The CLI prints each problem once as `⛔️ <file>[:line[:col]] <message>` (errors) or
`⚠️  <file>… <message>` (warnings), sometimes followed by indented detail lines, and repeats
some of them in a per-file summary (`  - ⚠️ …`) that is skipped here.

Before anything is read, `sanitize_output` keeps the output to what concerns the book's own
files: a problem located in a file outside the book (and its detail lines, which can quote
that file) is replaced by a sentence, and every line is capped, so no ⛔️/⚠️ line copied
into a PR or status can carry the text of a file outside the book.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_ISSUE = re.compile(r"^(⛔️|⛔|⚠️|⚠)\s*(.*)$")
_LOCATION = re.compile(r"^(?P<file>[^\s:]+?)(?::(?P<line>\d+))?(?::(?P<column>\d+))?$")
_MAX_DETAIL_LINES = 6
MAX_LINE = 300
_OUTSIDE_NOTE = "a problem in a file outside the book (its text is not shown)"


@dataclass
class BuildIssue:
    """One problem the build reported; `file` is relative to the book, when known."""

    level: Literal["error", "warning"]
    file: str | None
    line: int | None
    message: str
    column: int | None = None
    detail: str = ""

    def location(self) -> str:
        """`chapters/01-a.md:12:3`, or an empty string for book-wide problems."""
        if not self.file:
            return ""
        parts = [self.file, *(str(n) for n in (self.line, self.column) if n is not None)]
        return ":".join(parts)

    def markdown(self) -> str:
        """One bullet's text: icon, location in code, message."""
        icon = "⛔️" if self.level == "error" else "⚠️"
        where = f"`{self.location()}` " if self.file else ""
        return f"{icon} {where}{self.message}"


def _split_location(text: str) -> tuple[str | None, int | None, int | None, str]:
    first, _, rest = text.partition(" ")
    match = _LOCATION.match(first)
    looks_like_file = match is not None and ("." in first or "/" in first)
    if match is None or not looks_like_file:
        return None, None, None, text.strip()
    file, _, part = match.group("file").partition("#")
    line = int(match.group("line")) if match.group("line") else None
    column = int(match.group("column")) if match.group("column") else None
    message = rest.strip().removesuffix(f"(at {file})").strip()
    if part:
        # `ch.md#parts.summary:1:22`: the position is inside a front-matter field.
        field = part.removeprefix("parts.")
        return file, None, None, f"{message} (in the front matter `{field}`)"
    return file, line, column, message


def parse_build_output(output: str) -> list[BuildIssue]:
    """Every distinct `⛔️`/`⚠️` issue in `output`, in the order printed."""
    issues: list[BuildIssue] = []
    seen: set[tuple[str, str | None, int | None, str]] = set()
    current: BuildIssue | None = None
    detail: list[str] = []
    for raw in output.splitlines():
        match = _ISSUE.match(raw)
        if match is None:
            if not raw.strip():
                continue  # detail blocks have blank lines inside
            if (
                current is not None
                and raw.startswith((" ", "\t"))
                and not raw.lstrip().startswith("- ")
            ):
                if len(detail) < _MAX_DETAIL_LINES:
                    detail.append(raw.strip())
                    current.detail = "\n".join(detail)
                continue
            current, detail = None, []
            continue
        level: Literal["error", "warning"] = (
            "error" if match.group(1).startswith("⛔") else "warning"
        )
        file, line, column, message = _split_location(match.group(2))
        key = (level, file, line, message)
        if key in seen:
            current, detail = None, []
            continue
        seen.add(key)
        current, detail = BuildIssue(level, file, line, message, column), []
        issues.append(current)
    return issues


def _outside_location(location: str) -> bool:
    """A location that is not a book-relative path: absolute, home, `..`, or a URL-ish."""
    path = location.split("#", 1)[0]
    return (
        path.startswith(("/", "~", "\\"))
        or path == ".."
        or path.startswith("../")
        or "/../" in path
        or bool(re.match(r"^[A-Za-z]:[\\/]", path))
    )


def sanitize_output(output: str) -> str:
    """The build's output with every line about a file outside the book replaced or dropped
    (its indented detail lines too) and every line cut at `MAX_LINE` characters. Paths of the
    book's copy must already be made relative."""
    kept: list[str] = []
    dropping = False
    for raw in output.splitlines():
        line = raw if len(raw) <= MAX_LINE else raw[: MAX_LINE - 1] + "…"
        if dropping and (raw.startswith((" ", "\t")) or not raw.strip()):
            continue
        dropping = False
        match = _ISSUE.match(raw)
        first = (match.group(2) if match else raw).strip().split(" ", 1)[0]
        if first and _outside_location(first):
            dropping = True
            if match:
                kept.append(f"{match.group(1)} {_OUTSIDE_NOTE}")
            continue
        kept.append(line)
    return "\n".join(kept)
