"""Suggestions for a fork PR: applied together they give the revised text; only hunks whose
lines the PR's patch shows are placed."""

from __future__ import annotations

import difflib
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book.fork_suggestions import Hunk, apply_hunks, hunks, inside, right_lines

LINES = st.lists(st.sampled_from(["", "a", "b", "# T", "```", "x y", "`code`"]), max_size=14)


@settings(max_examples=300, deadline=None)
@given(LINES, LINES)
def test_applying_every_hunk_gives_the_revised_text(old: list[str], new: list[str]) -> None:
    before, after = "\n".join(old), "\n".join(new)
    found = hunks(before, after)
    assert apply_hunks(before, found) == after
    assert (found == []) == (before == after)
    spans = [(h.start, h.end) for h in found]
    assert all(1 <= s <= e for s, e in spans)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(spans))


def _patch(old: list[str], new: list[str]) -> str:
    """A GitHub-style patch: the unified diff without its file header."""
    lines = list(difflib.unified_diff(old, new, lineterm="", n=3))
    return "\n".join(lines[2:])


@settings(max_examples=200, deadline=None)
@given(LINES, LINES)
def test_right_lines_are_the_added_and_context_lines(old: list[str], new: list[str]) -> None:
    shown = right_lines(_patch(old, new))
    assert shown <= set(range(1, len(new) + 1))
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    added = {
        j + 1
        for tag, _, _, j1, j2 in matcher.get_opcodes()
        if tag in ("replace", "insert")
        for j in range(j1, j2)
    }
    assert added <= shown


def test_an_insertion_rides_on_the_line_before_it() -> None:
    assert hunks("a\nb", "a\nnew\nb") == [Hunk(1, 1, ("a", "new"))]
    assert hunks("a\nb", "new\na\nb") == [Hunk(1, 1, ("new", "a"))]
    assert hunks("a\nb\nc", "a\nc") == [Hunk(2, 2, ())]


def test_a_hunk_is_inside_only_when_all_its_lines_are_shown() -> None:
    patch = "@@ -1,2 +1,3 @@\n a\n+b\n c\n\\ No newline at end of file"
    assert right_lines(patch) == {1, 2, 3}
    assert inside(Hunk(2, 3, ("x",)), {1, 2, 3})
    assert not inside(Hunk(3, 4, ("x",)), {1, 2, 3})
    assert right_lines(None) == set()


def test_a_block_keeps_one_empty_line_apart_from_a_deletion() -> None:
    assert Hunk(1, 1, ("",)).block() == "```suggestion\n\n```"
    assert Hunk(1, 1, ()).block() == "```suggestion\n```"
    assert Hunk(1, 1, ("```py", "x", "```")).block().startswith("````suggestion\n")
