"""From a comment to a pull request, over HTTP only, against the stand-ins of GitHub and a model.

A signed webhook for a real comment goes in (delivered by the stand-in of GitHub, shaped as
GitHub's); the stand-in ends with a branch, one commit, one PR, and an edited status comment;
the branch builds with the real `jupyter-book` with no ⛔️ or ⚠️ line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from bot.book.check import check_book
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

# The app only records usage in the database: every test on SQLite, the one reading that
# usage on PostgreSQL as well (the database layer is tested on both in test_db).
pytestmark = pytest.mark.databases("sqlite")


@pytest.fixture
def world(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, database_url)
    try:
        world.start_app()
        world.install()
        yield world
    finally:
        world.close()


def job_calls(world: World, since: int) -> list[str]:
    """GitHub calls made as the installation after the `since`-th logged request."""
    return [
        f"{r.method} {r.route or r.path}"
        for r in world.github.requests[since:]
        if r.auth_kind == "installation"
    ]


async def test_generate_chapter_opens_one_pr_that_builds(world: World, tmp_path: Path) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Write chapter 1")
    before = len(gh.requests)
    delivery = gh.comment(REPO, issue, "alice", "/generate chapter 1\nKeep it short.")
    assert delivery.status_code == 200
    [status] = world.wait_final(issue)

    comment_id = delivery.payload["comment"]["id"]
    assert [r["content"] for r in gh.reactions(comment_id)] == ["eyes"]
    pulls = gh.pulls(REPO)
    assert len(pulls) == 1
    pr = pulls[0]
    branch = pr["head"]["ref"]
    assert branch.startswith("liquidbook/chapter-")
    assert pr["base"]["ref"] == "main"
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "1"
    changed = world.git("diff", "--name-only", f"main...{branch}").split()
    assert changed == ["chapters/01-getting-started.md"]
    text = gh.read_file(REPO, branch, "chapters/01-getting-started.md").decode()
    assert "Tide pools hold life" in text and text.startswith("---\n")
    assert "Build check" in pr["body"] and "✅" in pr["body"] and f"#{issue}" in pr["body"]
    # The status comment was edited to the final answer: PR link, model, tokens, cost, time.
    assert pr["html_url"] in status["body"] and "openai:gpt-4.1" in status["body"]
    assert "tokens in" in status["body"] and "$" in status["body"]
    # The model was asked with the author's instructions (the style guide, the outline and
    # the neighbours: test_the_model_sees_style_guide_outline_and_neighbours).
    sent = world.model.calls("/chat/completions")[-1].body
    assert sent["model"] == "gpt-4.1" and "Keep it short." in json.dumps(sent)

    report = await check_book(world.clone(branch, tmp_path / "clone"))
    assert report.errors == [] and report.warnings == [], report.markdown()
    # The default branch is untouched.
    assert gh.read_file(REPO, "main", "chapters/01-getting-started.md") != text.encode()
    calls = job_calls(world, before)
    assert not any("PUT" in c or "/git/refs/heads/main" in c for c in calls)
    # The job's GitHub budget: after its status comment exists, at most 9 REST calls (the
    # 9th: the PR's "Liquid Book" check run, from the build the job already ran).
    created = calls.index("POST /repos/{owner}/{repo}/issues/{issue_number}/comments")
    job = [c for c in calls[created + 1 :] if not c.startswith("GET /_codeload/")]
    assert len(job) <= 9, job
    assert "POST /repos/{owner}/{repo}/check-runs" in job
    assert calls[: created + 1] == [
        "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
        "GET /repos/{owner}/{repo}/contents/{path}",
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    ]


def test_the_model_sees_style_guide_outline_and_neighbours(world: World) -> None:
    style = "Write like a patient naturalist, in short sentences."
    world.add_chapters(
        [
            ("Rock pools", "Pools carved in rock, and what survives in them."),
            ("Sand flats", "Wide wet sand at low tide, full of burrows."),
        ],
        settings=f"type: course\naudience: Curious teenagers\nstyle_guide: {style}\n",
    )
    digest = {"summary": "Chapter one shows notes, math and code.", "terms": ["admonition"]}

    def answer(request: dict[str, Any]) -> str:
        text = json.dumps(request["messages"])
        return json.dumps(digest) if "You summarise chapters" in text else scripted_answer(request)

    world.model.default = Behaviour(text=answer)
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chapter 2")
    gh.comment(REPO, issue, "alice", "/generate chapter 2\nAdd one worked example.")
    [status] = world.wait_final(issue)
    assert "✅" in status["body"], status["body"]
    # Chapter 1 is written: its digest (what it says as written) was asked for first.
    digest_call, call = world.model.calls("/chat/completions")
    assert "Summarise this chapter, Getting started" in json.dumps(digest_call.body)
    system, user = call.body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    # The style guide and audience are the system prompt; the outline near the chapter
    # (here the whole book) is in the prompt.
    assert style in system["content"] and "Curious teenagers" in system["content"]
    prompt = user["content"]
    for number, title in enumerate(("Getting started", "Rock pools", "Sand flats"), start=1):
        assert f"{number}. {title}" in prompt
    # The chapter to write, its own summary, the neighbours (chapter 1 as written, with its
    # key term and its end), the instructions.
    assert "Write chapter 2, Rock pools." in prompt
    assert "Pools carved in rock, and what survives in them." in prompt
    assert "The previous chapter, 1. Getting started: Chapter one shows notes" in prompt
    assert "admonition" in prompt and "How the previous chapter ends (Getting started)" in prompt
    assert "The next chapter, 3. Sand flats: Wide wet sand at low tide" in prompt
    assert "Add one worked example." in prompt


async def test_redelivery_and_repeat_update_the_same_pr(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chapter 1 please")
    first = gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    gh.redeliver(first.id)
    again = gh.comment(REPO, issue, "alice", "/generate chapter 1")
    assert again.status_code == 200
    world.wait_final(issue, count=2)
    assert len(gh.pulls(REPO)) == 1
    branch = gh.pulls(REPO)[0]["head"]["ref"]
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "1"
    # Two comments, two status comments: the redelivery did nothing.
    assert len(world.status_comments(issue)) == 2


def test_a_rerun_never_overwrites_a_reviewers_commit(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chapter 1 please")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    [pr] = gh.pulls(REPO)
    branch = pr["head"]["ref"]
    path = "chapters/01-getting-started.md"
    mine = "---\ntitle: Getting started\n---\n\n# Getting started\n\nAlice's own words.\n"
    pushed = gh.push(REPO, branch, {path: mine}, "alice", "Tighten the introduction")

    # A re-run with the PR remembered, then one with Redis's memory of it gone: both stop.
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue, count=2)
    with Redis.from_url(world.redis_url) as redis:
        redis.delete(f"liquidbook:pr:{REPO}:{branch}")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    finals = world.wait_final(issue, count=3)
    for status in finals[1:]:
        body = status["body"]
        assert "⚠️" in body and f"`{branch}`" in body and "Tighten the introduction" in body
        assert "@alice" in body and "Nothing written" in body
    assert gh.branches(REPO)[branch] == pushed
    assert gh.read_file(REPO, branch, path).decode() == mine
    assert len(gh.pulls(REPO)) == 1


def test_one_chapter_that_cannot_be_written_does_not_stop_the_others(world: World) -> None:
    gh = world.github
    myst = gh.read_file(REPO, "main", "myst.yml").decode()
    second = "chapters/02-rock-pools.md"
    gh.push(
        REPO,
        "main",
        {
            "myst.yml": myst.replace(
                "    - file: chapters/01-getting-started.md",
                f"    - file: chapters/01-getting-started.md\n    - file: {second}",
            ),
            second: "---\ntitle: Rock pools\nlabel: sec:rock-pools\n---\n\n# Rock pools\n",
        },
        user="alice",
        message="A second chapter",
    )
    issue = gh.open_issue(REPO, "alice", "Both chapters")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    [first] = gh.pulls(REPO)
    gh.push(REPO, first["head"]["ref"], {"notes.md": "mine\n"}, "alice", "Reviewer notes")

    gh.comment(REPO, issue, "alice", "/generate chapter all")
    body = world.wait_final(issue, count=2)[1]["body"]
    assert "Partly done: 1 of 2" in body, body
    assert "⚠️ Chapter 1:" in body and "Reviewer notes" in body
    # The label `sec:rock-pools` is no valid ref name; the branch is named after the file.
    [opened] = [p for p in gh.pulls(REPO) if p["number"] != first["number"]]
    assert opened["head"]["ref"] == "liquidbook/chapter-02-rock-pools"
    assert f"✅ Chapter 2: {opened['html_url']}" in body


def test_a_closed_pr_is_forgotten_and_never_edited(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chapter 1 please")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    [first] = gh.pulls(REPO)
    key = f"liquidbook:pr:{REPO}:{first['head']['ref']}"
    with Redis.from_url(world.redis_url) as redis:
        assert redis.get(key) == str(first["number"]).encode()
        gh.close_pull(REPO, first["number"], "alice")
        # The `pull_request` closed webhook makes the app forget the PR.
        world.wait_for(lambda: redis.get(key) is None, 30, "the closed PR forgotten")
        # Were that webhook lost, the re-run still reads the PR before editing it.
        redis.set(key, str(first["number"]))
    gh.comment(REPO, issue, "alice", "/generate chapter 1\nShorter, please.")
    world.wait_final(issue, count=2)
    closed, reopened = gh.pulls(REPO)
    assert closed["number"] == first["number"] and closed["state"] == "closed"
    assert closed["body"] == first["body"] and closed["title"] == first["title"]
    assert reopened["state"] == "open" and reopened["head"]["ref"] == first["head"]["ref"]
    assert "Shorter, please." in reopened["body"]


async def test_outline_writes_toc_stubs_and_settings(world: World, tmp_path: Path) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Plan the book")
    gh.comment(REPO, issue, "alice", "/outline A short course on tide pools, 4 chapters")
    [status] = world.wait_final(issue)
    assert "✅" in status["body"], status["body"]
    [pr] = gh.pulls(REPO)
    assert pr["head"]["ref"] == "liquidbook/outline"
    myst = gh.read_file(REPO, "liquidbook/outline", "myst.yml").decode()
    assert myst.count("chapters/") >= 4 and "part-4-of-the-shore" in myst
    assert gh.read_file(REPO, "liquidbook/outline", ".github/liquidbook.yml") is not None
    report = await check_book(world.clone("liquidbook/outline", tmp_path / "clone"))
    assert report.errors == [] and report.warnings == [], report.markdown()


def test_people_without_the_role_bots_and_the_app_trigger_nothing(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Who may run commands")
    gh.add_user("helper-bot[bot]", type="Bot")
    gh.set_permission(REPO, "helper-bot[bot]", "admin")
    bot = gh.comment(REPO, issue, "helper-bot[bot]", "/generate chapter 1")
    assert bot.status_code == 200
    # The app's own bot user, as GitHub names it, with a command a person would run.
    own_login = f"{world.app.slug}[bot]"
    gh.set_permission(REPO, own_login, "admin")
    own = gh.comment(REPO, issue, own_login, "/help")
    assert own.status_code == 200 and own.payload["sender"]["type"] == "Bot"
    refused = gh.comment(REPO, issue, "mallory", "/generate chapter 1")
    polite = world.wait_for(
        lambda: [c for c in gh.comments(REPO, issue) if "Sorry @mallory" in c["body"]],
        what="the polite refusal",
    )
    assert len(polite) == 1 and "write" in polite[0]["body"]
    assert refused.status_code == 200
    # A handler enqueues before it answers the webhook: no job exists for the bots' comments.
    with Redis.from_url(world.redis_url) as redis:
        for delivery in (bot, own):
            assert redis.keys(f"arq:*:{REPO}:{delivery.payload['comment']['id']}*") == []
    gh.comment(REPO, issue, "alice", "/help")
    [answer] = world.wait_final(issue)
    assert "requested by @alice" in answer["body"]
    for delivery in (bot, own):
        assert gh.reactions(delivery.payload["comment"]["id"]) == []
    assert gh.pulls(REPO) == [] and len(world.status_comments(issue)) == 1
    with Redis.from_url(world.redis_url) as redis:
        alice = redis.keys(f"arq:*:{REPO}:*")
    assert alice, "the same check finds the job of alice's comment"


def test_edited_comment_does_not_run_again(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Edit me")
    delivery = gh.comment(REPO, issue, "alice", "/usage")
    world.wait_final(issue)
    gh.edit_comment(delivery.payload["comment"]["id"], "alice", "/usage\n/help")
    gh.comment(REPO, issue, "alice", "thanks!")  # no command: nothing to do
    gh.comment(REPO, issue, "alice", "/help")
    world.wait_final(issue, count=2)
    bodies = [c["body"] for c in world.status_comments(issue)]
    assert len(bodies) == 2 and "/usage" in bodies[0] and "/outline" in bodies[1]


def test_malformed_commands_and_settings_get_a_clear_answer(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Typos")
    gh.comment(REPO, issue, "alice", "/genrate chapter 1")
    [status] = world.wait_final(issue)
    assert "/generate chapter 1" in status["body"]
    gh.comment(REPO, issue, "alice", "/generate chapter 9")
    statuses = world.wait_final(issue, count=2)
    assert "there is no chapter 9" in statuses[1]["body"]
    gh.push(
        REPO,
        "main",
        {".github/liquidbook.yml": "type: novel\nmodles: {}\n"},
        user="alice",
        message="oops",
    )
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    statuses = world.wait_final(issue, count=3)
    assert "`type`" in statuses[2]["body"] and "models" in statuses[2]["body"]
    assert gh.pulls(REPO) == []


def test_words_after_a_command_that_takes_none_are_said_to_be_ignored(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chatty")
    gh.set_permission(REPO, "alice", "admin")
    gh.comment(REPO, issue, "alice", "/help me\n/init now please")
    finals = world.wait_final(issue, count=2)
    [help_] = [c for c in finals if "**`/help` — requested by @alice**" in c["body"]]
    [init] = [c for c in finals if "**`/init` — requested by @alice**" in c["body"]]
    assert "What I can do" in help_["body"]
    assert "`/help` takes nothing after it, so “me” was ignored." in help_["body"]
    # The setup job's final answer keeps the note the acknowledgement put under it.
    assert "nothing to set up" in init["body"]
    assert "`/init` takes nothing after it, so “now please” was ignored." in init["body"]


@pytest.mark.databases("sqlite", "postgresql")
def test_usage_reports_the_month(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Usage")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    gh.push(
        REPO,
        "main",
        {".github/liquidbook.yml": "budget:\n  monthly_usd: 5\n"},
        user="alice",
        message="budget",
    )
    gh.comment(REPO, issue, "alice", "/usage")
    statuses = world.wait_final(issue, count=2)
    usage = statuses[1]["body"]
    assert "this repository | 1 |" in usage and "the whole installation | 1 |" in usage
    assert "Monthly budget: $5.00" in usage
    assert "resets on" in usage
