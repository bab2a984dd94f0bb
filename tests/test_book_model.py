"""Reading a book from a directory: toc conventions, front matter, selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.book.config import ConfigError
from bot.book.model import Book, BookError
from bot.book.selector import ChapterSelector


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def chapter_file(title: str, label: str = "", body: str = "Some text.\n") -> str:
    label_line = f"label: {label}\n" if label else ""
    return f"---\ntitle: {title}\n{label_line}summary: About {title}.\n---\n\n{body}"


MYST = """\
version: 1
project:
  title: Bayes for Biologists
  toc:
    - file: intro.md
    - file: chapters/01-why.md
    - title: Part one
      children:
        - file: chapters/02-priors.md
        - file: chapters/03-likelihood.md
          children:
            - file: chapters/03a-details.md
    - url: https://example.org
    - file: chapters/04-missing.md
    - title: Appendix
      children:
        - pattern: appendix/*.md
"""


@pytest.fixture
def book_dir(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        {
            "myst.yml": MYST,
            "intro.md": "---\ntitle: Welcome\nlabel: intro\n---\n\nHello.\n",
            "chapters/01-why.md": chapter_file("Why Bayes?", "why-bayes"),
            "chapters/02-priors.md": (
                "---\ntitle: Priors\nlabel: priors\nauthors: [Ada]\n"
                "options:\n  objectives:\n    - Choose a prior\n    - Defend it\n  other: 1\n"
                "---\n\n(conjugate)=\n## Conjugate priors\n\n```python\n(not-a-label)=\n```\n"
            ),
            "chapters/03-likelihood.md": "# The likelihood\n\n% liquidbook: stub\n",
            "chapters/03a-details.md": "---\ntitle: [unclosed\n---\n\nBody.\n",
            "appendix/b.md": chapter_file("Appendix B"),
            "appendix/a.md": chapter_file("Appendix A"),
            ".github/liquidbook.yml": "type: course\naudience: biologists\n",
        },
    )


def test_reads_toc_in_order_with_sections_children_and_patterns(book_dir: Path) -> None:
    book = Book.from_directory(book_dir)
    assert book.title == "Bayes for Biologists"
    assert book.root_files == ["intro.md"]
    assert [c.path for c in book.toc] == [
        "chapters/01-why.md",
        "chapters/02-priors.md",
        "chapters/03-likelihood.md",
        "chapters/03a-details.md",
        "chapters/04-missing.md",
        "appendix/a.md",
        "appendix/b.md",
    ]
    assert [c.number for c in book.toc] == [1, 2, 3, 4, 5, 6, 7]
    assert book.config.type == "course"
    assert book.config.audience == "biologists"


def test_front_matter_and_fallbacks(book_dir: Path) -> None:
    why, priors, likelihood, details, missing, *_ = Book.from_directory(book_dir).toc
    assert (why.title, why.label, why.summary) == ("Why Bayes?", "why-bayes", "About Why Bayes?.")
    assert not why.is_stub
    assert priors.objectives == ["Choose a prior", "Defend it"]
    assert priors.extra == {"authors": ["Ada"], "options": {"other": 1}}
    assert likelihood.title == "The likelihood"  # from the first heading
    assert likelihood.is_stub
    assert details.title == "Details"  # invalid front matter: from the file name
    assert missing.missing and missing.is_stub
    assert missing.title == "Missing"


def test_problems_are_recorded_not_raised(book_dir: Path) -> None:
    problems = Book.from_directory(book_dir).problems
    assert "The toc lists `chapters/04-missing.md`, but there is no such file." in problems
    assert any("03a-details.md" in p and "front matter" in p for p in problems)


def test_labels_cover_page_labels_and_targets_but_not_code(book_dir: Path) -> None:
    book = Book.from_directory(book_dir)
    labels = book.labels()
    assert {"intro", "why-bayes", "priors", "conjugate"} <= labels
    assert "not-a-label" not in labels
    assert "conjugate" not in book.labels(except_path="chapters/02-priors.md")
    assert "priors" in book.labels(except_path="chapters/02-priors.md")


@pytest.mark.parametrize(
    ("selector", "numbers"),
    [
        (1, [1]),
        ("2", [2]),
        ("2-4", [2, 3, 4]),
        ("all", [1, 2, 3, 4, 5, 6, 7]),
        ("ALL", [1, 2, 3, 4, 5, 6, 7]),
        ('"priors"', [2]),
        ("why bayes?", [1]),
        (ChapterSelector("range", start=6, end=7), [6, 7]),
        (ChapterSelector("title", title="THE LIKELIHOOD"), [3]),
    ],
)
def test_chapter_selectors(book_dir: Path, selector: object, numbers: list[int]) -> None:
    book = Book.from_directory(book_dir)
    assert [c.number for c in book.chapter(selector)] == numbers  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (9, "This book has 7 chapters; there is no chapter 9."),
        ("6-9", "This book has 7 chapters; there is no chapters 6-9."),
        ("0", "Chapters are numbered from 1; there is no chapter 0."),
        ("Prior", 'No chapter is titled "Prior". Did you mean "Priors" (chapter 2)?'),
        (
            "Quantum chromodynamics",
            'No chapter is titled "Quantum chromodynamics". The chapters are: 1. Why Bayes?; '
            "2. Priors; 3. The likelihood; 4. Details; 5. Missing; 6. Appendix A; 7. Appendix B.",
        ),
    ],
)
def test_selector_errors_are_sentences(book_dir: Path, selector: object, message: str) -> None:
    book = Book.from_directory(book_dir)
    with pytest.raises(BookError) as caught:
        book.chapter(selector)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_an_empty_book_says_what_to_do(tmp_path: Path) -> None:
    write(tmp_path, {"myst.yml": "version: 1\nproject:\n  toc:\n    - file: intro.md\n"})
    book = Book.from_directory(tmp_path)
    assert book.toc == []
    with pytest.raises(BookError, match="/outline"):
        book.chapter(1)


def test_without_a_toc_chapters_come_from_the_chapters_folder(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "myst.yml": "version: 1\nproject:\n  title: T\n",
            "index.md": "# Home\n",
            "chapters/02-b.md": chapter_file("B"),
            "chapters/01-a.md": chapter_file("A"),
            "notes/x.md": "# not a chapter\n",
        },
    )
    book = Book.from_directory(tmp_path)
    assert book.root_files == ["index.md"]
    assert [c.title for c in book.toc] == ["A", "B"]


def test_first_entry_not_named_intro_is_a_chapter(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "myst.yml": "version: 1\nproject:\n  toc:\n    - file: start.md\n    - file: README.md\n",
            "start.md": chapter_file("Start"),
        },
    )
    book = Book.from_directory(tmp_path)
    assert book.root_files == []
    assert [c.path for c in book.toc] == ["start.md", "README.md"]
    assert book.title == tmp_path.name


@pytest.mark.parametrize(
    ("myst", "fragment"),
    [
        (None, "no `myst.yml`"),
        ("project: [unclosed\n", "not valid YAML (line"),
        ("- a\n- b\n", "must be a mapping"),
        ("version: 1\nproject: 3\n", "`project` in myst.yml"),
        ("version: 1\nproject:\n  toc: intro.md\n", "must be a list"),
    ],
)
def test_bad_myst_yml_is_a_clear_book_error(
    tmp_path: Path, myst: str | None, fragment: str
) -> None:
    if myst is not None:
        (tmp_path / "myst.yml").write_text(myst, "utf-8")
    with pytest.raises(BookError, match=None) as caught:
        Book.from_directory(tmp_path)
    assert fragment in str(caught.value)


def test_bad_settings_raise_config_error(tmp_path: Path) -> None:
    write(tmp_path, {"myst.yml": "version: 1\n", ".github/liquidbook.yml": "type: novel\n"})
    with pytest.raises(ConfigError):
        Book.from_directory(tmp_path)


def test_citation_keys_come_from_bib_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "myst.yml": "version: 1\n",
            "references.bib": "@article{smith2020,\n title={x}}\n@book{ doe-1999 , title={y}}\n",
        },
    )
    assert Book.from_directory(tmp_path).citation_keys() == {"smith2020", "doe-1999"}


def test_toc_entries_outside_the_book_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\ntitle: SECRET\n---\n\ntoken=abc\n")
    book_dir = tmp_path / "book"
    write(
        book_dir,
        {
            "myst.yml": (
                "version: 1\nproject:\n  toc:\n    - file: intro.md\n    - file: ../secret.md\n"
                "    - file: /etc/hostname\n    - file: chapters/link.md\n"
                "    - pattern: ../*.md\n    - file: chapters/ok.md\n"
            ),
            "intro.md": "# Hi\n",
            "chapters/ok.md": chapter_file("Fine"),
        },
    )
    (book_dir / "chapters" / "link.md").symlink_to(secret)
    book = Book.from_directory(book_dir)
    assert all("token" not in c.body and c.title != "SECRET" for c in book.toc)
    assert [c.title for c in book.toc if not c.missing] == ["Fine"]
    # `../secret.md`, `/etc/hostname`, the link and the `../*.md` pattern.
    assert sum("outside the book" in p for p in book.problems) == 4
    assert any("`../*.md` points outside the book" in p for p in book.problems)


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ('""', "must be a non-empty text"),
        ("'   '", "must be a non-empty text"),
        ("[a, b]", "must be a non-empty text"),
        ("3", "must be a non-empty text"),
        ("/etc/*", "`/etc/*` points outside the book"),
        ("/**/*.md", "`/**/*.md` points outside the book"),
        ("chapters/../../*.md", "`chapters/../../*.md` points outside the book"),
        ("'.'", "`.` is not a pattern of book files"),
        ("'./'", "`./` is not a pattern of book files"),
        ("'chapters\\\\*.md'", "is not a pattern of book files"),
    ],
)
def test_a_bad_toc_pattern_is_a_problem_not_a_crash(
    tmp_path: Path, pattern: str, fragment: str
) -> None:
    write(
        tmp_path,
        {
            "myst.yml": (
                "version: 1\nproject:\n  toc:\n    - file: intro.md\n"
                f"    - pattern: {pattern}\n    - title: Part\n      children:\n"
                "        - pattern: ./chapters/*\n"
            ),
            "intro.md": "# Hi\n",
            "chapters/01-a.md": chapter_file("A"),
            "chapters/02-b.ipynb": "{}",
            "chapters/notes.txt": "not a chapter",
        },
    )
    book = Book.from_directory(tmp_path)
    assert [c.path for c in book.toc] == ["chapters/01-a.md", "chapters/02-b.ipynb"]
    assert len(book.problems) == 1, book.problems
    assert fragment in book.problems[0] and "ignored" in book.problems[0]


