"""A re-run of the acknowledgement (its worker died after some of its steps) repeats nothing.

The job runs in this process twice, with the real Redis, database and the stand-in of GitHub:
the same as a worker, without one picking it up.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.jobs.acknowledge import acknowledge_command
from bot.services import Services
from tests.world import REPO, World


async def test_rerun_posts_and_charges_nothing_twice(tmp_path: Path, redis_url: str) -> None:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        installation = world.github.install(world.app.id, "octo-org", ["book"], deliver=False)
        issue = world.github.open_issue(REPO, "alice", "Three commands")
        delivery = world.github.comment(
            REPO, issue, "alice", "/help\n/genrate chapter 1\n/generate chapter 1"
        )
        comment_id = delivery.payload["comment"]["id"]
        services = await Services.start(world.settings(liquidbook_commands_per_hour=1))
        request = {
            "installation_id": installation,
            "repository": REPO,
            "default_branch": "main",
            "issue_number": issue,
            "comment_id": comment_id,
            "comment_url": "",
            "author": "alice",
            "body": "/help\n/genrate chapter 1\n/generate chapter 1",
        }
        try:
            first = await acknowledge_command({"services": services}, request)
            second = await acknowledge_command({"services": services}, request)
        finally:
            await services.close()
        assert first == second == "started generate_chapters"
        # One answer for /help and the typo, one status comment for the job, not two each;
        # the hourly limit of 1 was charged once, so the re-run still found the command
        # started rather than refused.
        bodies = [c["body"] for c in world.status_comments(issue)]
        assert len(bodies) == 2, bodies
        assert sum("Queued" in b for b in bodies) == 1
        assert sum("What I can do" in b and "Did you mean" in b for b in bodies) == 1
        assert not any("writing commands of the last hour" in b for b in bodies)
        assert [r["content"] for r in world.github.reactions(comment_id)] == ["eyes"]
    finally:
        world.close()


async def _acknowledge_once(
    world: World, body: str, *, delete: bool = False, break_usage: bool = False
) -> tuple[str, int]:
    installation = world.github.install(world.app.id, "octo-org", ["book"], deliver=False)
    issue = world.github.open_issue(REPO, "alice", "Commands")
    delivery = world.github.comment(REPO, issue, "alice", body)
    comment_id = delivery.payload["comment"]["id"]
    if delete:
        world.github.delete_comment(comment_id, "alice")
    services = await Services.start(world.settings())
    if break_usage:
        with sqlite3.connect(world.database_url.removeprefix("sqlite:///")) as conn:
            conn.execute("ALTER TABLE usage RENAME TO usage_away")
    request = {
        "installation_id": installation,
        "repository": REPO,
        "default_branch": "main",
        "issue_number": issue,
        "comment_id": comment_id,
        "comment_url": "",
        "author": "alice",
        "body": body,
    }
    try:
        return await acknowledge_command({"services": services}, request), issue
    finally:
        await services.close()


async def test_a_comment_deleted_before_the_worker_came_gets_no_answer(
    tmp_path: Path, redis_url: str
) -> None:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        outcome, issue = await _acknowledge_once(world, "/help", delete=True)
        assert outcome == "comment deleted"
        assert world.status_comments(issue) == []
    finally:
        world.close()


async def test_one_failing_command_does_not_drop_the_others(tmp_path: Path, redis_url: str) -> None:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        outcome, issue = await _acknowledge_once(world, "/usage\n/help", break_usage=True)
        assert outcome == "answered"
        [answer] = (c["body"] for c in world.status_comments(issue))
        usage, help_ = answer.split("#### ")[1:]
        assert "/usage" in usage and "❌ Something went wrong on our side" in usage
        assert "What I can do" in help_
    finally:
        world.close()
