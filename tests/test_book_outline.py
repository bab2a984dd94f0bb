"""Outlines from model answers, and the files an `/outline` pull request writes."""

from __future__ import annotations

import json
from pathlib import Path

import frontmatter
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book.chapters import Chapter
from bot.book.config import BookConfig, parse_config
from bot.book.model import Book
from bot.book.outline import (
    Outline,
    OutlineChapter,
    OutlineError,
    outline_files,
    parse_outline,
    plan_outline,
)
from bot.book.replan import place

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
        "glossary.md",  # a book set up before the glossary gets it with its first outline
    }
    myst = yaml.safe_load(files["myst.yml"])
    assert myst["project"]["title"] == "Bayes for Biologists"
    assert myst["project"]["description"] == "A first course."
    assert [e["file"] for e in myst["project"]["toc"]] == [
        "intro.md",
        "chapters/01-why-bayes.md",
        "chapters/02-priors.md",
        "glossary.md",
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
    plan = plan_outline(book, outline, book.config, "Add a motivation chapter")
    files = plan.files
    assert set(files) == {
        "myst.yml",
        "chapters/01-why-bayes.md",
        "chapters/01-priors.md",
        "glossary.md",
    }
    myst = files["myst.yml"]
    assert isinstance(myst, str) and "# keep me" in myst
    data = yaml.safe_load(myst)
    assert data["project"]["title"] == "My Own Title"
    # The written chapter the plan forgot stays, after the chapter it followed.
    assert [e["file"] for e in data["project"]["toc"]] == [
        "index.md",
        "chapters/01-why-bayes.md",
        "chapters/01-priors.md",
        "chapters/02-old.md",
        "glossary.md",
    ]
    assert plan.changes.added == ["Why Bayes?"]
    assert plan.changes.renamed == [("Priors", "priors", "chapters/01-priors.md")]
    assert plan.changes.kept == [("Old chapter", "chapters/02-old.md")]
    assert "**Old chapter** (`chapters/02-old.md`)" in plan.changes.markdown()
    # Only when the author's description names it does a written chapter leave the toc.
    asked = plan_outline(book, outline, book.config, "Drop the old chapter, add motivation")
    toc = [e["file"] for e in yaml.safe_load(str(asked.files["myst.yml"]))["project"]["toc"]]
    assert toc == ["index.md", "chapters/01-why-bayes.md", "chapters/01-priors.md", "glossary.md"]
    assert asked.changes.left_out == [("Old chapter", "chapters/02-old.md")]
    assert "chapters/02-old.md" not in asked.files  # its file is kept as it is
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
    files = outline_files(book, outline, book.config, "Replace Something else with A")
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
    assert set(files) == {"myst.yml", "glossary.md"}
    toc = [e["file"] for e in yaml.safe_load(files["myst.yml"])["project"]["toc"]]
    assert toc == [
        "intro.md",
        "chapters/02-fit.ipynb",
        "chapters/01-explore.ipynb",
        "glossary.md",
    ]


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
    assert set(files) == {
        "myst.yml",
        "chapters/01-priors-2.md",
        "chapters/07-likelihood.md",
        "glossary.md",
    }
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
        "glossary.md",
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


def test_the_first_outline_removes_the_starter_chapter(tmp_path: Path) -> None:
    """The setup PR's placeholder chapter is not the author's: the first outline replaces it
    (its file deleted, its label gone from the pages that stay), and a stub may take its name."""
    from bot.jobs.setup import book_skeleton

    skeleton = book_skeleton("octo-org/tide-notes", "https://github.test/octo-org/tide-notes")
    skeleton["intro.md"] += "\nSee {ref}`getting-started`.\n"  # the author edited the intro
    write(tmp_path, skeleton)
    book = Book.from_directory(tmp_path)
    outline = Outline(title="T", chapters=[OutlineChapter(title="Zones")])
    files = outline_files(book, outline, book.config)
    assert files["chapters/01-getting-started.md"] is None
    assert "getting-started" not in str(files["intro.md"])
    toc = [e["file"] for e in yaml.safe_load(str(files["myst.yml"]))["project"]["toc"]]
    assert toc == ["intro.md", "chapters/01-zones.md", "glossary.md"]
    again = outline_files(
        book, Outline(title="T", chapters=[OutlineChapter(title="Getting started")]), book.config
    )
    stub = str(again["chapters/01-getting-started.md"])
    assert "% liquidbook: stub" in stub and frontmatter.loads(stub)["label"] == "getting-started"
    # Once the author has written in it, it is theirs and stays.
    path = tmp_path / "chapters/01-getting-started.md"
    path.write_text(path.read_text() + "\nMy own paragraph.\n")
    kept = outline_files(Book.from_directory(tmp_path), outline, book.config)
    assert "chapters/01-getting-started.md" not in kept
    assert "chapters/01-getting-started.md" in str(kept["myst.yml"])


def test_a_chapter_named_by_file_keeps_it_under_a_new_title(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "myst.yml": "version: 1\nproject:\n  toc:\n    - file: intro.md\n"
            "    - file: chapters/01-a.md\n    - file: chapters/02-b.md\n",
            "intro.md": "# Hi\n",
            "chapters/01-a.md": "---\ntitle: Alpha\nlabel: a\n---\n\nWritten A.\n",
            "chapters/02-b.md": "---\ntitle: Beta\nlabel: b\n---\n\nWritten B.\n",
        },
    )
    book = Book.from_directory(tmp_path)
    outline = parse_outline(
        json.dumps(
            {
                "title": "T",
                "chapters": [
                    {"title": "Second thoughts", "file": "chapters/02-b.md"},
                    {"title": "New one"},
                    {"title": "Alpha"},
                ],
            }
        )
    )
    plan = plan_outline(book, outline, book.config)
    toc = [e["file"] for e in yaml.safe_load(str(plan.files["myst.yml"]))["project"]["toc"]]
    assert toc == [
        "intro.md",
        "chapters/02-b.md",
        "chapters/02-new-one.md",
        "chapters/01-a.md",
        "glossary.md",
    ]
    renamed = frontmatter.loads(str(plan.files["chapters/02-b.md"]))
    assert renamed["title"] == "Second thoughts" and renamed.content == "Written B."
    assert plan.changes.renamed == [("Beta", "Second thoughts", "chapters/02-b.md")]
    assert plan.changes.moved in (
        [("Alpha", "chapters/01-a.md")],
        [("Second thoughts", "chapters/02-b.md")],
    )
    assert plan.changes.added == ["New one"]


