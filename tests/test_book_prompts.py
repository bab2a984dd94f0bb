"""Prompts carry the outline, the rules and the schema; their stable prefix is cacheable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.book.config import BookConfig
from bot.book.model import Book
from bot.book.prompts import DEFAULT_STYLE_GUIDE, OUTLINE_SCHEMA, chapter_prompt, outline_prompt

FILES = {
    "myst.yml": (
        "version: 1\nproject:\n  title: Bayes for Biologists\n  toc:\n    - file: intro.md\n"
        + "".join(f"    - file: chapters/0{n}.md\n" for n in range(1, 5))
    ),
    "intro.md": "---\ntitle: Welcome\nlabel: intro\n---\n\nHi.\n",
    "chapters/01.md": "---\ntitle: Why Bayes\nlabel: why\nsummary: Motivation.\n---\n\n(why-detail)=\n## D\n",
    "chapters/02.md": (
        "---\ntitle: Priors\nlabel: priors\nsummary: Choosing priors.\n"
        "options:\n  objectives:\n    - Choose a prior\n    - Defend the choice\n---\n\n% liquidbook: stub\n"
    ),
    "chapters/03.md": "---\ntitle: Likelihood\nlabel: lik\nsummary: The data model.\n---\n\nWritten text here.\n",
    "chapters/04.md": "---\ntitle: MCMC\nlabel: mcmc\nsummary: Sampling.\n---\n",
    ".github/liquidbook.yml": (
        "type: course\naudience: Biology students\nlanguage: de\nstyle_guide: Be kind and exact.\n"
    ),
}


@pytest.fixture
def book(tmp_path: Path) -> Book:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, "utf-8")
    return Book.from_directory(tmp_path)


def test_outline_prompt_states_schema_and_type() -> None:
    prompt = outline_prompt(BookConfig(type="research"), "Effects of light on moths", None)
    assert prompt.user.startswith("Plan a research paper from")
    assert OUTLINE_SCHEMA in prompt.user
    assert "methods" in prompt.user and "research" in prompt.user
    assert prompt.user.startswith(prompt.stable_prefix)
    assert prompt.user.rstrip().endswith("Effects of light on moths")
    assert prompt.system.startswith(DEFAULT_STYLE_GUIDE)


def test_outline_prompt_shows_existing_chapters(book: Book) -> None:
    prompt = outline_prompt(book.config, "Restructure it", book)
    assert "2. Priors (file `chapters/02.md`, not written yet): Choosing priors." in prompt.user
    assert "3. Likelihood (file `chapters/03.md`, written): The data model." in prompt.user
    assert "Keep every written chapter" in prompt.user
    assert prompt.system.startswith("Be kind and exact.")
    assert "Biology students" in prompt.system and "`de`" in prompt.system


def test_chapter_prompt_has_outline_neighbours_objectives_and_rules(book: Book) -> None:
    prompt = chapter_prompt(book, book.toc[1], "Use a worked example with real numbers.")
    user = prompt.user
    assert user.startswith(prompt.stable_prefix)
    for title in ("Why Bayes", "Priors", "Likelihood", "MCMC"):
        assert title in user
    assert "The previous chapter, 1. Why Bayes: Motivation." in user
    assert "The next chapter, 3. Likelihood: The data model." in user
    assert "- Choose a prior\n- Defend the choice" in user
    assert "worked example with real numbers" in user
    assert "Sections start at `##`" in prompt.stable_prefix
    assert "```{note}" in prompt.stable_prefix
    assert "KaTeX" in prompt.stable_prefix
    assert "@name" in prompt.stable_prefix
    assert "do not\n  write front matter" in prompt.stable_prefix
    assert "Markdown body of the chapter only" in prompt.stable_prefix
    for label in ("`intro`", "`why`", "`why-detail`", "`priors`", "`lik`", "`mcmc`"):
        assert label in user
    assert prompt.system.startswith("Be kind and exact.")
    assert "current text" not in user  # a stub has nothing to improve on


def test_stable_prefix_is_the_same_for_every_chapter(book: Book) -> None:
    prefixes = {chapter_prompt(book, chapter).stable_prefix for chapter in book.toc}
    assert len(prefixes) == 1
    users = {chapter_prompt(book, chapter).user for chapter in book.toc}
    assert len(users) == len(book.toc)


def test_written_chapter_is_given_to_improve(book: Book) -> None:
    prompt = chapter_prompt(book, book.toc[2])
    assert "Written text here." in prompt.user
    assert "The next chapter, 4. MCMC" in prompt.user
    first = chapter_prompt(book, book.toc[0])
    assert "previous chapter" not in first.user
    last = chapter_prompt(book, book.toc[3])
    assert "next chapter" not in last.user


def test_build_problems_go_back_with_lines_of_the_models_own_text(book: Book) -> None:
    from bot.book.check import BuildIssue, BuildReport
    from bot.book.prompts import repair_request
    from bot.book.render import render_chapter
    from bot.jobs.generate import _problems_in_body

    chapter = book.toc[1]
    body = "## One\n\nText.\n\n```{bad}\nx\n```\n"
    content = render_chapter(chapter, body)
    line_in_file = content.splitlines().index("```{bad}") + 1
    report = BuildReport(
        False,
        errors=[
            BuildIssue("error", chapter.path, line_in_file, "unknown directive: bad"),
            BuildIssue("error", chapter.path, None, "Include Directive: Could not find x.md"),
            BuildIssue("error", "intro.md", 3, "something else"),
        ],
        warnings=[BuildIssue("warning", None, None, "book-wide")],
    )
    problems = _problems_in_body(report, chapter, content, body)
    assert problems == [
        "⛔️ line 5: unknown directive: bad",
        "⛔️ Include Directive: Could not find x.md",
        "⛔️ in `intro.md`: something else",
        "⚠️ book-wide",
    ]
    assert body.splitlines()[4] == "```{bad}"
    request = repair_request(problems)
    assert "- ⛔️ line 5: unknown directive: bad\n" in request
    assert "whole corrected chapter body" in request


@pytest.mark.parametrize(
    ("book_type", "opening"),
    [
        ("article", "Plan an article"),
        ("book", "Plan a book"),
        ("course", "Plan a course"),
        ("research", "Plan a research paper"),
    ],
)
def test_outline_prompt_names_the_type_in_good_grammar(book_type: str, opening: str) -> None:
    config = BookConfig.model_validate({"type": book_type})
    assert outline_prompt(config, "Moths", None).user.startswith(opening + " from")


def long_book(root: Path, count: int, glossary: bool = True) -> Book:
    """A book of `count` written chapters, each a few paragraphs with its own key term."""
    toc = "".join(f"    - file: chapters/{n:02d}.md\n" for n in range(1, count + 1))
    files = {
        "myst.yml": f"version: 1\nproject:\n  title: Long\n  toc:\n    - file: intro.md\n{toc}",
        "intro.md": "---\ntitle: Welcome\nlabel: intro\n---\n\nHi.\n",
    }
    for n in range(1, count + 1):
        paragraphs = "\n\n".join(
            f"Paragraph {p} of chapter {n} explains **idea {n}** with care and examples. " * 4
            for p in range(1, 9)
        )
        files[f"chapters/{n:02d}.md"] = (
            f"---\ntitle: Topic {n}\nlabel: topic-{n}\nsummary: Planned summary {n}.\n---\n\n"
            f"({f'sec-{n}'})=\n## Section\n\n{paragraphs}\n"
        )
    if glossary:
        terms = "".join(f"idea {n}\n  What idea {n} means.\n\n" for n in range(1, count + 1))
        files["glossary.md"] = f"# Glossary\n\n```{{glossary}}\n{terms}```\n"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return Book.from_directory(root)


def test_chapter_12_sees_chapter_11_as_written_and_the_glossary(tmp_path: Path) -> None:
    from bot.book.digest import Digest

    book = long_book(tmp_path, 12)
    memory = {book.toc[10].path: Digest("Chapter eleven really says this.", ["idea 11"])}
    prompt = chapter_prompt(book, book.toc[11], memory=memory)
    assert "The previous chapter, 11. Topic 11: Chapter eleven really says this." in prompt.user
    assert "How the previous chapter ends (Topic 11)" in prompt.user
    assert "idea 12" in prompt.user and "idea 11" in prompt.user  # glossary and key terms
    assert "1. Topic 1 (label `topic-1`)" in prompt.user  # far chapters by title


@pytest.mark.parametrize("count", [3, 12, 30, 60])
def test_the_prompt_stays_within_a_budget_whatever_the_book_length(
    tmp_path: Path, count: int
) -> None:
    from bot.book.prompts import EXCERPT_CHARS, MAX_LABELS, OUTLINE_BUDGET, TERMS_BUDGET
    from bot.providers.tokens import estimate_tokens

    book = long_book(tmp_path, count)
    base = estimate_tokens(
        chapter_prompt(
            long_book(tmp_path / "one", 1), Book.from_directory(tmp_path / "one").toc[0]
        ).user
    )
    limit = base + OUTLINE_BUDGET + TERMS_BUDGET + 2 * EXCERPT_CHARS + MAX_LABELS * 8 + 400
    for chapter in (book.toc[0], book.toc[len(book.toc) // 2], book.toc[-1]):
        size = estimate_tokens(chapter_prompt(book, chapter).user)
        assert size <= limit, (count, chapter.number, size, limit)
