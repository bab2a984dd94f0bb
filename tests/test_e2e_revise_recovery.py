"""A worker killed in the middle of a `/revise` ends with exactly one new commit.

The job has made its commit (recorded in Redis) and is moving the branch when its worker
dies; another worker runs it again, finds its own commit and moves the branch to it instead
of asking the model and committing a second time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from standins.providers.behaviour import Behaviour
from tests.test_e2e_revise import revising
from tests.world import REPO, World

FINAL = re.compile(r"^(✅|⚠️|❌|ℹ️)", re.MULTILINE)


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    world.model.default = Behaviour(text=revising)
    try:
        yield world
    finally:
        world.close()


# A short job timeout makes arq hand an orphaned job to another worker after 20 s; arq's
# in-progress key lives as long as the longest timeout of any function, so the delivery
# recovery cron (540 s) is off here.
QUICK = {"LIQUIDBOOK_JOB_TIMEOUT": "10", "LIQUIDBOOK_REDELIVERY_MINUTES": "0"}


def test_a_worker_killed_while_moving_the_branch_ends_with_one_commit(world: World) -> None:
    world.start_app(worker=False, **QUICK)
    first = world.start_worker(**QUICK)
    world.install()
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    [pr] = gh.pulls(REPO)
    branch, number = pr["head"]["ref"], pr["number"]
    # The revision's fast-forward hangs in the stand-in of GitHub; the worker dies there.
    stuck = gh.faults.add(
        method="PATCH", path=rf"^/repos/octo-org/book/git/refs/heads/{re.escape(branch)}$", delay=15
    )
    model_calls = len(world.model.calls("/chat/completions"))
    gh.comment(REPO, number, "alice", "/revise Add a worked example")
    world.wait_for(lambda: stuck.hits == 1, what="the revision at its ref move")
    first.kill()
    world.start_worker(**QUICK)

    def final() -> list[dict] | None:
        found = [c for c in world.status_comments(number) if FINAL.search(c["body"])]
        return found or None

    [status] = world.wait_for(final, timeout=120, what="the revision's final status")
    assert "✅ Revised in" in status["body"], status["body"]
    # The hung request ended too (GitHub would have carried it out, 15 s in, before the job
    # was handed to the next worker): still one new commit.
    world.github.settle()
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "2"
    head = world.git("rev-parse", branch).strip()
    assert f"/commit/{head}" in status["body"]
    assert len(world.model.calls("/chat/completions")) == model_calls + 1  # asked once
    assert len(world.status_comments(number)) == 1
