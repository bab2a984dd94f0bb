"""The standing glossary PR, over HTTP only (the app, the stand-ins, git, the real build).

A merged chapter PR queues one glossary update: shortly after, one PR on
`liquidbook/glossary` adds the chapter's key terms to `glossary.md` (and touches nothing
else), keeps the entry a person wrote there, and builds cleanly; the next merge updates
that same PR.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.book.check import check_book
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

PERSON = "# Glossary\n\nOur words.\n\n:::{glossary}\nTide\n: The sea rising and falling, in my words.\n:::\n"
CHAPTER = (
    "## Pools\n\nA tide pool is a pool of seawater the sea leaves behind on the rocks.\n\n"
    "The intertidal zone is the shore between low and high tide.\n\n"
    "A barnacle is a small animal that glues itself to those rocks.\n"
)
TERMS = {"Getting started": ["Tide pool", "intertidal zone", "TIDE"], "Rock pools": ["Barnacle"]}


def answer(request: dict[str, Any]) -> str:
    """Digests name each chapter's terms; definitions come for two terms only (the others
    keep the book's sentence); chapters all say the same text."""
    prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
    if "write a book's glossary" in prompt:
        return json.dumps(
            {"tide POOL": "Sea water left on the shore.", "Barnacle": "A crustacean."}
        )
    digest = re.search(r"Summarise this chapter, ([^:\n]+):", prompt)
    if digest:
        return json.dumps({"summary": "About pools.", "terms": TERMS.get(digest.group(1), [])})
    if '"chapters"' in prompt and "JSON" in prompt:
        return scripted_answer(request)
    return CHAPTER


@pytest.fixture
def world(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, database_url)
    world.model.default = Behaviour(text=answer)
    try:
        world.start_app(LIQUIDBOOK_GLOSSARY_DELAY_SECONDS="1")
        world.install()
        yield world
    finally:
        world.close()


def glossary_pr(world: World, title: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        pulls = [
            p
            for p in world.github.pulls(REPO, state="open")
            if p["head"]["ref"] == "liquidbook/glossary"
        ]
        assert len(pulls) <= 1
        return pulls[0] if pulls and pulls[0]["title"] == title else None

    return world.wait_for(found, what=f"the glossary PR titled {title!r}")


def merge_chapter(world: World, issue: int, number: int) -> None:
    gh = world.github
    gh.comment(REPO, issue, "alice", f"/generate chapter {number}")
    world.wait_final(issue, count=number)
    [pr] = [p for p in gh.pulls(REPO, state="open") if p["head"]["ref"] != "liquidbook/glossary"]
    gh.merge_pull(REPO, pr["number"], "alice")


# The database only records usage here: one backend is enough (the others test both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_merges_keep_one_glossary_pr(world: World, tmp_path: Path) -> None:
    gh = world.github
    gh.push(REPO, "main", {"glossary.md": PERSON}, "alice", "Our own glossary entry")
    world.add_chapters([("Rock pools", "Animals on the rocks.")])
    issue = gh.open_issue(REPO, "alice", "Write the book")

    merge_chapter(world, issue, 1)
    first = glossary_pr(world, "Glossary: 2 new terms")
    branch = first["head"]["ref"]
    assert world.git("diff", "--name-only", f"main...{branch}").split() == ["glossary.md"]
    text = gh.read_file(REPO, branch, "glossary.md").decode()
    assert "Tide\n: The sea rising and falling, in my words." in text  # the person's, as is
    assert "Tide pool\n: Sea water left on the shore." in text  # the model's definition
    assert "intertidal zone\n: The intertidal zone is the shore" in text  # the book's sentence
    assert text.index("intertidal zone") < text.index("Tide\n") < text.index("Tide pool")
    report = await check_book(world.clone(branch, tmp_path / "glossary"))
    assert report.clean, report.markdown()

    merge_chapter(world, issue, 2)
    second = glossary_pr(world, "Glossary: 3 new terms")
    assert second["number"] == first["number"]
    text = gh.read_file(REPO, branch, "glossary.md").decode()
    assert "Barnacle\n: A crustacean." in text
    with sqlite3.connect(tmp_path / "liquidbook.db") as db:
        asked = db.execute("SELECT COUNT(*) FROM usage WHERE command = 'glossary'").fetchone()
    assert asked[0] >= 2  # a definitions call per run, digests of chapters not seen before
    # One commit on the new main: the PR was rewritten in place, not stacked.
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "1"
    assert second["head"]["sha"] != first["head"]["sha"]
    assert world.git("diff", "--name-only", f"main...{branch}").split() == ["glossary.md"]
