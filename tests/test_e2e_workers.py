"""The workers: acknowledgements never wait behind long jobs; a range writes chapters at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, _stage, scripted_answer

SLOW_MODEL_SECONDS = 12.0


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        yield world
    finally:
        world.close()


def test_an_acknowledgement_never_waits_behind_busy_jobs(world: World) -> None:
    """Every job slot busy on a slow model call; a `/help` still gets its 👀 and its answer."""
    world.start_app(LIQUIDBOOK_MAX_JOBS="2")
    world.install()
    gh = world.github
    slow = Behaviour(text=scripted_answer, delay=SLOW_MODEL_SECONDS)
    world.model.script(slow, slow)
    issue = gh.open_issue(REPO, "alice", "Busy")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    gh.comment(REPO, issue, "alice", "/outline Tide pools, 3 chapters")
    world.wait_for(
        lambda: len(world.model.calls("/chat/completions")) >= 2, what="both jobs at the model"
    )
    asked = gh.comment(REPO, issue, "alice", "/help")
    comment_id = asked.payload["comment"]["id"]
    world.wait_for(lambda: gh.reactions(comment_id), 30, "👀 on /help")
    help_answer = world.wait_for(
        lambda: [c for c in world.status_comments(issue) if "What I can do" in c["body"]],
        30,
        "the /help answer",
    )
    # Both were answered while the slow jobs were still waiting for the model.
    assert gh.pulls(REPO) == []
    writing = [c for c in world.status_comments(issue) if c not in help_answer]
    assert len(writing) == 2
    assert not any(_stage(c["body"]).startswith(("✅", "⚠️", "❌")) for c in writing)
    finals = world.wait_final(issue, count=3, timeout=120)
    assert sum(s["body"].split("\n\n", 1)[1].startswith("✅") for s in finals) == 3


def test_a_range_writes_its_chapters_at_the_same_time(world: World) -> None:
    world.start_app()
    world.install()
    world.add_chapters([("Rock pools", "Pools in the rock."), ("Sand flats", "Wide and wet.")])
    delay = 3.0
    world.model.default = Behaviour(text=scripted_answer, delay=delay)
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "All at once")
    gh.comment(REPO, issue, "alice", "/generate chapter all")
    [status] = world.wait_final(issue, timeout=120)
    assert "3 of 3 pull requests" in status["body"], status["body"]
    # Chapter calls only: a chapter whose neighbours are written also asks for their digests
    # (bot/book/digest.py), each its own short call.
    starts = sorted(
        r.at
        for r in world.model.calls("/chat/completions")
        if "You summarise chapters" not in json.dumps(r.body)
    )
    assert len(starts) == 3
    # Each answer takes `delay` seconds. One after another, the three chapters would start
    # `delay` apart at least (more with their digests); together, a chapter waits at most for
    # the digest of its written neighbour (chapter 1), one `delay`, asked by both others at once.
    assert starts[-1] - starts[0] < 2 * delay, starts
    assert world.model.peak_in_flight >= 3
