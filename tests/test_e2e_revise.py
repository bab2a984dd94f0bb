"""`/revise` in a pull request's conversation, over HTTP only (the app, the stand-ins, git).

A chapter PR is opened by `/generate chapter 1`; a reviewer pushes a commit of their own; a
`/revise` comment on the PR ends with one new commit on top of the reviewer's, the book
still building, and a status comment with the commit link, lines, model and cost. A
revision that changes nothing pushes nothing; a branch that moves while the model writes is
rebuilt on once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text as sql

from bot.book.check import check_book
from bot.db import Database
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

# The app only records usage in the database: every test on SQLite, the one reading that
# usage on PostgreSQL as well (the database layer is tested on both in test_db).
pytestmark = pytest.mark.databases("sqlite")

CHAPTER = "chapters/01-getting-started.md"
REVISED = (
    "## Why this matters\n\nTide pools are small worlds left behind by the sea.\n\n"
    "## A worked example\n\nAt 10:00 the water is 1.2 m deep; at 16:00 it is 0.3 m.\n\n"
    "$$\nh(t) = A \\cos(\\omega t)\n$$\n"
)


SUGGESTED = "Tide pools are kept alive by the sea.\n\nThe sea brings food twice a day."


def revising(request: dict[str, Any]) -> str:
    """The test model: a revision answers REVISED, a suggestion SUGGESTED (in a fence, as
    models do), anything else as the world's model."""
    prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
    if "asks for a change to" in prompt:
        return f"```markdown\n{SUGGESTED}\n```"
    return REVISED if "The reviewer's instructions:" in prompt else scripted_answer(request)


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


def chapter_pr(world: World) -> dict[str, Any]:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Write chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    [pr] = gh.pulls(REPO)
    return pr


def final_on(world: World, number: int, count: int) -> list[dict[str, Any]]:
    """The status comments on the PR once `count` of them are final (ℹ️ included)."""

    def done() -> list[dict[str, Any]] | None:
        finals = [
            c
            for c in world.status_comments(number)
            if re.search(r"^(✅|⚠️|❌|ℹ️)", c["body"], re.MULTILINE)
        ]
        return finals if len(finals) >= count else None

    found = world.wait_for(done, what=f"{count} final status comment(s) on #{number}")
    world.github.settle()
    return found


@pytest.mark.databases("sqlite", "postgresql")
async def test_revise_adds_one_commit_on_top_of_a_reviewers(world: World, tmp_path: Path) -> None:
    gh = world.github
    pr = chapter_pr(world)
    branch, number = pr["head"]["ref"], pr["number"]
    reviewer = gh.push(REPO, branch, {"notes.md": "Reviewer notes.\n"}, "alice", "Add notes")
    before = len(gh.requests)
    delivery = gh.comment(
        REPO, number, "alice", "/revise Make it half as long\nand add a worked example"
    )
    [status] = final_on(world, number, 1)
    body = status["body"]
    assert "✅ Revised in" in body, body

    head = world.git("rev-parse", branch).strip()
    assert f"/commit/{head}" in body
    assert world.git("rev-parse", f"{head}^").strip() == reviewer
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "3"
    message = world.git("log", "-1", "--format=%B", branch)
    assert message.rstrip().endswith("Written by Liquid Book.")
    assert world.git("diff", "--name-only", f"{reviewer}..{head}").split() == [CHAPTER]
    text = gh.read_file(REPO, branch, CHAPTER).decode()
    assert "A worked example" in text and text.startswith("---\ntitle: Getting started")
    assert f"`{CHAPTER}`: +" in body and "openai:gpt-4.1" in body and "tokens in" in body
    assert "$" in body and " s" in body
    # The model saw the chapter at the head, the PR's diff and both lines of instructions.
    sent = json.dumps(world.model.calls("/chat/completions")[-1].body)
    assert "Make it half as long" in sent and "add a worked example" in sent
    assert "Tide pools hold life" in sent and "pull request's changes so far" in sent
    assert [r["content"] for r in gh.reactions(delivery.payload["comment"]["id"])] == ["eyes"]
    # The revision's model call is a usage row of its own command.
    db = Database(world.database_url)
    try:
        async with db.engine.connect() as conn:
            commands = [row[0] for row in await conn.execute(sql("SELECT command FROM usage"))]
    finally:
        await db.close()
    assert sorted(commands) == ["generate chapter 1", "revise"], commands

    report = await check_book(world.clone(branch, tmp_path / "clone"))
    assert report.errors == [] and report.warnings == [], report.markdown()
    # GitHub calls of the job after its status comment: PR, files, branch, tarball, tree,
    # commit, ref, final status (and an edit for each stage that lasted 3 s: not counted).
    calls = [
        f"{r.method} {r.route or r.path}"
        for r in gh.requests[before:]
        if r.auth_kind == "installation" and not r.path.startswith("/_codeload/")
    ]
    created = calls.index("POST /repos/{owner}/{repo}/issues/{issue_number}/comments")
    edit = "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"
    job = [c for c in calls[created + 1 :] if c != edit] + [edit]
    assert calls[-1] == edit and len(job) <= 8, job
    assert "PATCH /repos/{owner}/{repo}/git/refs/{ref}" in job
    assert not any(c.startswith("PUT") for c in job)

    # The head is now the app's, but the reviewer's commit is under it: a later
    # `/generate chapter 1` stops and names that commit instead of replacing the branch.
    issue = gh.open_issue(REPO, "alice", "Again")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    [again] = world.wait_final(issue)
    assert "⚠️" in again["body"] and '"Add notes"' in again["body"], again["body"]
    assert world.git("rev-parse", branch).strip() == head


