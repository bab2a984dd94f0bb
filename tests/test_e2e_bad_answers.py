"""A model that answers with nothing, or never stops, through the whole app over HTTP: the
chapter keeps its text on the default branch, no branch or pull request is made, the status
says ❌ and why, and a runaway answer costs what was read of it, not what it claimed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from standins.providers.behaviour import Behaviour
from tests.world import REPO, World

CHAPTER = "chapters/01-getting-started.md"
# gpt-4.1's output price is $8 a million tokens (the shipped table): the whole 10 MB answer
# would be counted at 2.5 M tokens, $20; cut off at about twice the 16,000-token cap, it
# costs about $0.26.
REASONABLE_USD = Decimal("0.50")


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        world.start_app()
        world.install()
        yield world
    finally:
        world.close()


def test_empty_and_runaway_answers_never_overwrite_a_chapter(world: World, tmp_path: Path) -> None:
    gh = world.github
    before = gh.read_file(REPO, "main", CHAPTER)
    assert before is not None and before.strip()
    answers = [
        ("", "answered with an empty text"),
        (" \n\n\t\u200b\n", "answered with an empty text"),
        ("---\ntitle: Getting started\n---\n\n", "answered with no chapter text"),
        ("```markdown\n# Getting started\n```\n", "answered with no chapter text"),
        ("All work and no play. " * 460_000, "kept writing past the length limit"),
    ]
    issue = gh.open_issue(REPO, "alice", "Chapter 1")
    for count, (text, why) in enumerate(answers, start=1):
        world.model.script(Behaviour(text=text, chunks=2500, chunk_delay=0.001))
        gh.comment(REPO, issue, "alice", "/generate chapter 1")
        status = world.wait_final(issue, count=count)[-1]["body"]
        assert "❌ Nothing written: 0 of 1" in status, status
        assert why in status and "Nothing was committed; the chapter keeps its text." in status
        assert "✅" not in status and "something went wrong" not in status

    # The chapter's text is where it was; nothing was proposed.
    assert gh.read_file(REPO, "main", CHAPTER) == before
    assert gh.pulls(REPO) == []
    assert not [b for b in gh.branches(REPO) if b.startswith("liquidbook/chapter")]

    # Every call is recorded; the runaway at what was read of it, and said to cost more
    # than was reserved for it.
    with sqlite3.connect(tmp_path / "app.db") as db:
        rows = db.execute("SELECT outcome, cost_usd, error FROM usage ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["unusable"] * 4 + ["runaway"]
    runaway_cost = Decimal(str(rows[-1][1]))
    assert Decimal(0) < runaway_cost <= REASONABLE_USD
    assert "above the" in rows[-1][2]
    assert "above the" in status and "reserved for it" in status
