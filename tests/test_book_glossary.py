"""The glossary merge: a person's entries never dropped, each term once, and the file builds."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book.check import check_book
from bot.book.glossary import (
    INTRO,
    clean_term,
    definition_from_text,
    merge,
    parse_definitions,
    read_glossary,
    render,
)
from bot.book.model import Book
from bot.book.prompts import glossary_terms

SKELETON = Path(__file__).resolve().parent.parent / "templates" / "book-skeleton"

words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=0, max_size=40
)
term_dicts = st.dictionaries(words, words, max_size=8)


def test_a_persons_entries_survive_verbatim() -> None:
    person = (
        "# Words\n\nMine.\n\n```{glossary}\nZeta\n: Last letter, *mine*.\n  More of it.\n\n"
        "alpha\nAlpha two\n: Shared.\n```\n\nAfter.\n"
    )
    merged, added = merge(read_glossary(person), {"Beta": "Second.", "ZETA": "Not again."})
    assert added == ["Beta"]
    assert merged.terms() == ["alpha", "Beta", "Zeta"]
    text = render(merged)
    assert ": Last letter, *mine*.\n  More of it." in text and "Alpha two\n: Shared." in text
    assert text.startswith("# Words\n\nMine.\n") and text.rstrip().endswith("After.")
    assert read_glossary(text).terms() == merged.terms()


@settings(max_examples=200, deadline=None)
@given(term_dicts, term_dicts)
def test_merge_keeps_every_entry_and_each_term_once(
    first: dict[str, str], second: dict[str, str]
) -> None:
    glossary, _ = merge(read_glossary(INTRO), first)
    text = render(glossary)
    again, added = merge(read_glossary(text), second)
    terms = again.terms()
    assert [t.casefold() for t in terms] == sorted({t.casefold() for t in terms})
    assert len({t.casefold() for t in terms}) == len(terms)
    for entry in glossary.entries:  # never dropped, never rewritten
        assert entry in again.entries
    reread = read_glossary(render(again))
    assert reread.entries == again.entries
    assert all(clean_term(t) == t for t in added)


@settings(max_examples=100, deadline=None)
@given(st.lists(words, max_size=6))
def test_the_prompt_reads_what_the_merge_writes(names: list[str]) -> None:
    glossary, added = merge(read_glossary(None), {n: "A thing." for n in names})
    assert glossary.terms() == sorted(added, key=lambda t: (t.casefold(), t))
    assert merge(glossary, {n: "Again." for n in names})[1] == []


def test_definition_from_text() -> None:
    texts = ["# Title\n\nNothing here.", "A prior is what you believed before the data came in."]
    assert definition_from_text("prior", texts).startswith("A prior is")
    assert definition_from_text("posterior", texts) == ""


def test_merged_glossary_builds_and_prompts_see_it(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(SKELETON, book)
    assert (book / "glossary.md").read_text() == INTRO  # the skeleton's: no empty directive
    glossary, _ = merge(
        read_glossary(INTRO), {"Prior": "What you believed.", "Bayes rule": "How beliefs move."}
    )
    (book / "glossary.md").write_text(render(glossary))
    chapter = book / "chapters" / "01-getting-started.md"
    chapter.write_text(chapter.read_text() + "\nSee {term}`Prior` and {term}`Bayes rule`.\n")
    assert glossary_terms(Book.from_directory(book)) == ["Bayes rule", "Prior"]
    report = asyncio.run(check_book(book))
    assert report.clean, report.markdown()


@settings(max_examples=200, deadline=None)
@given(st.one_of(words, st.dictionaries(words, st.one_of(words, st.integers())).map(str)))
def test_definitions_from_any_answer_are_plain_lines(answer: str) -> None:
    found = parse_definitions(answer) or {}
    assert all(d and "\n" not in d and "`" not in d for d in found.values())


def test_definitions_read_from_a_fenced_answer() -> None:
    answer = 'Here:\n```json\n{"Prior": "What you **believed**.", "n": 3}\n```'
    assert parse_definitions(answer) == {"Prior": "What you believed."}
    assert parse_definitions("No JSON at all.") is None
