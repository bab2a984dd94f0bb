"""Outlines from model answers, and the files an `/outline` pull request writes."""

from __future__ import annotations

import json
from pathlib import Path

import frontmatter
import pytest
import yaml

from bot.book.config import BookConfig, parse_config
from bot.book.model import Book
from bot.book.outline import Outline, OutlineChapter, OutlineError, outline_files, parse_outline

OUTLINE = {
    "title": "Bayes for Biologists",
    "description": "A first course.",
    "type": "course",
    "chapters": [
        {"title": "Why Bayes?", "summary": "Motivation.", "objectives": ["Explain priors"]},
        {"title": "Priors", "summary": "Choosing priors.", "objectives": []},
    ],
}


@pytest.mark.parametrize(
    "answer",
    [
        json.dumps(OUTLINE),
        "```json\n" + json.dumps(OUTLINE, indent=2) + "\n```",
        "Here is your outline:\n\n```\n" + json.dumps(OUTLINE) + "\n```\n\nLet me know!",
        "Sure! " + json.dumps(OUTLINE) + " Hope this helps {not json}.",
        "Notes {a} then\n```JSON\n" + json.dumps(OUTLINE) + "\n```",
        json.dumps(OUTLINE, indent=2).replace('"Priors"\n', '"Priors",\n').replace("]\n}", "],\n}"),
    ],
)
def test_parse_outline_finds_the_json(answer: str) -> None:
    outline = parse_outline(answer)
    assert outline.title == "Bayes for Biologists"
    assert outline.book_type == "course"
    assert [c.title for c in outline.chapters] == ["Why Bayes?", "Priors"]
    assert outline.chapters[0].objectives == ["Explain priors"]


def test_parse_outline_is_lenient_where_it_is_unambiguous() -> None:
    answer = json.dumps(
        {
            "title": " Spaced  title ",
            "type": "Textbook",
            "extra": "ignored",
            "chapters": [
                {"title": "Chapter 1: Why Bayes?", "objectives": "- one\n- two\n"},
                {"title": "Module 2 — Priors", "summary": "x", "objectives": ["a", " ", ""]},
            ],
        }
    )
    outline = parse_outline(answer)
    assert outline.title == "Spaced  title"
    assert outline.book_type is None
    assert [c.title for c in outline.chapters] == ["Why Bayes?", "Priors"]
    assert outline.chapters[0].objectives == ["one", "two"]
    assert outline.chapters[1].objectives == ["a"]


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ("I cannot help with that.", "no JSON object"),
        ('{"title": "x"}', "no JSON object"),
        ('{"title": "x", "chapters": []}', "chapters"),
        ('{"chapters": [{"title": "a"}]}', "title"),
        ('{"title": "x", "chapters": [{"summary": "no title"}]}', "chapters.0.title"),
    ],
)
def test_parse_outline_errors_say_what_is_wrong(answer: str, fragment: str) -> None:
    with pytest.raises(OutlineError) as caught:
        parse_outline(answer)
    assert fragment in str(caught.value)


def test_new_book_files() -> None:
    files = outline_files(None, parse_outline(json.dumps(OUTLINE)), BookConfig())
    assert set(files) == {
        "myst.yml",
        "intro.md",
        ".gitignore",
        ".github/liquidbook.yml",
        "chapters/01-why-bayes.md",
        "chapters/02-priors.md",
    }
    myst = yaml.safe_load(files["myst.yml"])
    assert myst["project"]["title"] == "Bayes for Biologists"
    assert myst["project"]["description"] == "A first course."
    assert [e["file"] for e in myst["project"]["toc"]] == [
        "intro.md",
        "chapters/01-why-bayes.md",
        "chapters/02-priors.md",
    ]
    assert parse_config(files[".github/liquidbook.yml"]).type == "course"
    stub = frontmatter.loads(files["chapters/01-why-bayes.md"])
    assert stub["title"] == "Why Bayes?"
    assert stub["label"] == "why-bayes"
    assert stub["options"] == {"objectives": ["Explain priors"]}
    assert "% liquidbook: stub" in stub.content
    assert "/generate chapter 1" in stub.content


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")


