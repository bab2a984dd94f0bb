"""Each type of text gets its own plan, chapters and files (issue 13, point 1).

The offline stand-in model answers the real prompts; the real outline parser, clean-up,
type finishing and `jupyter-book build --site --strict` do the rest. The same description
planned as each type gives visibly different trees, and every one builds with no ⛔️/⚠️.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import frontmatter
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.book.check import BuildReport, check_book
from bot.book.clean import clean_chapter_body
from bot.book.config import BookConfig
from bot.book.genre import (
    NEEDS_SOURCE,
    QUIZ_HEADING,
    bib_entries,
    bib_path,
    checked_entry,
    finish_chapter,
    resolve_citations,
    split_references,
)
from bot.book.model import Book
from bot.book.outline import parse_outline, plan_outline
from bot.book.prompts import Prompt, chapter_prompt, outline_prompt
from bot.book.render import render_chapter
from bot.jobs.setup import book_skeleton
from standins.offline_model import offline_answer

DESCRIPTION = "A short text on tide pools for curious walkers, 4 chapters"


def ask(prompt: Prompt) -> str:
    return offline_answer(
        {
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ]
        }
    )


def write_files(root: Path, files: dict[str, str | None]) -> None:
    for path, text in files.items():
        if text is None:
            (root / path).unlink()
        else:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, "utf-8")


def make_book(root: Path, book_type: str) -> Book:
    """Set up, outline and write every chapter as the jobs do, with the offline model."""
    write_files(root, dict(book_skeleton("octo/tides", "https://github.com/octo/tides")))
    book = Book.from_directory(root)
    config = BookConfig.model_validate({"type": book_type})
    outline = parse_outline(ask(outline_prompt(config, DESCRIPTION, book)))
    write_files(root, plan_outline(book, outline, config, DESCRIPTION).files)
    book = Book.from_directory(root)
    for chapter in book.toc:
        answer = ask(chapter_prompt(book, chapter))
        text, references = split_references(answer)
        cleaned = clean_chapter_body(text, book, chapter)
        own = bib_path(chapter.path)
        done = finish_chapter(
            book_type, cleaned.body, chapter.path, references, book.citation_keys(own)
        )
        write_files(root, {chapter.path: render_chapter(chapter, done.body), **done.files})
    return Book.from_directory(root)


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Book, BuildReport]]:
    made = {kind: make_book(tmp_path_factory.mktemp(kind), kind) for kind in TYPES}

    async def build_all() -> list[BuildReport]:
        return await asyncio.gather(*(check_book(book.directory) for book in made.values()))

    reports = asyncio.run(build_all())
    return {kind: (made[kind], report) for kind, report in zip(made, reports, strict=True)}


TYPES = ("article", "book", "course", "research")


@pytest.mark.parametrize("kind", TYPES)
def test_every_type_builds_cleanly(kind: str, books: dict[str, tuple[Book, BuildReport]]) -> None:
    book, report = books[kind]
    assert report.ok and report.errors == [] and report.warnings == [], report.markdown()
    assert book.config.type == kind


def toc_entries(book: Book) -> list[dict[str, object]]:
    data = yaml.safe_load((book.directory / "myst.yml").read_text())
    return list(data["project"]["toc"])


def test_an_article_is_one_page_with_an_abstract(
    books: dict[str, tuple[Book, BuildReport]],
) -> None:
    book, _ = books["article"]
    assert toc_entries(book) == [{"file": "article.md"}]
    page = frontmatter.loads((book.directory / "article.md").read_text())
    assert page["abstract"] and len(page["options"]["sections"]) == 4
    headings = re.findall(r"^## (.+)$", page.content, re.M)
    assert headings == [s["title"] for s in page["options"]["sections"]]
    assert not (book.directory / "intro.md").exists()
    assert not list((book.directory / "chapters").glob("*.md"))


def test_a_book_has_parts(books: dict[str, tuple[Book, BuildReport]]) -> None:
    book, _ = books["book"]
    entries = toc_entries(book)
    assert entries[0] == {"file": "intro.md"}
    parts = [e for e in entries[1:] if "children" in e]
    assert len(parts) == 2 and all(str(p["title"]) for p in parts)
    assert sum(len(p["children"]) for p in parts) == 4  # type: ignore[arg-type]


def test_a_course_has_modules_with_exercises_and_a_quiz_slot(
    books: dict[str, tuple[Book, BuildReport]],
) -> None:
    book, _ = books["course"]
    assert len(book.toc) == 4
    for module in book.toc:
        assert module.objectives and isinstance(module.extra["options"]["minutes"], int)
        body = module.body
        assert "## Learning objectives" in body and "Estimated time:" in body
        assert "## Worked example" in body and "```{exercise}" in body
        assert f"```{{solution}} {module.label}-ex-1" in body
        assert body.count(QUIZ_HEADING) == 1 and body.rstrip().endswith(
            "`/generate quiz` fills this section with questions on the module."
        )
    assert not list(book.directory.rglob("*.bib"))


def test_research_cites_references_kept_one_bib_per_chapter(
    books: dict[str, tuple[Book, BuildReport]],
) -> None:
    book, _ = books["research"]
    titles = [c.title for c in book.toc]
    assert titles == ["Background and Related Work", "Methods", "Results", "Discussion"]
    for chapter in book.toc:
        bib = book.directory / bib_path(chapter.path)
        [(key, entry)] = bib_entries(bib.read_text())
        assert f"{{cite}}`{key}`" in chapter.body
        assert NEEDS_SOURCE in entry and "doi =" not in entry.lower()
    assert "```{exercise}" not in "".join(c.body for c in book.toc)


def test_entries_keep_real_identifiers_and_lose_malformed_dois() -> None:
    good = "@article{a2020,\n  title = {T},\n  doi = {10.1000/xyz123}\n}"
    assert checked_entry(good) == (good, False)
    bad, marked = checked_entry(
        "@article{b2020,\n  title = {T},\n  doi = {not-a-doi},\n  year = {2020}\n}"
    )
    assert marked and "not-a-doi" not in bad and NEEDS_SOURCE in bad
    assert [k for k, _ in bib_entries(bad)] == ["b2020"]
    with_url = "@misc{c,\n  url = {https://example.org/paper}\n}"
    assert checked_entry(with_url) == (with_url, False)


def test_answers_split_into_body_and_references() -> None:
    body, refs = split_references("Text {cite}`k`.\n\n```bibtex\n@book{k,\n  title = {B}\n}\n```\n")
    assert body == "Text {cite}`k`.\n" and refs.startswith("@book{k,")
    finished = finish_chapter("research", body, "chapters/01-a.md", refs, set())
    assert set(finished.files) == {"chapters/01-a.bib"}
    # A key another chapter's .bib holds is cited, never duplicated.
    again = finish_chapter("research", body, "chapters/02-b.md", refs, {"k"})
    assert again.files == {} and again.body == body


_keys = st.text(alphabet="abcxyz019-", min_size=1, max_size=6)


@given(cited=st.lists(st.lists(_keys, min_size=1, max_size=3), max_size=5), known=st.sets(_keys))
def test_no_citation_is_left_to_a_missing_key(cited: list[list[str]], known: set[str]) -> None:
    roles = " ".join("{cite:p}`" + ",".join(keys) + "`" for keys in cited)
    fixed, fixes = resolve_citations(roles, known)
    left = [
        k
        for m in re.finditer(r"\{cite(?::[a-z]+)?\}`([^`]*)`", fixed)
        for k in m.group(1).split(",")
    ]
    assert set(left) <= known
    assert bool(fixes) == any(k not in known for keys in cited for k in keys)


def test_a_course_module_gets_one_quiz_slot() -> None:
    once = finish_chapter("course", "## A\n\nText.\n", "chapters/01.md", "", set()).body
    assert once.count(QUIZ_HEADING) == 1
    assert finish_chapter("course", once, "chapters/01.md", "", set()).body == once
