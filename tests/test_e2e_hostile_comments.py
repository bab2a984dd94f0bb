"""Hostile comments through the real app, over HTTP, against the stand-in of GitHub.

Representatives of the families `test_commands_fuzz.py` tries on the grammar alone: comments
made to backtrack a grammar (from someone with read access only) are answered while the
server stays responsive, and odd numbers beside valid commands get one answer that names
each odd line while the valid commands still run, each once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.world import REPO, World

# Shapes that made the old grammar backtrack exponentially (40 digits: hours), or that a
# careless grammar reads in quadratic time.
HOSTILE = [
    "/generate chapter 2 " + "1" * 40 + "a",
    "/generate chapter 2-4, " + "1 " * 40 + "a",
    "/generate chapter " + "1," * 30_000 + "a",
    "/generate chapter 1-" + "9" * 60_000 + "x",
    "/\n" * 30_000,
    "```{note}\n> ```\n> /help\n" * 2_000 + "/generate chapter 2 " + "7" * 40 + "!",
]


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        world.start_app()
        world.install()
        yield world
    finally:
        world.close()


def test_backtracking_comments_are_answered_while_the_server_stays_responsive(
    world: World,
) -> None:
    gh = world.github
    assert world.app_process is not None
    health_url = world.app_process.url + "/healthz"
    issue = gh.open_issue(REPO, "alice", "Hostile")
    delivered: list[int | None] = []
    health: list[tuple[int, float]] = []
    done = threading.Event()

    def post() -> None:
        try:
            for body in HOSTILE:
                delivered.append(gh.comment(REPO, issue, "mallory", body).status_code)
        finally:
            done.set()

    poster = threading.Thread(target=post)
    poster.start()
    with httpx.Client(timeout=10) as client:
        # /healthz is asked all along the deliveries (and a few times after): every answer
        # comes, none waits on the grammar.
        while not done.is_set() or len(health) < 3:
            start = time.monotonic()
            health.append((client.get(health_url).status_code, time.monotonic() - start))
    poster.join()
    # The stand-in gives up on a delivery after 10 s, as GitHub does: each was answered.
    assert delivered == [200] * len(HOSTILE)
    assert all(code == 200 for code, _ in health), health
    # mallory only reads: each comment that holds a command gets the polite refusal, once.
    refusals = world.wait_for(
        lambda: (
            found
            if len(found := [c for c in gh.comments(REPO, issue) if "Sorry @mallory" in c["body"]])
            >= 5
            else None
        ),
        what="a refusal for each hostile comment that holds a command",
    )
    assert len(refusals) == 5  # the lines of a lone `/` hold no command: no answer
    assert gh.pulls(REPO) == [] and world.model.calls("/chat/completions") == []


def test_odd_numbers_get_one_answer_and_the_valid_commands_still_run_once(world: World) -> None:
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Odd numbers")
    odd = [
        "/generate chapter ²",
        "/generate chapter ①",
        "/generate chapter " + "9" * 5000,
        "/generate chapter 1-" + "9" * 5000,
    ]
    body = "\n".join(odd) + "\n" + "/help\n" * 100 + "/generate chapter 1\n" * 3
    delivery = gh.comment(REPO, issue, "alice", body)
    assert delivery.status_code == 200
    finals = world.wait_final(issue, count=2)
    # One answer for every line answered at once, one living status comment for the job.
    assert len(world.status_comments(issue)) == 2
    [answer] = [c["body"] for c in finals if "What I can do" in c["body"]]
    [job] = [c["body"] for c in finals if "What I can do" not in c["body"]]
    assert answer.count("What I can do") == 1
    assert answer.count("⚠️") == 1 + len(odd)  # the first line, then one per odd line
    assert "`²` is not a chapter number: write numbers with the digits 0-9" in answer
    assert "`①` is not a chapter number" in answer
    assert answer.count("a number of 5,000 digits); books here stop at 999") == 2
    assert "9" * 100 not in answer  # a 5,000-digit line is quoted shortened
    assert "`/generate chapter 1` — requested by @alice" in job and "✅" in job, job
    # Three identical lines ran once: one PR, one model call.
    assert len(gh.pulls(REPO)) == 1
    assert len(world.model.calls("/chat/completions")) == 1
    assert [r["content"] for r in gh.reactions(delivery.payload["comment"]["id"])] == ["eyes"]
