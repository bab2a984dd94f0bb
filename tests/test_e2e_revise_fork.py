"""`/revise` on a pull request from a fork, over HTTP only (the app, the stand-ins, git).

The app cannot push to a fork: the revision is drafted as for any PR, then offered as one
review of suggested changes on the PR's lines. Nothing is committed anywhere; applying every
suggestion to the file at the PR's head gives a chapter that builds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.book.check import check_book
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

CHAPTER = "chapters/01-getting-started.md"
FORK = "alice/book"
HEAD_BODY = (
    "Tide pools are small worlds that the sea leaves behind twice a day.\n\n"
    "## What lives there\n\nCrabs, anemones and snails live in them, and they wait for the\n"
    "water to come back. Some of them hide under rocks, some close up, and some dig into the\n"
    "sand until the tide turns.\n\n"
    "## Why it matters\n\nA pool is a small model of the sea: what happens in it happens,\n"
    "slower and larger, in the ocean.\n"
)
SHORTER = (
    "Tide pools are small worlds the sea leaves behind.\n\n"
    "## What lives there\n\nCrabs, anemones and snails wait in them for the water.\n\n"
    "## Why it matters\n\nA pool is a small model of the sea.\n"
)


def revising(request: dict[str, Any]) -> str:
    prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
    return SHORTER if "The reviewer's instructions:" in prompt else scripted_answer(request)


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


def apply_suggestions(text: str, comments: list[dict[str, Any]]) -> str:
    """`text` with every ```suggestion block of `comments` applied, as GitHub does."""
    lines = text.split("\n")
    edits = []
    for comment in comments:
        body = comment["body"].split("\n")
        opening = next(i for i, line in enumerate(body) if re.fullmatch(r"`{3,}suggestion", line))
        fence = body[opening].removesuffix("suggestion")
        closing = next(i for i in range(opening + 1, len(body)) if body[i] == fence)
        start = comment.get("start_line") or comment["line"]
        edits.append((start, comment["line"], body[opening + 1 : closing]))
    for start, end, new in sorted(edits, reverse=True):
        lines[start - 1 : end] = new
    return "\n".join(lines)


def branches(world: World, repo: str) -> str:
    return world.git_in(repo, "for-each-ref", "refs/heads/", "--format=%(refname) %(objectname)")


# The database only records usage here: one backend is enough (the others test both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_revise_on_a_fork_offers_suggestions(world: World, tmp_path: Path) -> None:
    gh = world.github
    gh.fork_repo(REPO, "alice")
    head = gh.read_file(FORK, "main", CHAPTER)
    assert head is not None
    front = head.decode().split("\n---\n", 1)[0] + "\n---\n\n"
    gh.push(FORK, "shorter-intro", {CHAPTER: front + HEAD_BODY}, "alice", "Rewrite the intro")
    number = gh.open_pull(REPO, "alice", "alice:shorter-intro", "A new introduction")
    [pr] = gh.pulls(REPO)
    assert pr["head"]["repo"]["full_name"] == FORK and pr["head"]["repo"]["fork"] is True
    assert pr["base"]["repo"]["fork"] is False
    before = branches(world, REPO), branches(world, FORK)

    gh.comment(REPO, number, "alice", "/revise shorter")
    [status] = world.wait_final(number)
    body = status["body"]
    assert "cannot push" in body and f"`{FORK}`, a fork" in body, body
    assert "nothing was committed" in body and "suggested change" in body, body
    assert "could not be suggested" not in body and "\n✅ " in body, body
    assert (branches(world, REPO), branches(world, FORK)) == before

    comments = gh.review_comments(REPO, number)
    assert comments and all("```suggestion" in c["body"] for c in comments)
    assert {c["path"] for c in comments} == {CHAPTER}
    assert len({c["pull_request_review_id"] for c in comments}) == 1
    applied = apply_suggestions(front + HEAD_BODY, comments)
    assert "small worlds the sea leaves behind." in applied
    assert "slower and larger" not in applied and applied.startswith(front)

    clone = world.clone("shorter-intro", tmp_path / "clone", repo=FORK)
    (clone / CHAPTER).write_text(applied, encoding="utf-8")
    report = await check_book(clone)
    assert report.errors == [], report.markdown()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_changes_outside_the_diff_are_listed_not_suggested(world: World) -> None:
    gh = world.github
    head = gh.read_file(REPO, "main", CHAPTER)
    assert head is not None
    front = head.decode().split("\n---\n", 1)[0] + "\n---\n\n"
    # The base has the same text but for the last section, so only that is in the diff.
    gh.push(REPO, "main", {CHAPTER: front + HEAD_BODY.replace("slower and larger", "slowly")},
            "alice", "Intro")  # fmt: skip
    gh.fork_repo(REPO, "alice")
    gh.push(FORK, "intro", {CHAPTER: front + HEAD_BODY}, "alice", "Change the last section")
    number = gh.open_pull(REPO, "alice", "alice:intro", "Keep the last section")

    gh.comment(REPO, number, "alice", "/revise shorter")
    [status] = world.wait_final(number)
    body = status["body"]
    assert "\n⚠️ " in body and "could not be suggested (outside the PR's changes)" in body
    comments = gh.review_comments(REPO, number)
    last = (front + HEAD_BODY).split("\n").index("## Why it matters") + 1
    assert comments and all((c.get("start_line") or c["line"]) > last for c in comments)
    assert (branches(world, REPO).count("refs/heads/"), "intro") == (1, "intro")
