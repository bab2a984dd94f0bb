"""A job whose worker dies under it every time is given up with a final status, and the model
calls its tries cut off are counted as usage."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

TRIES = 2


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        yield world
    finally:
        world.close()


def usage_outcomes(world: World) -> list[str]:
    with sqlite3.connect(world.root / "app.db") as db:
        return [row[0] for row in db.execute("SELECT outcome FROM usage ORDER BY id")]


def test_a_job_stopped_on_every_try_says_it_gave_up(world: World) -> None:
    """Each try's worker is stopped while the model writes (arq queues the job again each
    time); past its tries the job does not run again but says so, and every cut-off call is
    a usage row at its estimate."""
    env = {"LIQUIDBOOK_JOB_TRIES": str(TRIES)}
    world.start_app(worker=False, **env)
    world.model.default = Behaviour(text=scripted_answer, delay=8)  # still writing when stopped
    worker = world.start_worker(**env)
    world.install()
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    for tried in range(1, TRIES + 1):
        world.wait_for(
            lambda tried=tried: len(world.model.calls("/chat/completions")) == tried,
            what=f"try {tried} at the model",
        )
        worker.stop()  # SIGTERM: arq cancels the job and queues it again
        worker = world.start_worker(**env)
    # (Each stop leaves "⚠️ interrupted" until the next try takes the job up.)
    gave_up = f"Gave up after {TRIES} tries; nothing committed"
    [status] = world.wait_for(
        lambda: [c for c in world.status_comments(issue) if gave_up in c["body"]],
        60,
        "the status saying the job gave up",
    )
    assert status["body"].split("\n\n", 1)[1].startswith("❌"), status["body"]
    assert gh.pulls(REPO) == []
    assert len(world.model.calls("/chat/completions")) == TRIES  # not run a third time
    assert usage_outcomes(world) == ["interrupted:estimated"] * TRIES
