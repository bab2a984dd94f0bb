"""Per-installation limits on commands that call a model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.world import REPO, World


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        world.start_app(LIQUIDBOOK_COMMANDS_PER_HOUR="1")
        world.install()
        yield world
    finally:
        world.close()


def test_commands_past_the_hourly_limit_are_refused_with_the_wait(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Limits")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_final(issue)
    gh.comment(REPO, issue, "alice", "/generate chapter 1\n/help")
    # The refusal and the help share the comment's one answer.
    statuses = world.wait_final(issue, count=2)
    refused = [s["body"] for s in statuses if "writing commands of the last hour" in s["body"]]
    assert len(refused) == 1 and "Try again in about 60 minutes" in refused[0]
    # /help calls no model: not limited.
    assert any("What I can do" in s["body"] for s in statuses)
    assert len(world.model.calls("/chat/completions")) == 1


def test_a_limit_of_zero_means_no_limit(tmp_path: Path, redis_url: str) -> None:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        world.start_app(LIQUIDBOOK_COMMANDS_PER_HOUR="0")
        world.install()
        gh = world.github
        issue = gh.open_issue(REPO, "alice", "No limit")
        gh.comment(REPO, issue, "alice", "/generate chapter 1\n/outline Tide pools, 2 chapters")
        statuses = world.wait_final(issue, count=2)
        assert all(s["body"].split("\n\n", 1)[1].startswith("✅") for s in statuses), statuses
    finally:
        world.close()
