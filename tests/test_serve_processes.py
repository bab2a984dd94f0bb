"""`liquidbook serve` runs its jobs in supervised worker children, never in its own loop.

A child killed with SIGKILL is started again and its successor runs jobs; stopping the
server (SIGTERM) or killing it outright leaves no child behind; and a job queue busy with
real work against the stand-in of GitHub leaves the webhook acknowledgement as quick as it
is when the queue is quiet (a ratio of medians measured in the same run).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import AppProcess
from tests.world import REPO, SECRET, World


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        yield world
    finally:
        world.close()


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def health(app: AppProcess) -> dict[str, Any]:
    return httpx.get(app.url + "/healthz", timeout=10).json()


def child_pids(app: AppProcess) -> list[int]:
    return [int(w["pid"]) for w in health(app)["workers"]]


def start_embedded(world: World, *args: str) -> AppProcess:
    """`serve` on its embedded Redis and default SQLite file (no REDIS_URL, no DATABASE_URL):
    its children must find both through what the server passes them."""
    env = world.env()
    del env["REDIS_URL"], env["DATABASE_URL"]
    app = AppProcess(world.root / "app", env, ("serve", *args)).start()
    world.app_process = app
    world.github.set_webhook_url(world.app.id, app.url + "/api/github/webhooks")
    return app


def test_a_killed_child_is_replaced_and_stopping_leaves_none(world: World) -> None:
    app = start_embedded(world, "--workers", "2")
    first = health(app)
    assert first["worker"] == "ok" and len(first["workers"]) == 2, first
    pids = child_pids(app)
    assert all(alive(pid) for pid in pids) and app.process is not None
    assert app.process.pid not in pids
    world.install()  # the setup check ran in a child, on the embedded Redis and SQLite

    for pid in pids:
        os.kill(pid, signal.SIGKILL)

    def replaced() -> list[int] | None:
        now = health(app)
        fresh = child_pids(app)
        ok = now["worker"] == "ok" and not set(fresh) & set(pids)
        return fresh if ok else None

    fresh = world.wait_for(replaced, 60, "both children replaced")
    assert all(w["restarts"] >= 1 for w in health(app)["workers"])
    assert "stopped (exit status -9)" in app.log()

    # The new children run jobs: a command gets its 👀 and its answer.
    issue = world.github.open_issue(REPO, "alice", "After a crash")
    asked = world.github.comment(REPO, issue, "alice", "/help")
    world.wait_for(lambda: world.github.reactions(asked.payload["comment"]["id"]), 30, "👀")

    app.stop()  # SIGTERM: uvicorn's shutdown, the lifespan stops the children
    assert "Application shutdown complete" in app.log()
    assert not [pid for pid in fresh if alive(pid)]


def test_a_server_killed_outright_leaves_no_child(world: World) -> None:
    app = world.start_app()
    pids = child_pids(app)
    app.kill()  # SIGKILL: no lifespan, no clean-up; the children notice on their own
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    assert not [pid for pid in pids if alive(pid)], app.log()[-2000:]
    assert "the server is gone: stopping" in app.log()


class AckTimer:
    """`tests/ack_timer.py` in a child process: the answers are timed away from the stand-in
    of GitHub, which runs in this process and is busy with the jobs' calls."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.ack_timer", url, SECRET],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def latencies(self, payloads: list[dict[str, Any]]) -> list[float]:
        """The time to each answer of these deliveries, posted one after another."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(payloads) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert isinstance(answer, list), answer  # else a delivery was not answered 200
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def test_a_busy_job_queue_leaves_acknowledgements_quick(world: World) -> None:
    """Hundreds of acknowledgement jobs, each calling the stand-in of GitHub (reaction,
    permission, status comment), are run by the worker child while deliveries are timed;
    the median answer stays within twice the quiet median of the same server."""
    app = world.start_app()
    world.install()
    # The stand-in's answers to the flood's calls are GitHub's CPU, not the server's: they
    # run behind the server's (and the worker's) on these two cores.
    world.github.lower_priority(10)
    issue = world.github.open_issue(REPO, "alice", "Busy")
    hook = app.url + "/api/github/webhooks"

    def comments(count: int) -> list[dict[str, Any]]:
        """Real `/help` comments on the stand-in, their deliveries held back for us to time."""
        world.github.set_webhook_url(world.app.id, None)
        try:
            return [
                world.github.comment(REPO, issue, "alice", "/help").payload for _ in range(count)
            ]
        finally:
            world.github.set_webhook_url(world.app.id, hook)

    timer = AckTimer(app.url)

    def attempt() -> tuple[float, float]:
        quiet: list[float] = []
        busy: list[float] = []
        flood = comments(300)
        for round in range(2):
            quiet += timer.latencies(comments(30))
            world.wait_for(lambda: _queues_empty(world), 120, "the quiet round's jobs")
            # The flood: acknowledgements the worker runs against GitHub while we time more.
            timed = comments(30)  # made before the flood, so it is timed while it runs
            timer.latencies(flood[round * 150 : (round + 1) * 150])
            assert not _queues_empty(world)
            busy += timer.latencies(timed)
            world.wait_for(lambda: _queues_empty(world), 180, "the busy round's jobs")
        return statistics.median(quiet), statistics.median(busy)

    # Up to three attempts: on a shared machine (CI runs other test files on the same two
    # cores) another process's burst can land on one phase and not the other; a server whose
    # jobs really slowed its answers (they were 27-130x slower when jobs shared its loop)
    # fails every attempt.
    attempts: list[tuple[float, float]] = []
    try:
        timer.latencies(comments(20))  # warm both sides up
        world.wait_for(lambda: _queues_empty(world), 120, "the warm-up jobs")
        for _ in range(3):
            attempts.append(attempt())
            quiet_median, busy_median = attempts[-1]
            print(f"ack median quiet {quiet_median * 1e3:.1f} ms, busy {busy_median * 1e3:.1f} ms")
            if busy_median <= 2 * quiet_median:
                break
    finally:
        timer.close()
    assert any(busy <= 2 * quiet for quiet, busy in attempts), attempts


def _queues_empty(world: World) -> bool:
    import redis

    client = redis.Redis.from_url(world.redis_url)
    try:
        # Jobs due now (arq scores a job by when it may run): a deferred one, such as the
        # Book Dashboard's refresh an hour away in the tests' world, is no work waiting.
        due = int(time.time() * 1000)
        return (
            client.zcount("liquidbook:ack", "-inf", due) == 0
            and client.zcount("liquidbook:queue", "-inf", due) == 0
        )
    finally:
        client.close()
