"""A GitHub call that timed out may have succeeded: what it created is looked up before the
job goes on or reports, and a final status that cannot be edited in is posted anew."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.pull_request import base_commit, commit_files
from bot.services import Services
from bot.status import MARKER, REPLACED_NOTE, StatusComment, create_status_comment
from tests.world import REPO, World

TIMEOUT = 1.0  # the app's GitHub client timeout in these tests (seconds)


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        yield world
    finally:
        world.close()


def test_a_pr_opened_after_the_timeout_is_found_and_reported(world: World) -> None:
    """POST /pulls answers after the client gave up, but GitHub opens the PR: the job finds
    it and reports ✅ with its link, and no second PR is opened."""
    world.start_app(GITHUB_TIMEOUT_SECONDS="3")
    world.install()
    gh = world.github
    slow = gh.faults.add(method="POST", path=r"^/repos/octo-org/book/pulls$", delay=5)
    issue = gh.open_issue(REPO, "alice", "Chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    [status] = world.wait_final(issue)
    assert slow.hits == 1
    [pull] = gh.pulls(REPO)
    assert "✅" in status["body"] and pull["html_url"] in status["body"], status["body"]
    assert len(gh.calls("POST", "/repos/octo-org/book/pulls")) == 1


@pytest.fixture
async def slow_github(tmp_path: Path, redis_url: str) -> AsyncIterator[tuple[World, Services, int]]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    services = None
    try:
        installation = world.github.install(world.app.id, "octo-org", ["book"], deliver=False)
        services = await Services.start(world.settings(github_timeout_seconds=TIMEOUT))
        yield world, services, installation
    finally:
        if services is not None:
            await services.close()
        world.close()


async def test_a_comment_posted_after_the_timeout_is_found_not_doubled(
    slow_github: tuple[World, Services, int],
) -> None:
    world, services, installation = slow_github
    assert services.github is not None
    issue = world.github.open_issue(REPO, "alice", "Status")
    world.github.faults.add(method="POST", path=rf"/issues/{issue}/comments$", delay=2 * TIMEOUT)
    async with services.github.installation(installation) as gh:
        status = await create_status_comment(gh, REPO, issue, "`/x`", "⏳ Queued")
    [posted] = world.status_comments(issue)
    assert posted["id"] == status.comment_id


async def test_a_branch_created_after_the_timeout_is_found(
    slow_github: tuple[World, Services, int],
) -> None:
    world, services, installation = slow_github
    assert services.github is not None
    world.github.faults.add(method="POST", path=r"/git/refs$", delay=2 * TIMEOUT)
    async with services.github.installation(installation) as gh:
        base = await base_commit(gh, REPO, "main")
        sha = await commit_files(gh, REPO, base, "liquidbook/t", {"a.md": "a\n"}, "Add a")
    assert world.github.branches(REPO)["liquidbook/t"] == sha
    # The stand-in logs the slow POST once its answer is written, a moment after the branch
    # exists (which is what the lookup found): one POST, never a second.
    world.wait_for(
        lambda: world.github.calls("POST", "/repos/octo-org/book/git/refs"), 10, "the POST's log"
    )
    assert len(world.github.calls("POST", "/repos/octo-org/book/git/refs")) == 1


async def test_a_final_status_that_cannot_be_edited_is_posted_anew(
    slow_github: tuple[World, Services, int],
) -> None:
    """Every edit times out (or the comment is gone): the answer becomes a new comment, so
    the author is never left with "⏳ Queued"."""
    world, services, installation = slow_github
    assert services.github is not None
    gh_ = world.github
    issue = gh_.open_issue(REPO, "alice", "Status")
    async with services.github.installation(installation) as gh:
        status = await create_status_comment(gh, REPO, issue, "`/x` — requested by @alice", "⏳")
        gh_.faults.add(method="PATCH", path=rf"/comments/{status.comment_id}$", delay=2, times=9)
        await status.finish("✅ Done")
        # A handle that does not know its issue (as the setup job's): found from the comment.
        gone = await create_status_comment(gh, REPO, issue, "`/y`", "⏳")
        gh_.faults.add(method="PATCH", path=rf"/comments/{gone.comment_id}$", status=404, times=9)
        await StatusComment(gh, REPO, gone.comment_id, "`/y`").finish("❌ Failed")
    bodies = [c["body"] for c in world.status_comments(issue)]
    done = [b for b in bodies if "✅ Done" in b and REPLACED_NOTE in b]
    assert len(done) == 1 and done[0].startswith(MARKER)
    assert "requested by @alice" in done[0]
    assert any("❌ Failed" in b and REPLACED_NOTE in b for b in bodies)
