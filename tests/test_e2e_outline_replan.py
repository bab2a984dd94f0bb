"""`/outline` over HTTP: an unreadable answer fails over to the next model, and a second
outline of a book with written chapters keeps every one of them (issue 13, points 3 and 5)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.book.check import check_book
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

PROSE = "What a lovely idea for a course! I would start with the shore, then the pools."


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        world.start_app(LIQUIDBOOK_FALLBACK_MODELS="openai:gpt-4.1-mini")
        world.install()
        yield world
    finally:
        world.close()


def toc(world: World, ref: str) -> list[str]:
    """The toc's pages, the glossary (a back page, always last) left out."""
    myst = world.github.read_file(REPO, ref, "myst.yml")
    assert myst is not None
    files = [entry["file"] for entry in yaml.safe_load(myst)["project"]["toc"]]
    assert files[-1] == "glossary.md"
    return files[:-1]


def replan(request: dict[str, Any]) -> str:
    """A second plan that moves chapter 3 first, renames chapter 1, forgets the written
    chapter 2 and adds two chapters."""
    chapters = [
        {"title": "Part 3 of the shore", "file": "chapters/03-part-3-of-the-shore.md"},
        {"title": "The upper shore", "file": "chapters/01-part-1-of-the-shore.md"},
        {"title": "Crabs", "summary": "Who hides under rocks."},
        {"title": "Anemones", "summary": "Flowers that sting."},
    ]
    return json.dumps({"title": "Tide Pools", "type": "course", "chapters": chapters})


def test_outline_fails_over_then_a_second_outline_keeps_every_written_chapter(
    world: World, tmp_path: Path
) -> None:
    """One story, to start the world once: the first model answers the outline in prose
    and the fallback's plan is used; chapters are written and merged; a second plan that
    forgets one written chapter, moves and renames others keeps them all."""

    def prose_first(request: dict[str, Any]) -> str:
        return PROSE if request["model"] == "gpt-4.1" else scripted_answer(request)

    world.model.default = Behaviour(text=prose_first)
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Plan and write")
    gh.comment(REPO, issue, "alice", "/outline A course on tide pools, 3 chapters")
    [status] = world.wait_final(issue)
    assert "✅ Outline of 3 chapters" in status["body"], status["body"]
    assert "gpt-4.1-mini" in status["body"] and "no usable outline" in status["body"]
    with sqlite3.connect(tmp_path / "app.db") as db:
        rows = db.execute("SELECT model, outcome FROM usage ORDER BY id").fetchall()
    assert rows == [("gpt-4.1", "unusable"), ("gpt-4.1-mini", "ok")]
    [outline_pr] = gh.pulls(REPO, state="open")
    assert toc(world, outline_pr["head"]["ref"])[1:] == [
        f"chapters/0{i}-part-{i}-of-the-shore.md" for i in (1, 2, 3)
    ]
    world.model.default = Behaviour(text=scripted_answer)
    branch = outline_pr["head"]["ref"]
    # The skeleton's placeholder chapter goes with the first outline.
    assert gh.read_file(REPO, branch, "chapters/01-getting-started.md") is None
    assert "chapters/01-getting-started.md" not in toc(world, branch)
    gh.merge_pull(REPO, outline_pr["number"], "alice")

    gh.comment(REPO, issue, "alice", "/generate chapter all")
    world.wait_final(issue, count=2)
    chapter_prs = gh.pulls(REPO, state="open")
    assert len(chapter_prs) == 3

    # No empty work: the same text again changes nothing in its open PR...
    heads = world.git("for-each-ref", "refs/heads/liquidbook/")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    again = world.wait_final(issue, count=3)[-1]["body"]
    assert "ℹ️ Nothing changed" in again and "✅" not in again, again
    first_pr = next(p for p in chapter_prs if "chapter 1:" in p["title"])
    assert f"the same as in #{first_pr['number']}" in again and "left as it is" in again
    assert world.git("for-each-ref", "refs/heads/liquidbook/") == heads
    for pr in chapter_prs:
        gh.merge_pull(REPO, pr["number"], "alice")
    written = toc(world, "main")[1:]
    assert len(written) == 3
    # Each chapter's own PR wrote its summary from its text as written.
    merged = gh.read_file(REPO, "main", written[0])
    assert merged is not None
    assert "summary: Tide pools hold life between the tides." in merged.decode()
    # ...and once merged, nothing on the default branch: no branch moves, no PR opens.
    gh.comment(REPO, issue, "alice", "/generate chapter 2")
    again = world.wait_final(issue, count=4)[-1]["body"]
    assert "ℹ️ Nothing changed" in again and "the same as on `main`" in again, again
    assert "no pull request was opened" in again
    assert world.git("for-each-ref", "refs/heads/liquidbook/") == heads
    assert len(gh.pulls(REPO, state="open")) == 0

    world.model.default = Behaviour(text=replan)
    gh.comment(REPO, issue, "alice", "/outline Put the third part first, add crabs and anemones")
    finals = world.wait_final(issue, count=5)
    assert "✅ Outline of 4 chapters" in finals[-1]["body"], finals[-1]["body"]
    [pr] = gh.pulls(REPO, state="open")
    new_toc = toc(world, pr["head"]["ref"])
    first, second, third = written
    assert new_toc[0] == "intro.md"
    assert new_toc[1:4] == [third, first, second]  # chapter 2 kept after the one it followed
    assert len(new_toc) == 6 and all(p.endswith((".md",)) for p in new_toc)
    body = pr["body"]
    assert "Chapters added:" in body and "**Crabs**" in body and "**Anemones**" in body
    assert "**Part 1 of the shore** → **The upper shore**" in body
    assert "kept although the new plan left them out" in body and f"`{second}`" in body
    assert "Chapters moved:" in body
    # No file lost: every file of main is still on the branch, written chapters unchanged.
    files = world.git("ls-tree", "-r", "--name-only", "main").split()
    for path in files:
        assert gh.read_file(REPO, pr["head"]["ref"], path) is not None, path
    for path in (second, third):
        assert gh.read_file(REPO, pr["head"]["ref"], path) == gh.read_file(REPO, "main", path)
    report = await_check(world, pr["head"]["ref"], tmp_path)
    assert report.errors == [] and report.warnings == [], report.markdown()


def await_check(world: World, branch: str, tmp_path: Path) -> Any:
    import asyncio

    return asyncio.run(check_book(world.clone(branch, tmp_path / "clone")))
