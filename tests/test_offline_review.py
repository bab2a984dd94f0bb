"""The offline model's answers to a reviewer, over families of chapters and instructions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.book.suggestion import numbered
from standins.offline_model import offline_answer
from standins.offline_review import MARKUP

line = st.text(
    st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=30
)
asked = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60)


def ask(user: str) -> str:
    return offline_answer({"messages": [{"role": "user", "content": user}]})


@given(st.lists(line, min_size=1, max_size=12), asked)
def test_a_revision_keeps_the_body_and_names_the_instructions(body: list[str], words: str) -> None:
    text = "\n".join(body).strip() or "(empty)"
    answer = ask(
        "Revise chapter 2, Waves, as a reviewer asked.\n\n"
        f"The chapter's current text (its body, after the front matter):\n\n{text}\n\n"
        f"The reviewer's instructions: {words}\n\nAnswer with the whole revised chapter body."
    )
    assert answer.startswith("```{note}\n") and "not AI output" in answer
    if text != "(empty)":
        assert answer.rstrip("\n").endswith(text)


@given(st.lists(line, min_size=1, max_size=12), st.data(), asked)
def test_a_suggestion_changes_one_prose_line_of_the_marked_ones(
    lines: list[str], data: st.DataObject, words: str
) -> None:
    start = data.draw(st.integers(1, len(lines)))
    end = data.draw(st.integers(start, len(lines)))
    answer = ask(
        "A reviewer of chapter 1, Tides, asks for a change to lines of its file (marked with "
        f"`>` below).\n\n{numbered(chr(10).join(lines), start, end)}\n\n"
        f"The reviewer's instructions: {words}\n\nAnswer with the new text."
    )
    marked = lines[start - 1 : end]
    got = answer.split("\n")
    assert len(got) == len(marked)
    changed = [i for i, (a, b) in enumerate(zip(marked, got, strict=True)) if a != b]
    prose = [i for i, t in enumerate(marked) if not MARKUP.match(t)]
    assert changed == (prose[-1:] if prose else [])