def test_existing_book_keeps_written_chapters(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "myst.yml": (
                "# keep me\nversion: 1\nproject:\n  title: My Own Title\n  toc:\n"
                "    - file: index.md\n    - file: chapters/01-priors.md\n"
                "    - file: chapters/02-old.md\n"
            ),
            "index.md": "# Home\n",
            "chapters/01-priors.md": "---\ntitle: Priors\nlabel: priors\n---\n\nWritten text.\n",
            "chapters/02-old.md": "---\ntitle: Old chapter\n---\n\nOld.\n",
            ".github/liquidbook.yml": "# my comments\ntype: book\n",
        },
    )
    book = Book.from_directory(tmp_path)
    outline = Outline(
        title="New title",
        book_type="book",
        chapters=[
            OutlineChapter(title="Why Bayes?", summary="Motivation."),
            OutlineChapter(title="priors", summary="Better summary.", objectives=["Pick one"]),
        ],
    )
    files = outline_files(book, outline, book.config)
    assert set(files) == {"myst.yml", "chapters/01-why-bayes.md", "chapters/01-priors.md"}
    myst = files["myst.yml"]
    assert "# keep me" in myst
    data = yaml.safe_load(myst)
    assert data["project"]["title"] == "My Own Title"
    assert [e["file"] for e in data["project"]["toc"]] == [
        "index.md",
        "chapters/01-why-bayes.md",
        "chapters/01-priors.md",
    ]
    kept = frontmatter.loads(files["chapters/01-priors.md"])
    assert kept.content == "Written text."
    assert kept["summary"] == "Better summary."
    assert kept["label"] == "priors"
    assert kept["title"] == "priors"


def test_new_chapter_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "myst.yml": "version: 1\nproject:\n  toc:\n    - file: intro.md\n    - file: chapters/01-a.md\n",
            "intro.md": "# Hi\n",
            "chapters/01-a.md": "---\ntitle: Something else\n---\n\nText.\n",
        },
    )
    book = Book.from_directory(tmp_path)
    outline = Outline(title="T", chapters=[OutlineChapter(title="A")])
    files = outline_files(book, outline, book.config)
    assert "chapters/01-a-2.md" in files
    assert "chapters/01-a.md" not in files
    assert ".github/liquidbook.yml" in files  # the book had no settings file yet


def test_first_outline_replaces_the_setup_prs_starter_title_and_intro(tmp_path: Path) -> None:
    """The setup PR titles the book after the repository; the first outline names it."""
    from bot.jobs.setup import book_skeleton

    for path, text in book_skeleton(
        "octo-org/tide-notes", "https://github.test/octo-org/tide-notes"
    ).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    book = Book.from_directory(tmp_path)
    assert book.title == "Tide Notes"
    outline = parse_outline(
        '{"title": "Tide Pools", "description": "Life between tides.", '
        '"chapters": [{"title": "Zones", "summary": "Where.", "objectives": ["Name them"]}]}'
    )
    files = outline_files(book, outline, book.config)
    assert "title: Tide Pools" in files["myst.yml"] and "Life between tides." in files["myst.yml"]
    assert (
        "getting started" not in files["intro.md"].lower()
        and "Life between tides." in files["intro.md"]
    )
    # Once the author has named the book, a later outline leaves the name alone.
    (tmp_path / "myst.yml").write_text(files["myst.yml"].replace("Life between tides.", "Mine."))
    again = outline_files(Book.from_directory(tmp_path), outline, book.config)
    assert "title: Tide Pools" in again["myst.yml"] and "Mine." in again["myst.yml"]


