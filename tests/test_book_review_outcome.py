"""A review as instructions, and which comments a revision touched, over families of inputs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.book.review_outcome import (
    LineComment,
    changed_old_lines,
    holds_revise,
    outcome_lines,
    quoted_lines,
    review_body_text,
    review_instructions,
)

line_text = st.text(st.characters(blacklist_characters="\n\r\u2042"), max_size=12)
# Distinct lines: with repeated lines a line diff is ambiguous (git's too), so which copy
# "changed" is not a property of the texts.
files = st.lists(line_text, min_size=1, max_size=30, unique=True)


@given(files, st.data())
def test_only_replaced_lines_count_as_changed(lines: list[str], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(lines) - 1))
    new = [*lines[:index], lines[index] + "\u2042", *lines[index + 1 :]]
    assert changed_old_lines("\n".join(lines), "\n".join(new)) == {index + 1}
    assert changed_old_lines("\n".join(lines), "\n".join(lines)) == set()


@given(files, st.data())
def test_a_comment_is_changed_exactly_when_its_range_is(
    lines: list[str], data: st.DataObject
) -> None:
    start = data.draw(st.integers(1, len(lines)))
    end = data.draw(st.integers(start, len(lines)))
    edited = data.draw(st.integers(1, len(lines)))
    new = list(lines)
    new[edited - 1] += "\u2042"
    comment = LineComment("a.md", start, end, "fix")
    [line] = outcome_lines([comment], {"a.md": ("\n".join(lines), "\n".join(new))})
    assert line.endswith(": changed.") == (start <= edited <= end)


@given(st.lists(line_text.filter(lambda t: "\n" not in t), min_size=1, max_size=20), st.data())
def test_the_quoted_lines_are_the_new_side_ending_at_the_line(
    new_side: list[str], data: st.DataObject
) -> None:
    removed = data.draw(st.lists(line_text, max_size=3))
    hunk = "\n".join(
        [f"@@ -1,{len(removed)} +1,{len(new_side)} @@", *("-" + r for r in removed)]
        + ["+" + t for t in new_side]
    )
    count = data.draw(st.integers(1, len(new_side)))
    assert quoted_lines(hunk, count) == tuple(new_side[-count:])


@given(st.text(max_size=80))
def test_revise_is_a_command_only_at_a_line_start(text: str) -> None:
    assert holds_revise(f"{text}\n/revise shorter") and holds_revise("/REVISE")
    assert not holds_revise("/revised it") and not holds_revise(None)
    if "/revise" not in text.lower():
        assert not holds_revise(text)
    assert review_body_text("/revise shorter\nand clearer") == "shorter\nand clearer"


def test_instructions_number_each_comment_with_its_lines() -> None:
    comments = [
        LineComment("c.md", 3, 3, "Shorter.", ("A long line.",)),
        LineComment("c.md", 7, 9, "Clearer.", ()),
    ]
    text = review_instructions("ann", "Tighten it.", comments)
    assert "@ann. Tighten it." in text
    assert "1. On line 3 of `c.md`: Shorter.\n   The lines:\n   > A long line." in text
    assert "2. On lines 7–9 of `c.md`: Clearer." in text


def test_comments_from_json_skip_left_side_and_outdated() -> None:
    base = {"path": "c.md", "line": 5, "body": "x", "diff_hunk": "@@ -0,0 +1,5 @@\n+a\n+b"}
    assert LineComment.from_json(base) == LineComment("c.md", 5, 5, "x", ("b",))
    assert LineComment.from_json({**base, "start_line": 4}).quoted == ("a", "b")  # type: ignore[union-attr]
    assert LineComment.from_json({**base, "line": None}) is None
    assert LineComment.from_json({**base, "side": "LEFT"}) is None
