"""At-least-once jobs: a worker killed in the middle of a job (its cut-off model call still
counted), and GitHub tokens shared by processes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        yield world
    finally:
        world.close()


def test_killed_worker_ends_with_exactly_one_pr(world: World) -> None:
    """SIGKILL the worker while the model is writing; another worker re-runs the job."""
    # A short job timeout makes arq hand the orphaned job to another worker after 20 s.
    world.start_app(worker=False, LIQUIDBOOK_JOB_TIMEOUT="10")
    first = world.start_worker(LIQUIDBOOK_JOB_TIMEOUT="10")
    world.install()
    gh = world.github
    world.model.script(Behaviour(text=scripted_answer, delay=6))  # the first answer is slow
    issue = gh.open_issue(REPO, "alice", "Chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_for(lambda: world.model.calls("/chat/completions"), what="the model call")
    first.kill()
    world.start_worker(LIQUIDBOOK_JOB_TIMEOUT="10")
    [status] = world.wait_final(issue, timeout=120)
    assert "✅" in status["body"], status["body"]
    pulls = gh.pulls(REPO)
    assert len(pulls) == 1
    branch = pulls[0]["head"]["ref"]
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "1"
    assert len(world.model.calls("/chat/completions")) == 2  # the job ran again, once
    assert len(world.status_comments(issue)) == 1
    # The call the kill cut off is counted (at its estimate) by the next try.
    with sqlite3.connect(world.root / "app.db") as db:
        rows = db.execute("SELECT outcome, cost_usd, tokens_out FROM usage ORDER BY id").fetchall()
    assert [row[0] for row in rows] == ["interrupted:estimated", "ok"], rows
    assert rows[0][2] > 0


def test_a_worker_killed_between_the_commit_and_the_pr_ends_with_one_pr(world: World) -> None:
    """The branch and its commit exist, the PR is being opened when the worker dies: the job
    runs again on another worker, moves its own branch and opens exactly one PR."""
    world.start_app(worker=False, LIQUIDBOOK_JOB_TIMEOUT="10")
    first = world.start_worker(LIQUIDBOOK_JOB_TIMEOUT="10")
    world.install()
    gh = world.github
    # The first request to open a PR hangs in the stand-in of GitHub.
    stuck = gh.faults.add(method="POST", path=r"^/repos/octo-org/book/pulls$", delay=15)
    issue = gh.open_issue(REPO, "alice", "Chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_for(lambda: stuck.hits == 1, what="the job at its PR step")
    assert gh.calls("POST", "/repos/octo-org/book/git/refs"), "the branch was created first"
    first.kill()
    world.start_worker(LIQUIDBOOK_JOB_TIMEOUT="10")
    [status] = world.wait_final(issue, timeout=120)
    assert "✅" in status["body"], status["body"]
    # The hung request ends too (GitHub would have carried it out): it made no second PR.
    world.wait_for(lambda: len(gh.calls("POST", "/repos/octo-org/book/pulls")) == 2, 60)
    pulls = gh.pulls(REPO)
    assert len(pulls) == 1, pulls
    branch = pulls[0]["head"]["ref"]
    assert world.git("rev-list", "--count", f"main..{branch}").strip() == "1"
    assert len(world.model.calls("/chat/completions")) == 2  # the job ran again, once
    assert len(world.status_comments(issue)) == 1
    assert f"{pulls[0]['html_url']}" in status["body"]


def test_processes_share_one_encrypted_installation_token(world: World, redis_url: str) -> None:
    world.start_app(worker=False)
    world.start_worker()
    world.install()
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Two commands")
    gh.comment(REPO, issue, "alice", "/help")
    gh.comment(REPO, issue, "alice", "/usage")
    world.wait_final(issue, count=2)
    # The server and the worker together fetched one token for the installation.
    assert len(gh.calls("POST", "/app/installations/", auth_kind="jwt")) == 1
    client = redis.Redis.from_url(redis_url)
    keys = client.keys("liquidbook:gh:*")
    assert keys, "tokens are cached in Redis"
    for key in keys:
        value = client.get(key)
        assert value is not None and b"ghs_" not in value and value.startswith(b"gAAAA")  # Fernet
    client.close()


def test_a_job_past_its_time_limit_says_so(world: World) -> None:
    """arq cancels a job at its time limit; the status comment must not stay at "Writing…"."""
    world.start_app(LIQUIDBOOK_JOB_TIMEOUT="10")
    world.install()
    world.model.script(Behaviour(text=scripted_answer, delay=16))  # past the 10 s limit
    gh = world.github
    issue = gh.open_issue(REPO, "alice", "Too slow")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    [status] = world.wait_final(issue, timeout=60)
    assert "interrupted" in status["body"] and "time limit" in status["body"]
    assert gh.pulls(REPO) == []


def test_a_worker_stops_cleanly_on_sigterm(world: World) -> None:
    worker = world.start_worker()
    world.wait_for(lambda: "Starting worker" in worker.log(), 60, "the worker's start")
    assert worker.process is not None
    worker.stop()  # SIGTERM, as systemd and container runtimes send
    assert worker.process.returncode == 0, worker.log()[-2000:]
    assert "Traceback" not in worker.log()
