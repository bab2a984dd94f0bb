"""The offline stand-in model answers the app's real prompts with placeholders that build.

Requests are made from the app's own prompt builders (`outline_prompt`, `chapter_prompt`)
and shaped as the provider layer sends them, so a change to the prompts that the stand-in
no longer recognises fails here, not in a sandbox run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.book.bundled import skeleton_dir
from bot.book.check import check_book
from bot.book.clean import clean_chapter_body
from bot.book.config import BookConfig
from bot.book.model import Book
from bot.book.outline import outline_files, parse_outline
from bot.book.prompts import Prompt, chapter_prompt, outline_prompt
from bot.book.render import render_chapter
from bot.jobs.proposal import text_request
from standins.offline_model import (
    CHAPTER_WARNING,
    DISCLAIMER,
    MODEL_NAME,
    offline_answer,
    parse_chapter_request,
    start_offline_model,
)

TIDE_POOLS = "A short course on tide pools, 3 chapters"


def wire(prompt: Prompt) -> dict[str, Any]:
    """The chat-completions body the provider layer sends for a book prompt."""
    request = text_request(prompt, 8000)
    return {
        "model": MODEL_NAME.split(":", 1)[1],
        "messages": [
            {"role": "system", "content": request.instructions()},
            {"role": "user", "content": request.prompt},
        ],
    }


def skeleton_book(tmp_path: Path) -> Book:
    target = tmp_path / "skeleton"
    shutil.copytree(skeleton_dir(), target)
    return Book.from_directory(target)


def write_files(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, "utf-8")


@pytest.mark.parametrize(
    ("description", "count", "word"),
    [
        (TIDE_POOLS, 3, "Tide Pools"),
        ("An introductory course on Bayesian statistics for biologists, 10 chapters", 10, "Bayes"),
        ("Seven modules about sourdough baking", 7, "Sourdough"),
        ("Volcanoes of the Pacific rim", 6, "Volcanoes"),
        ("A guide to knots, 45 chapters", 40, "Knots"),
    ],
)
def test_outline_is_valid_json_with_the_chapters_asked_for(
    tmp_path: Path, description: str, count: int, word: str
) -> None:
    book = skeleton_book(tmp_path)
    answer = offline_answer(wire(outline_prompt(book.config, description, book)))
    outline = parse_outline(answer)
    assert len(outline.chapters) == count
    assert len({c.title for c in outline.chapters}) == count, "titles must differ"
    assert all(word in c.title for c in outline.chapters[:2])
    assert word.split()[0] in outline.title
    assert DISCLAIMER in outline.description
    for chapter in outline.chapters:
        assert DISCLAIMER in chapter.summary
        assert 2 <= len(chapter.objectives) <= 3
        assert all(item[0].isupper() and item.endswith(".") for item in chapter.objectives)


def test_outline_type_follows_the_description(tmp_path: Path) -> None:
    book = skeleton_book(tmp_path)
    course = parse_outline(offline_answer(wire(outline_prompt(book.config, TIDE_POOLS, book))))
    plain = parse_outline(offline_answer(wire(outline_prompt(book.config, "Tide pools", book))))
    assert (course.book_type, plain.book_type) == ("course", "book")


def test_answers_are_deterministic(tmp_path: Path) -> None:
    book = skeleton_book(tmp_path)
    request = wire(outline_prompt(book.config, TIDE_POOLS, book))
    assert offline_answer(request) == offline_answer(dict(request))
    chapter = wire(chapter_prompt(book, book.toc[0]))
    assert offline_answer(chapter) == offline_answer(chapter)


def test_other_requests_get_a_plain_disclaimer() -> None:
    answer = offline_answer({"model": "m", "messages": [{"role": "user", "content": "Hi"}]})
    assert "not AI output" in answer


def test_chapter_prompt_is_read_back(tmp_path: Path) -> None:
    book = skeleton_book(tmp_path)
    prompt = chapter_prompt(book, book.toc[0], "Shorter, please.")
    request = parse_chapter_request(offline_answer_text(prompt))
    assert request is not None
    assert (request.number, request.title) == (1, "Getting started")
    assert request.own_label == "getting-started"
    assert set(request.labels) == {"intro", "getting-started", "code-section"}
    assert request.objectives == book.toc[0].objectives
    assert request.instructions
    body = offline_answer(wire(prompt))
    assert "{ref}`intro`" in body, "the intro is preferred when there is no previous chapter"
    assert "follow instructions" in body


def offline_answer_text(prompt: Prompt) -> str:
    """The request text the stand-in reads (system and user turns joined)."""
    return "\n\n".join(m["content"] for m in wire(prompt)["messages"])


def test_chapter_without_labels_has_no_cross_reference() -> None:
    text = "Labels you may reference: none yet\n\nWrite chapter 1, Alone.\n"
    body = offline_answer({"model": "m", "messages": [{"role": "user", "content": text}]})
    assert "{ref}" not in body
    assert body.startswith("```{warning}\n" + CHAPTER_WARNING)


@pytest.mark.skipif(shutil.which("jupyter-book") is None, reason="jupyter-book is not installed")
async def test_generated_chapters_build_without_errors_or_warnings(tmp_path: Path) -> None:
    """An outline of the skeleton book, then every chapter written: one clean build."""
    config = BookConfig()
    outline = parse_outline(offline_answer(wire(outline_prompt(config, TIDE_POOLS, None))))
    root = tmp_path / "book"
    write_files(root, outline_files(None, outline, config))
    book = Book.from_directory(root)
    assert len(book.toc) == 3
    for chapter in book.toc:
        answer = offline_answer(wire(chapter_prompt(book, chapter)))
        cleaned = clean_chapter_body(answer, book, chapter)
        assert cleaned.fixes == [], "the stand-in writes what the rules ask for"
        body = cleaned.body
        assert body.startswith("```{warning}\n" + CHAPTER_WARNING)
        for piece in ("\n## ", "```{note}", "\n$$\n", "```python", "{ref}`"):
            assert piece in body, piece
        write_files(root, {chapter.path: render_chapter(chapter, body)})
    report = await check_book(root)
    assert report.ok and report.clean, report.markdown()


def test_served_as_an_openai_compatible_api(tmp_path: Path) -> None:
    book = skeleton_book(tmp_path)
    request = wire(outline_prompt(book.config, TIDE_POOLS, book))
    model = start_offline_model()
    try:
        response = httpx.post(
            f"{model.base_url}/chat/completions",
            json=request,
            headers={"Authorization": f"Bearer {model.api_key}"},
            timeout=10,
        )
    finally:
        model.stop()
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert content == offline_answer(request)
