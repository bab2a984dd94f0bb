"""Suggested changes and revisions as pure functions, over families of hostile inputs."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book.revision import line_changes
from bot.book.suggestion import apply_lines, clean_replacement, remap_range, suggestion_block
from handlers.reviews import line_command

line = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30
)
lines = st.lists(line, min_size=1, max_size=30)


@given(lines, st.data(), st.lists(line, max_size=5))
def test_applying_replaces_exactly_the_range(
    original: list[str], data: st.DataObject, new: list[str]
) -> None:
    start = data.draw(st.integers(1, len(original)))
    end = data.draw(st.integers(start, len(original)))
    replacement = "\n".join(new)
    result = apply_lines("\n".join(original), start, end, replacement).split("\n")
    inserted = replacement.split("\n") if replacement else []
    expected = [*original[: start - 1], *inserted, *original[end:]]
    assert result == (expected or [""])


@given(st.text(max_size=200))
def test_a_suggestion_block_is_one_fence_whatever_its_backticks(text: str) -> None:
    block = suggestion_block(text)
    fence = re.match(r"`+", block)
    assert fence is not None and block.startswith(fence.group(0) + "suggestion\n")
    assert block.endswith("\n" + fence.group(0))
    inner = block[len(fence.group(0)) + len("suggestion\n") : -len(fence.group(0))]
    assert max((len(r) for r in re.findall(r"`+", inner)), default=0) < len(fence.group(0))


@given(lines, lines, lines, st.data())
def test_remapped_lines_are_the_same_lines(
    before: list[str], middle: list[str], after: list[str], data: st.DataObject
) -> None:
    old = "\n".join(middle)
    start = data.draw(st.integers(1, len(middle)))
    end = data.draw(st.integers(start, len(middle)))
    new = "\n".join([*before, *middle, *after])
    mapped = remap_range(old, new, start, end)
    if mapped is not None:
        a, b = mapped
        assert new.split("\n")[a - 1 : b] == middle[start - 1 : end]


def test_remap_follows_lines_moved_and_refuses_changed_ones() -> None:
    old = "one\ntwo\nthree\nfour"
    assert remap_range(old, "zero\none\ntwo\nthree\nfour", 2, 3) == (3, 4)
    assert remap_range(old, "one\nTWO\nthree\nfour", 2, 3) is None
    assert remap_range(old, old, 0, 1) is None and remap_range(old, old, 3, 9) is None


@settings(max_examples=50)
@given(st.text(max_size=300))
def test_cleaning_a_replacement_never_raises_and_strips_controls(answer: str) -> None:
    cleaned = clean_replacement(answer, "old", "chapters/01.md")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", cleaned)


def test_a_fence_around_the_answer_goes_unless_the_lines_were_a_block() -> None:
    assert clean_replacement("```markdown\nHello.\n```", "Hi.", "c.md") == "Hello."
    code = "```python\nprint(1)\n```"
    assert clean_replacement(code, "```python\nprint(0)\n```", "c.md") == code


@given(st.lists(line, max_size=20), st.lists(line, max_size=20))
def test_line_changes_count_what_differs(a: list[str], b: list[str]) -> None:
    before, after = "\n".join(a), "\n".join(b)
    changes = line_changes(before, after)
    # ("" is no line at all, so `[""]` counts as none.)
    a, b = (before.split("\n") if before else []), (after.split("\n") if after else [])
    assert changes.added <= len(b) and changes.removed <= len(a)
    if a == b:
        assert (changes.added, changes.removed) == (0, 0)
    # What is added minus what is removed is the change in the number of lines.
    assert changes.added - changes.removed == len(b) - len(a)


def test_lines_that_look_like_diff_headers_are_counted() -> None:
    assert str(line_changes("--- a\nkeep", "+++ b\nkeep")) == "+1 −1"


@given(st.text(max_size=100))
def test_line_commands_are_only_the_two_words(body: str) -> None:
    found = line_command(body)
    if found is not None:
        word = body.lstrip().split(None, 1)[0].lower()
        assert word == f"/{found}"


def test_line_command_words() -> None:
    assert line_command("/suggest use the active voice") == "suggest"
    assert line_command("  /Revise\nshorter") == "revise"
    assert line_command("/suggestion please") is None
    assert line_command("please /suggest") is None
