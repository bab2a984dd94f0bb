"""The Book Dashboard over HTTP: the app as child processes against the stand-in of GitHub.

One World for the module: after setup and `/outline` (its PR merged) the dashboard lists
every chapter as a stub, a tick by a reader runs nothing and says why, a tick by a writer
opens the chapter's PR (the dashboard shows it), the merge shows the chapter written, a
burst of pushes makes few edits whose last one is right (the app's own edits run nothing),
and a refresh after Redis lost the dashboard's number edits the same issue.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import redis

from bot.book import dashboard
from bot.jobs.dashboard import after_job, issue_key
from bot.jobs.outline import OUTLINE_BRANCH
from bot.services import Services
from tests.world import REPO, World

DELAY = "1"


@pytest.fixture
def world(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, database_url)
    try:
        world.start_app(LIQUIDBOOK_DASHBOARD_DELAY_SECONDS=DELAY)
        world.installation = world.install()  # type: ignore[attr-defined]
        yield world
    finally:
        world.close()


def the_dashboard(world: World) -> dict[str, Any] | None:
    found = [i for i in world.github.issues(REPO) if dashboard.MARKER in (i.get("body") or "")]
    assert len(found) <= 1, "one dashboard issue only"
    return found[0] if found else None


def wait_body(world: World, condition: Any, what: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        issue = the_dashboard(world)
        return issue if issue is not None and condition(issue["body"]) else None

    return world.wait_for(check, 60, what)


def edits_of(world: World, number: int) -> int:
    return sum(
        1
        for r in world.github.requests
        if r.method == "PATCH" and r.path.endswith(f"/issues/{number}") and r.status == 200
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dashboard_lists_ticks_and_follows_the_book(world: World) -> None:
    gh = world.github
    assert the_dashboard(world) is None  # installing alone opens nothing

    # After setup and /outline (its PR merged) every chapter of the plan is listed as a stub.
    planning = gh.open_issue(REPO, "alice", "Plan the book")
    gh.comment(REPO, planning, "alice", "/outline A short course on the shore, 3 chapters")
    world.wait_final(planning)
    [outline] = [p for p in gh.pulls(REPO, "open") if p["head"]["ref"] == OUTLINE_BRANCH]
    gh.merge_pull(REPO, outline["number"], "alice")
    issue = wait_body(
        world,
        lambda b: "**3. Part 3 of the shore**" in b and "## Chapters (3)" in b,
        "the dashboard listing the outline's chapters",
    )
    body = issue["body"]
    assert issue["title"] == dashboard.TITLE and issue["user"]["type"] == "Bot"
    assert [label["name"] for label in issue["labels"]] == [dashboard.LABEL]
    for n in (1, 2, 3):
        assert f"**{n}. Part {n} of the shore**" in body and f"write chapter {n}" in body
    assert body.count("📝 stub from the outline") == 3
    assert "/help" in body and ".github/liquidbook.yml" in body and "budget" in body
    number = issue["number"]

    # A reader's tick runs nothing and says why; the box is unticked again.
    before_pulls = len(gh.pulls(REPO))
    gh.edit_issue(REPO, number, "mallory", dashboard.tick(body, "write chapter 2") or "")
    world.wait_for(
        lambda: any("Sorry @mallory" in c["body"] for c in gh.comments(REPO, number)),
        what="the refusal of mallory's tick",
    )
    wait_body(world, lambda b: "write:2" not in dashboard.ticked_boxes(b), "the box unticked")
    assert len(gh.pulls(REPO)) == before_pulls

    # A writer's tick opens the chapter's PR, answered on the dashboard; the line shows it.
    body = the_dashboard(world)["body"]  # type: ignore[index]
    gh.edit_issue(REPO, number, "alice", dashboard.tick(body, "write chapter 2") or "")
    [status] = world.wait_final(number)
    pulls = [
        p for p in gh.pulls(REPO, "open") if p["head"]["ref"].startswith("liquidbook/chapter-")
    ]
    assert len(pulls) == 1 and pulls[-1]["html_url"] in status["body"]
    pr = pulls[-1]["number"]
    shown = wait_body(world, lambda b: f"open PR #{pr}" in b, "the PR on the dashboard")["body"]
    assert "write:2" not in dashboard.ticked_boxes(shown)

    # The merge shows the chapter written.
    gh.merge_pull(REPO, pr, "alice")
    written = wait_body(world, lambda b: f"written (merged #{pr})" in b, "chapter 2 written")
    assert written["body"].count("📝 stub from the outline") == 2

    # A burst of twenty pushes to the default branch: few edits, the last state right. The
    # app's own edits of the dashboard run nothing (no comment on it).
    gh.settle()
    comments = len(gh.comments(REPO, number))
    start = edits_of(world, number)
    for n in range(20):
        gh.push(REPO, "main", {f"notes/{n}.txt": "x"}, user="alice", message=f"note {n}")
    path = re.search(r"\*\*3\. Part 3 of the shore\*\* \(`([^`]+)`\)", written["body"])
    assert path is not None
    quiz = f"quizzes/{PurePosixPath(path.group(1)).stem}.json"
    gh.push(REPO, "main", {quiz: "{}"}, user="alice", message="A quiz for chapter 3")
    wait_body(world, lambda b: "1 quiz" in b, "the last push on the dashboard")
    gh.settle()
    assert edits_of(world, number) - start <= 3
    assert len(gh.comments(REPO, number)) == comments

    # Redis loses the dashboard's number: the next refresh finds the issue on GitHub by its
    # label and marker, and edits it; no second dashboard.
    admin = redis.Redis.from_url(world.redis_url)
    try:
        assert admin.delete(issue_key(REPO)) == 1
    finally:
        admin.close()
    myst = (gh.read_file(REPO, "main", "myst.yml") or b"").decode()
    gh.push(
        REPO,
        "main",
        {
            "chapters/09-salt-marshes.md": (
                "---\ntitle: Salt marshes\nlabel: salt-marshes\nsummary: Grass and tides.\n"
                "---\n\n% liquidbook: stub\n"
            ),
            "myst.yml": myst.replace(
                f"    - file: {path.group(1)}\n",
                f"    - file: {path.group(1)}\n    - file: chapters/09-salt-marshes.md\n",
            ),
        },
        user="alice",
        message="A fourth chapter",
    )
    wait_body(world, lambda b: "**4. Salt marshes**" in b, "the dashboard edited after the loss")
    assert the_dashboard(world)["number"] == number  # type: ignore[index]
    assert len([i for i in gh.issues(REPO) if i["title"] == dashboard.TITLE]) == 1

    # Twenty jobs ending within a second (each calls `after_job`, as `command_job` does at
    # its end) after the book changed: at most three edits, the last one right.
    gh.settle()
    start = edits_of(world, number)
    gh.push(REPO, "main", {"notes/more.txt": "x"}, user="alice", message="before the jobs end")
    chapter_1 = re.search(r"\*\*1\. Part 1 of the shore\*\* \(`([^`]+)`\)", written["body"])
    assert chapter_1 is not None
    stem = PurePosixPath(chapter_1.group(1)).stem
    gh.push(REPO, "main", {f"images/{stem}/a.webp": b"RIFF"}, user="alice", message="A figure")
    asyncio.run(jobs_end(world, 20))
    wait_body(world, lambda b: "0 quiz · 1 fig." in b, "the figure on the dashboard")
    gh.settle()
    assert edits_of(world, number) - start <= 3


async def jobs_end(world: World, count: int) -> None:
    services = await Services.start(world.settings())
    request = {
        "installation_id": world.installation,  # type: ignore[attr-defined]
        "repository": REPO,
        "default_branch": "main",
    }
    try:
        await asyncio.gather(*(after_job(services, request) for _ in range(count)))
    finally:
        await services.close()
