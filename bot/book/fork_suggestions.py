"""A whole-file revision as GitHub suggested changes, for a pull request the app cannot push to.

On a PR from a fork the app has no write access to the head branch, so a revision is
offered as line comments holding ```` ```suggestion ```` blocks. Each changed hunk of a line
diff between the file at the PR's head and the revised text becomes one suggestion that
replaces exactly its old lines; an insertion between two lines has no lines of its own, so
it rides on the line before it (or, at the top of the file, the line after it), replacing
that line with itself plus the new lines. GitHub refuses a whole review (422) when one of
its comments is on a line outside the PR's diff, so `right_lines` reads which new-side lines
the PR's patch shows, and only hunks that lie wholly among them are suggested.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class Hunk:
    """Replace lines `start`..`end` (from 1, inclusive, of the file at the head) by `lines`
    (none: the lines are deleted; one empty line is not the same as none)."""

    start: int
    end: int
    lines: tuple[str, ...]

    def block(self) -> str:
        """The ```` ```suggestion ```` block, its fence longer than any backtick run inside."""
        body = "\n".join(self.lines)
        runs = [len(run) for run in re.findall(r"`+", body)]
        fence = "`" * max(3, max(runs, default=0) + 1)
        return (
            f"{fence}suggestion\n{body}\n{fence}" if self.lines else f"{fence}suggestion\n{fence}"
        )


def hunks(old: str, new: str) -> list[Hunk]:
    """The changes that turn `old` into `new`, one per changed region, top to bottom. Their
    line ranges never overlap, so all of them can be applied together: two changes that
    would share a line (an insertion riding on an unchanged line another change also rides
    on) are one suggestion."""
    a, b = old.split("\n"), new.split("\n")
    spans: list[list[int]] = []  # [old start, old end, new start, new end), from 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "insert":  # the unchanged line it rides on is in both texts
            i1, i2, j1, j2 = (i1 - 1, i2, j1 - 1, j2) if i1 > 0 else (i1, i2 + 1, j1, j2 + 1)
        if spans and i1 < spans[-1][1]:
            spans[-1][1], spans[-1][3] = max(spans[-1][1], i2), max(spans[-1][3], j2)
        else:
            spans.append([i1, i2, j1, j2])
    return [Hunk(i1 + 1, i2, tuple(b[j1:j2])) for i1, i2, j1, j2 in spans]


def apply_hunks(old: str, found: list[Hunk]) -> str:
    """`old` with every hunk applied as GitHub applies suggestions (bottom first, so the
    line numbers of the ones above stay right)."""
    lines = old.split("\n")
    for hunk in sorted(found, key=lambda h: h.start, reverse=True):
        lines[hunk.start - 1 : hunk.end] = hunk.lines
    return "\n".join(lines)


def right_lines(patch: str | None) -> set[int]:
    """The new-side line numbers a unified-diff `patch` shows (added and context lines):
    the lines a RIGHT-side review comment may be on."""
    shown: set[int] = set()
    line = 0
    for text in (patch or "").split("\n"):
        match = _HUNK.match(text)
        if match:
            line = int(match.group(1))
            continue
        if not line or text.startswith(("-", "\\")):
            continue
        shown.add(line)
        line += 1
    return shown


def inside(hunk: Hunk, shown: set[int]) -> bool:
    """True when every line the hunk replaces is in the diff (GitHub takes the comment)."""
    return all(n in shown for n in range(hunk.start, hunk.end + 1))