def test_a_revision_that_changes_nothing_pushes_nothing(world: World) -> None:
    gh = world.github
    pr = chapter_pr(world)
    world.model.default = Behaviour(text=scripted_answer)  # the same text again
    head = world.git("rev-parse", pr["head"]["ref"]).strip()
    gh.comment(REPO, pr["number"], "alice", "/revise Keep it as it is")
    [status] = final_on(world, pr["number"], 1)
    assert "ℹ️ The revision changed nothing" in status["body"], status["body"]
    assert world.git("rev-parse", pr["head"]["ref"]).strip() == head


def test_a_branch_that_moves_while_the_model_writes_is_rebuilt_on(world: World) -> None:
    gh = world.github
    pr = chapter_pr(world)
    branch = pr["head"]["ref"]
    pushed: list[str] = []

    def meanwhile(request: dict[str, Any]) -> str:
        # The first revision call: a reviewer pushes while the model writes.
        if not pushed and "The reviewer's instructions:" in json.dumps(request):
            pushed.append(gh.push(REPO, branch, {"extra.md": "More.\n"}, "alice", "Meanwhile"))
        return revising(request)

    world.model.default = Behaviour(text=meanwhile)
    gh.comment(REPO, pr["number"], "alice", "/revise Add a worked example")
    [status] = final_on(world, pr["number"], 1)
    assert "✅ Revised in" in status["body"], status["body"]
    head = world.git("rev-parse", branch).strip()
    assert world.git("rev-parse", f"{head}^").strip() == pushed[0]
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "3"


def test_revise_on_an_issue_without_a_chapter_says_where_it_works(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Shorter please")
    gh.comment(REPO, issue, "alice", "/revise Make it shorter")
    [status] = world.wait_final(issue)
    assert "in a pull request's conversation" in status["body"], status["body"]


async def test_suggest_on_lines_replies_with_one_suggestion_for_exactly_them(
    world: World, tmp_path: Path
) -> None:
    gh = world.github
    pr = chapter_pr(world)
    number, branch = pr["number"], pr["head"]["ref"]
    lines = gh.read_file(REPO, branch, CHAPTER).decode().split("\n")
    start, end = 12, 14
    delivery = gh.review_comment(
        REPO, number, "alice", "/suggest use the active voice", CHAPTER, end, "RIGHT", start
    )
    assert delivery.status_code == 200
    comment_id = delivery.payload["comment"]["id"]

    def reply() -> dict[str, Any] | None:
        found = [
            c
            for c in gh.review_comments(REPO, number)
            if c.get("in_reply_to_id") == comment_id
            and re.search(r"^(✅|⚠️|❌|ℹ️)", c["body"], re.MULTILINE)
        ]
        return found[0] if found else None

    answer = world.wait_for(reply, what="the suggestion in the thread")
    body = answer["body"]
    assert body.count("```suggestion") == 1 and "✅" in body, body
    block = body.split("```suggestion\n", 1)[1].split("\n```", 1)[0]
    assert block == SUGGESTED
    assert "openai:gpt-4.1" in body and "tokens in" in body
    assert [r["content"] for r in gh.reactions(comment_id, "pull_comment")] == ["eyes"]
    # Exactly one reply in the thread, and the branch is untouched.
    assert len([c for c in gh.review_comments(REPO, number) if c.get("in_reply_to_id")]) == 1
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "1"
    # Applied as GitHub applies it (those lines replaced), the book builds.
    applied = "\n".join([*lines[: start - 1], *block.split("\n"), *lines[end:]])
    clone = world.clone(branch, tmp_path / "clone")
    (clone / CHAPTER).write_text(applied)
    report = await check_book(clone)
    assert report.errors == [] and report.warnings == [], report.markdown()