_titles = st.lists(
    st.text(alphabet="abcdefgh ", min_size=1, max_size=8).filter(str.strip),
    min_size=1,
    max_size=8,
    unique_by=str.casefold,
)


@settings(max_examples=150, deadline=None)
@given(
    old=_titles,
    written=st.lists(st.booleans(), min_size=8, max_size=8),
    plan=st.lists(st.tuples(st.integers(0, 9), st.booleans()), min_size=1, max_size=10),
)
def test_replanning_never_loses_a_written_chapter(
    old: list[str], written: list[bool], plan: list[tuple[int, bool]]
) -> None:
    """Whatever the plan keeps, renames, reorders or forgets: every written chapter is in the
    new toc exactly once, the plan's chapters keep its order, and no path is listed twice."""
    existing = [
        Chapter(i + 1, f"chapters/{i:02d}.md", title, is_stub=not written[i])
        for i, title in enumerate(old)
    ]
    planned = []
    for index, by_file in plan:
        if index < len(existing) and by_file:
            planned.append(OutlineChapter(title=f"renamed {index}", file=existing[index].path))
        elif index < len(existing):
            planned.append(OutlineChapter(title=existing[index].title))
        else:
            planned.append(OutlineChapter(title=f"new {index}"))
    entries, changes = place(planned, existing, [], lambda chapter: False)
    paths = [e.match.path for e in entries if e.match is not None]
    assert len(paths) == len(set(paths))
    for chapter in existing:
        if not chapter.is_stub:
            assert chapter.path in paths
    assert [e.planned for e in entries if e.planned is not None] == planned
    gone = {path for _, path in changes.left_out}
    assert gone == {c.path for c in existing} - set(paths)
    assert all(c.is_stub for c in existing if c.path in gone)
