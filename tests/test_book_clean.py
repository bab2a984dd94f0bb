"""Deterministic repairs of model-written chapter bodies, each one reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.book.check import check_book
from bot.book.clean import clean_chapter_body
from bot.book.model import Book
from bot.book.render import render_chapter

FILES = {
    "myst.yml": (
        "version: 1\nproject:\n  title: T\n  toc:\n    - file: intro.md\n"
        "    - file: chapters/01-a.md\n    - file: chapters/02-priors.md\n"
    ),
    "intro.md": "---\ntitle: Welcome\nlabel: intro\n---\n\nHello.\n",
    "chapters/01-a.md": "---\ntitle: A\nlabel: ch-a\n---\n\n(a-section)=\n## S\n\nText.\n",
    "chapters/02-priors.md": (
        "---\ntitle: Choosing priors\nlabel: priors\n---\n\n% liquidbook: stub\n\n(old-target)=\n## Old\n"
    ),
    "references.bib": "@article{smith2020,\n  title={A paper},\n  author={Smith, J.},\n  year={2020}\n}\n",
}


@pytest.fixture
def book(tmp_path: Path) -> Book:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, "utf-8")
    return Book.from_directory(tmp_path)


def clean(book: Book, text: str) -> tuple[str, list[str]]:
    result = clean_chapter_body(text, book, book.toc[1])
    return result.body, result.fixes


def test_clean_text_is_left_alone(book: Book) -> None:
    body, fixes = clean(book, "## Section\n\nSee {ref}`ch-a` and {ref}`the intro <intro>`.\n")
    assert body == "## Section\n\nSee {ref}`ch-a` and {ref}`the intro <intro>`.\n"
    assert fixes == []


@pytest.mark.parametrize(
    "answer",
    [
        "```markdown\n## Section\n\nText.\n```",
        "```md\n## Section\n\nText.\n```\n",
        "````myst\n## Section\n\nText.\n````",
        "Here is the chapter:\n\n```markdown\n## Section\n\nText.\n```",
        "```\n## Section\n\nText.\n```",
    ],
)
def test_outer_fence_is_removed(book: Book, answer: str) -> None:
    body, fixes = clean(book, answer)
    assert body == "## Section\n\nText.\n"
    assert fixes == ["Removed the code fence around the whole answer."]


def test_a_body_that_ends_in_a_code_block_keeps_it(book: Book) -> None:
    answer = "## Code\n\n```python\nprint(1)\n```"
    assert clean(book, answer) == (answer + "\n", [])


def test_front_matter_and_title_heading_are_removed(book: Book) -> None:
    body, fixes = clean(
        book, "---\ntitle: Choosing priors\n---\n\n# Choosing Priors\n\n## One\n\nText."
    )
    assert body == "## One\n\nText.\n"
    assert len(fixes) == 2


def test_top_level_headings_are_moved_down(book: Book) -> None:
    body, fixes = clean(book, "# Why\n\nText.\n\n## Detail\n\n```python\n# a comment\n```\n")
    assert body == "## Why\n\nText.\n\n### Detail\n\n```python\n# a comment\n```\n"
    assert fixes == ["Moved headings down one level: sections start at `##` under the title."]


def test_mentions_are_escaped_but_not_code_emails_or_real_citations(book: Book) -> None:
    body, fixes = clean(
        book,
        "Ask @alice (or [@bob]) at team@example.org; see [@smith2020] and `@decorator`.\n\n"
        "```python\n@dataclass\nclass A: ...\n```\n",
    )
    assert body.startswith(
        "Ask \\@alice (or [\\@bob]) at team@example.org; see [@smith2020] and `@decorator`."
    )
    assert "\n@dataclass\n" in body
    assert fixes == ["Escaped 2 `@name` mention(s) so they are not read as citations."]


def test_unknown_cross_references_become_text(book: Book) -> None:
    body, fixes = clean(
        book,
        "(new-target)=\n## New\n\nSee {ref}`ch-a`, {ref}`a-section`, {ref}`new-target`, "
        "{ref}`Bayes' rule <bayes-rule>`, {ref}`made-up-label`, [old](#old-target), "
        "[the intro](#intro) and {numref}`Figure %s <fig-x>`.\n\n```text\n{ref}`inside-code`\n```\n",
    )
    assert "{ref}`ch-a`" in body and "{ref}`a-section`" in body and "{ref}`new-target`" in body
    assert "Bayes' rule," in body
    assert "made up label" in body
    assert "[old](#old-target)" not in body and "old," in body  # the rewrite dropped that target
    assert "[the intro](#intro)" in body
    assert "Figure." in body
    assert "{ref}`inside-code`" in body
    assert fixes == [
        f"Turned a cross-reference to the unknown label `{label}` into plain text."
        for label in ("bayes-rule", "made-up-label", "fig-x", "old-target")
    ]


MESSY = """Sure, here is chapter 2!

