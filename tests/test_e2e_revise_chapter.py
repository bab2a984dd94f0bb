"""`/revise chapter N <instructions>` on an issue, over HTTP only (the app, the stand-ins, git).

While the chapter's pull request is open, the revision is one commit on top of its branch;
once it is merged, the revision comes as a new pull request on the chapter's branch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

CHAPTER = "chapters/01-getting-started.md"
ASKED = re.compile(r"The reviewer's instructions: (.+)")


def revising(request: dict[str, Any]) -> str:
    """The test model: a revision is a short chapter that quotes what was asked."""
    prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
    asked = ASKED.search(prompt)
    if asked is None:
        return scripted_answer(request)
    return f"## Why this matters\n\nTide pools are small worlds.\n\nAsked: {asked.group(1)}\n"


@pytest.fixture
def world(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, database_url)
    world.model.default = Behaviour(text=revising)
    try:
        world.start_app()
        world.install()
        yield world
    finally:
        world.close()


# The database only records usage here: one backend is enough (the others test both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_revise_chapter_on_an_issue_goes_on_its_pr_or_opens_one(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    [pr] = gh.pulls(REPO)
    branch = pr["head"]["ref"]
    before = world.git("rev-parse", branch).strip()

    gh.comment(REPO, issue, "alice", "/revise chapter 1 Make it shorter")
    finals = world.wait_for(
        lambda: [s for s in world.status_comments(issue) if "✅ Revised in" in s["body"]] or None,
        what="the revision on the open PR",
    )
    assert f"on `{branch}`" in finals[0]["body"]
    assert world.git("rev-parse", f"{branch}^").strip() == before
    assert "Asked: Make it shorter" in gh.read_file(REPO, branch, CHAPTER).decode()
    assert len(gh.pulls(REPO)) == 1

    gh.merge_pull(REPO, pr["number"], "alice")
    gh.comment(REPO, issue, "alice", "/revise chapter 1 Add an example")
    world.wait_for(
        lambda: (
            len(gh.pulls(REPO)) == 2
            and any("Revised chapter 1 in" in s["body"] for s in world.status_comments(issue))
        ),
        what="a new PR with the revision",
    )
    world.github.settle()
    new = gh.pulls(REPO)[-1]
    assert new["state"] == "open" and new["head"]["ref"] == branch
    assert new["title"] == "Revise chapter 1: Getting started"
    assert "Asked: Add an example" in gh.read_file(REPO, branch, CHAPTER).decode()
    [answer] = [s for s in world.status_comments(issue) if "Revised chapter 1 in" in s["body"]]
    assert answer["body"].count("✅") == 1 and new["html_url"] in answer["body"]