def notebook(title: str | None = None) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "source": ["x = 1"]}]
    if title:
        cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": [f"# {title}\n"]})
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_notebook_chapters_are_never_rewritten_as_markdown(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "myst.yml": (
                "version: 1\nproject:\n  toc:\n    - file: intro.md\n"
                "    - file: chapters/01-explore.ipynb\n    - file: chapters/02-fit.ipynb\n"
            ),
            "intro.md": "# Hi\n",
            "chapters/01-explore.ipynb": notebook("Exploring data"),
            "chapters/02-fit.ipynb": notebook(),
            ".github/liquidbook.yml": "type: book\n",
        },
    )
    book = Book.from_directory(tmp_path)
    outline = Outline(
        title="T",
        book_type="book",
        chapters=[
            OutlineChapter(title="Fit", summary="New summary.", objectives=["Fit a line"]),
            OutlineChapter(title="Exploring Data", summary="Plots.", objectives=["Plot"]),
        ],
    )
    files = outline_files(book, outline, book.config)
    assert not any(path.endswith(".ipynb") for path in files)
    assert set(files) == {"myst.yml"}
    toc = [e["file"] for e in yaml.safe_load(files["myst.yml"])["project"]["toc"]]
    assert toc == ["intro.md", "chapters/02-fit.ipynb", "chapters/01-explore.ipynb"]


def test_disabled_chapters_are_never_overwritten(tmp_path: Path) -> None:
    """A chapter taken out of the toc stays on disk; a new chapter whose file name would be
    the same gets another name, and one with the same title brings the file back as it is."""
    disabled = "---\ntitle: Old priors\nlabel: priors\n---\n\nMy written text.\n"
    revived = "---\ntitle: Likelihood\nlabel: lik\nsummary: Kept.\n---\n\nWritten, too.\n"
    write(
        tmp_path,
        {
            "myst.yml": "version: 1\nproject:\n  toc:\n    - file: intro.md\n",
            "intro.md": "# Hi\n",
            "chapters/01-priors.md": disabled,
            "chapters/07-likelihood.md": revived,
            "chapters/03-notebook.ipynb": notebook("Notebook"),
            ".github/liquidbook.yml": "type: book\n",
        },
    )
    book = Book.from_directory(tmp_path)
    assert book.toc == []
    outline = Outline(
        title="T",
        book_type="book",
        chapters=[
            OutlineChapter(title="Priors", summary="New."),
            OutlineChapter(title="likelihood"),
            OutlineChapter(title="Notebook", summary="Changed."),
        ],
    )
    files = outline_files(book, outline, book.config)
    assert set(files) == {"myst.yml", "chapters/01-priors-2.md", "chapters/07-likelihood.md"}
    back = frontmatter.loads(files["chapters/07-likelihood.md"])  # only the title's case
    assert (back.content, back["title"], back["summary"]) == (
        "Written, too.",
        "likelihood",
        "Kept.",
    )
    toc = [e["file"] for e in yaml.safe_load(files["myst.yml"])["project"]["toc"]]
    assert toc == [
        "intro.md",
        "chapters/01-priors-2.md",
        "chapters/07-likelihood.md",
        "chapters/03-notebook.ipynb",
    ]
    stub = frontmatter.loads(files["chapters/01-priors-2.md"])
    # The disabled chapter keeps its label for the day it comes back.
    assert stub["label"] == "priors-2" and "% liquidbook: stub" in stub.content


def test_a_revived_chapter_gets_the_outlines_front_matter_and_keeps_its_text(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "myst.yml": "version: 1\nproject:\n  toc:\n    - file: intro.md\n",
            "intro.md": "# Hi\n",
            "chapters/05-priors.md": "---\ntitle: Priors\nlabel: priors\n---\n\nMine.\n",
        },
    )
    book = Book.from_directory(tmp_path)
    outline = Outline(title="T", chapters=[OutlineChapter(title="Priors", summary="Better.")])
    files = outline_files(book, outline, book.config)
    kept = frontmatter.loads(files["chapters/05-priors.md"])
    assert kept.content == "Mine." and kept["summary"] == "Better." and kept["label"] == "priors"
    assert not any(path.startswith("chapters/01-") for path in files)