```markdown
---
title: Choosing priors
---
# Choosing priors

Priors encode what we know before the data, as @laplace argued [@smith2020].

# Conjugate priors

(conjugate)=
A conjugate prior keeps the posterior in the same family; see {ref}`conjugate` and
{ref}`the first chapter <ch-a>`, but not {ref}`invented-label`.

```{note}
The beta distribution is conjugate to the binomial.
```

$$
p(\\theta \\mid y) \\propto p(y \\mid \\theta)\\, p(\\theta)
$$

```python
import numpy as np
rng = np.random.default_rng(1)
```
```
"""


async def test_a_cleaned_messy_answer_builds_cleanly(book: Book) -> None:
    result = clean_chapter_body(MESSY, book, book.toc[1])
    assert len(result.fixes) == 6, result.fixes
    chapter = book.toc[1]
    (book.directory / chapter.path).write_text(render_chapter(chapter, result.body), "utf-8")
    report = await check_book(book.directory)
    assert report.ok and report.clean, report.markdown()


def test_a_body_between_two_bare_code_blocks_is_not_unwrapped(book: Book) -> None:
    answer = "```\nfirst\n```\n\nProse between.\n\n```\nsecond\n```"
    assert clean(book, answer) == (answer + "\n", [])


UNKNOWN = """## Things jupyter-book does not have

```{unknowndirective}
Some **text** in it.
```

:::{versionadded} 2.0
:class: small
New in this edition.
:::

```{jupyter-execute}
print("tide")
```

Call {func}`numpy.mean` on {kbd}`Ctrl` and {sub}`2` values.

```{include} /etc/hostname
```

```{literalinclude} ../../secrets.txt
:language: text
```

```{figure} ~/.ssh/id_rsa.png
:alt: no
```

```{csv-table} Data
:file: /proc/self/environ
```

```{note}
A note stays a note.
```

```python
# inside code nothing changes: {func}`x`
```
"""


def test_unknown_directives_and_roles_are_repaired(book: Book) -> None:
    body, fixes = clean(book, UNKNOWN)
    assert "```{admonition} Unknowndirective\nSome **text** in it.\n```" in body
    assert ":::{admonition} 2.0\nNew in this edition.\n:::" in body
    assert '```python\nprint("tide")\n```' in body
    assert "Call `numpy.mean` on {kbd}`Ctrl` and {sub}`2` values." in body
    assert "```{note}\nA note stays a note.\n```" in body
    assert "# inside code nothing changes: {func}`x`" in body
    for outside in ("/etc/hostname", "secrets.txt", "id_rsa", "/proc/self/environ"):
        assert outside not in body
    assert fixes == [
        "Turned the `{unknowndirective}` directive, which jupyter-book does not have, into a note.",
        "Turned the `{versionadded}` directive, which jupyter-book does not have, into a note.",
        "Turned the `{jupyter-execute}` directive, which jupyter-book does not have, into a "
        "code block.",
        "Turned the `{func}` role, which jupyter-book does not have, into inline code.",
        "Removed a `{include}` of `/etc/hostname`: it refers to a file outside the book.",
        "Removed a `{literalinclude}` of `../../secrets.txt`: it refers to a file outside the "
        "book.",
        "Removed a `{figure}` of `~/.ssh/id_rsa.png`: it refers to a file outside the book.",
        "Removed a `{csv-table}` of `/proc/self/environ`: it refers to a file outside the book.",
    ]
    assert body.count("*(removed: it referred to a file outside the book)*") == 4


async def test_a_repaired_answer_builds_cleanly(book: Book) -> None:
    result = clean_chapter_body(UNKNOWN, book, book.toc[1])
    chapter = book.toc[1]
    (book.directory / chapter.path).write_text(render_chapter(chapter, result.body), "utf-8")
    report = await check_book(book.directory)
    assert report.ok and report.clean, report.markdown()


@pytest.mark.parametrize(
    ("path", "outside"),
    [
        ("data.csv", False),
        ("../intro.md", False),  # chapters/../intro.md is in the book
        ("../../x", True),
        ("/etc/hostname", True),
        ("~/x", True),
        ("C:\\x", True),
        ("https://example.org/a.png", False),
        ("a/../../../b", True),
    ],
)
def test_paths_outside_the_book(path: str, outside: bool) -> None:
    from bot.book.clean import outside_book

    assert outside_book(path, "chapters/02-priors.md") is outside


def test_an_include_inside_the_book_is_kept(book: Book) -> None:
    answer = "```{include} ../intro.md\n```\n"
    assert clean(book, answer) == (answer, [])
