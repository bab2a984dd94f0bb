"""The write side: chapter files, names, `myst.yml` edits, and an outline PR that builds."""

from __future__ import annotations

from pathlib import Path

import frontmatter
import pytest
import yaml

from bot.book.chapters import Chapter, read_chapter
from bot.book.check import check_book
from bot.book.config import BookConfig
from bot.book.outline import Outline, OutlineChapter, outline_files
from bot.book.paths import UnsafePathError
from bot.book.render import chapter_path, render_chapter, set_project_title, set_toc, slugify


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Bayes' Rule", "bayes-rule"),
        ("Priors & Posteriors: A Tour", "priors-posteriors-a-tour"),
        ("Über Größe — naïve café", "uber-groe-naive-cafe"),
        ("  --Hello--  ", "hello"),
        ("!!!", "chapter"),
        ("数学", "chapter"),
        ("a" * 80, "a" * 50),
        ("word " * 20, "word-word-word-word-word-word-word-word-word-word"),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug
    assert len(slugify(title)) <= 50


def test_chapter_path() -> None:
    assert chapter_path(BookConfig(), 3, "Bayes' Rule") == "chapters/03-bayes-rule.md"
    assert chapter_path(BookConfig(chapters_dir="parts/a"), 12, "X") == "parts/a/12-x.md"
    assert (
        chapter_path(BookConfig(), 1, "../../.github/workflows/x")
        == "chapters/01-github-workflows-x.md"
    )


def test_chapter_path_is_guarded() -> None:
    config = BookConfig.model_construct(chapters_dir=".github/workflows")
    with pytest.raises(UnsafePathError):
        chapter_path(config, 1, "x")


def test_render_chapter_round_trips(tmp_path: Path) -> None:
    chapter = Chapter(
        number=2,
        path="chapters/02-priors.md",
        title="Priors: how to choose",
        summary="Why priors matter, says @bob.",
        objectives=["Choose a prior", "Defend it"],
        label="",
        body="## Conjugacy\n\nText.",
        extra={"authors": ["Ada"], "options": {"other": 1}},
    )
    text = render_chapter(chapter)
    post = frontmatter.loads(text)
    assert post["title"] == "Priors: how to choose"
    assert post["label"] == "priors-how-to-choose"
    assert post["summary"] == "Why priors matter, says \\@bob."
    assert post["options"] == {"other": 1, "objectives": ["Choose a prior", "Defend it"]}
    assert post["authors"] == ["Ada"]
    assert post.content == "## Conjugacy\n\nText."
    assert text.endswith("Text.\n")
    (tmp_path / "chapters").mkdir()
    (tmp_path / chapter.path).write_text(text)
    again, problems = read_chapter(tmp_path, chapter.path, 2, None)
    assert problems == []
    assert again.objectives == chapter.objectives
    assert again.extra == {"authors": ["Ada"], "options": {"other": 1}}
    assert render_chapter(again) == text


def test_render_chapter_with_a_new_body_keeps_the_label() -> None:
    chapter = Chapter(1, "a.md", "A", label="keep-me", body="old")
    text = render_chapter(chapter, "new body\n\n\n")
    assert "label: keep-me" in text
    assert text.endswith("---\n\nnew body\n")


MYST = """\
# Top comment stays.
version: 1
project:
  title: Old  # trailing comment
  # a comment about the toc
  toc:
  - file: intro.md
    title: Welcome
  - title: Part 1
    children:
      - file: chapters/01-a.md
  # a comment after the toc stays
  github: octo/book
site:
  template: book-theme
"""


def test_set_toc_keeps_intro_and_everything_else() -> None:
    text = set_toc(MYST, ["chapters/01-a.md", "chapters/02-b.md"])
    assert "# Top comment stays." in text
    assert "# a comment about the toc" in text
    assert "# a comment after the toc stays" in text
    data = yaml.safe_load(text)
    assert data["project"]["toc"] == [
        {"file": "intro.md", "title": "Welcome"},
        {"file": "chapters/01-a.md"},
        {"file": "chapters/02-b.md"},
    ]
    assert data["project"]["github"] == "octo/book"
    assert data["site"] == {"template": "book-theme"}


def test_set_toc_adds_a_toc_and_a_root_page() -> None:
    text = set_toc("version: 1\nproject:\n  title: T\nsite:\n  template: x\n", ["a.md"], "intro.md")
    assert yaml.safe_load(text) == {
        "version": 1,
        "project": {"title": "T", "toc": [{"file": "intro.md"}, {"file": "a.md"}]},
        "site": {"template": "x"},
    }
    assert set_toc(text, ["intro.md", "b.md"]).count("intro.md") == 1


@pytest.mark.parametrize(
    "myst",
    [
        "version: 1\nproject: {title: T, toc: [{file: old.md}]}\n",
        "version: 1\n",
        "",
        "project:\n    title: T\n    toc:\n        - file: old.md\n",
        "project:\n  toc:\n  - file: old.md\n  - file: old2.md\nsite:\n  x: 1\n",
    ],
)
def test_set_toc_is_correct_for_any_layout(myst: str) -> None:
    data = yaml.safe_load(set_toc(myst, ["a.md", "b.md"]))
    assert data["project"]["toc"] == [{"file": "a.md"}, {"file": "b.md"}]


def test_set_project_title() -> None:
    text = set_project_title(MYST, "New: a title")
    assert yaml.safe_load(text)["project"]["title"] == "New: a title"
    assert "# a comment after the toc stays" in text


async def test_outline_files_build_cleanly(tmp_path: Path) -> None:
    """An /outline PR for a new repository must pass the strict build with nothing to fix."""
    outline = Outline(
        title="Bayes for Biologists",
        description="A first course in Bayesian statistics for @biologists; costs $5 a seat.",
        book_type="course",
        chapters=[
            OutlineChapter(
                title="Why Bayes?",
                summary="Uncertainty as probability, with a nod to @thomas.",
                objectives=["Explain what a prior is", "Contrast with p-values"],
            ),
            OutlineChapter(title="Priors", summary="Choosing priors."),
            OutlineChapter(title="Priors", summary="A duplicate title gets its own file."),
            OutlineChapter(title="Markov chain Monte Carlo", objectives=["Run a sampler"]),
        ],
    )
    files = outline_files(None, outline, BookConfig())
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    report = await check_book(tmp_path)
    assert report.ok and report.clean, report.markdown()