def test_notebook_chapters_take_their_front_matter_from_the_first_markdown_cell(
    tmp_path: Path,
) -> None:
    import json

    notebook = {
        "cells": [
            {"cell_type": "code", "source": ["print(1)"], "metadata": {}, "outputs": []},
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": [
                    "---\n",
                    "title: Exploring data\n",
                    "label: explore\n",
                    "summary: Plots.\n",
                    "options:\n  objectives: [Plot a histogram]\n",
                    "---\n",
                    "# Ignored heading\n",
                ],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    headed = {"cells": [{"cell_type": "markdown", "source": "# From the heading\n"}]}
    write(
        tmp_path,
        {
            "myst.yml": (
                "version: 1\nproject:\n  toc:\n    - file: intro.md\n"
                "    - file: chapters/01-explore.ipynb\n    - file: chapters/02-h.ipynb\n"
                "    - file: chapters/03-broken.ipynb\n"
            ),
            "intro.md": "# Hi\n",
            "chapters/01-explore.ipynb": json.dumps(notebook),
            "chapters/02-h.ipynb": json.dumps(headed),
            "chapters/03-broken.ipynb": "{not json",
        },
    )
    first, second, third = Book.from_directory(tmp_path).toc
    assert (first.title, first.label, first.summary, first.objectives) == (
        "Exploring data",
        "explore",
        "Plots.",
        ["Plot a histogram"],
    )
    assert first.body == "" and not first.is_markdown and not first.is_stub
    assert second.title == "From the heading"
    assert third.title == "Broken" and not third.missing
