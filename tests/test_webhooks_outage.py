"""When our Redis is down, a delivery is refused with 503 and not remembered, so GitHub's
redelivery (by hand or by API) is processed once Redis is back: nothing is lost silently."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bot.embedded_redis import EmbeddedRedis
from tests.servers import AppProcess, post_webhook

SECRET = "outage-secret"


def example(npm_dir: Path, event: str, action: str) -> dict[str, Any]:
    """The first of octokit's examples of `event` with `action` that a person sent."""
    index = json.loads(
        (npm_dir / "@octokit/webhooks-examples/api.github.com/index.json").read_text()
    )
    return next(
        x
        for e in index
        if e["name"] == event
        for x in e["examples"]
        if x["action"] == action and x["sender"]["type"] == "User"
    )


def test_redis_outage_answers_503_and_redelivery_works(tmp_path: Path, npm_dir: Path) -> None:
    payload = example(npm_dir, "installation", "created")
    redis_dir = tmp_path / "redis"
    server = EmbeddedRedis(redis_dir, persist=False).start()
    env = {
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": server.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
    }
    try:
        with (
            AppProcess(tmp_path / "app", env, ("serve", "--no-worker")) as app,
            httpx.Client(timeout=15) as client,
        ):
            # One delivery first, so the intake's own Redis connection is open when Redis
            # goes (bot.redis_lane): it must notice, refuse with 503, then reconnect.
            first = post_webhook(
                client, app.url, SECRET, "installation", payload, str(uuid.uuid4())
            )
            assert first.status_code == 200 and first.json()["message"] == "ok"
            server.stop()
            delivery = str(uuid.uuid4())
            down = post_webhook(client, app.url, SECRET, "installation", payload, delivery)
            assert down.status_code == 503
            assert httpx.get(app.url + "/healthz", timeout=10).status_code == 503
            server = EmbeddedRedis(redis_dir, persist=False).start()  # same socket path
            again = post_webhook(client, app.url, SECRET, "installation", payload, delivery)
            assert again.status_code == 200 and again.json()["message"] == "ok"
            dup = post_webhook(client, app.url, SECRET, "installation", payload, delivery)
            assert dup.json()["message"] == "duplicate delivery ignored"
        assert "Redis unavailable" in app.log() and "Traceback" not in app.log()
    finally:
        server.stop()


def _sql(database_url: str, statement: str) -> None:
    """Run one statement on the app's SQLite database from outside the app."""
    import sqlite3

    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        conn.execute(statement)


def _pg_admin(statement: str) -> None:
    """Run one statement on the PostgreSQL server as the tests' administrator."""
    import asyncio

    import asyncpg

    admin = os.environ.get("LIQUIDBOOK_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")

    async def run() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def database_away(database_url: str) -> Iterator[None]:
    """Our database out of reach for a moment.

    SQLite: the table the installation handler writes is gone (as when a file is swapped
    under the app), which SQLite reports as an OperationalError. PostgreSQL: the database
    refuses connections and the app's are cut, as in a restart or a failover.
    """
    if database_url.startswith("sqlite"):
        _sql(database_url, "ALTER TABLE installations RENAME TO installations_away")
        try:
            yield
        finally:
            _sql(database_url, "ALTER TABLE installations_away RENAME TO installations")
        return
    name = database_url.rsplit("/", 1)[1]
    _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        _pg_admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        yield
    finally:
        _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_a_database_failure_answers_503_and_redelivery_works(
    tmp_path: Path, npm_dir: Path, redis_url: str, database_url: str
) -> None:
    payload = example(npm_dir, "installation", "created")
    env = {"GITHUB_WEBHOOK_SECRET": SECRET, "REDIS_URL": redis_url, "DATABASE_URL": database_url}
    with (
        AppProcess(tmp_path / "app", env, ("serve", "--no-worker")) as app,
        httpx.Client(timeout=15) as client,
    ):
        delivery = str(uuid.uuid4())
        with database_away(database_url):
            down = post_webhook(client, app.url, SECRET, "installation", payload, delivery)
            assert down.status_code == 503, down.text
        # The delivery was refused, not lost: GitHub's redelivery is processed.
        again = post_webhook(client, app.url, SECRET, "installation", payload, delivery)
        assert again.status_code == 200 and again.json()["message"] == "ok"
    assert "database failed while handling installation" in app.log()
    assert "Traceback" not in app.log()


def test_the_worker_child_comes_back_after_redis_does(tmp_path: Path, npm_dir: Path) -> None:
    import time

    import redis

    payload = example(npm_dir, "issue_comment", "created")
    payload["comment"]["body"] = "/help"
    payload["installation"] = {"id": 1, "node_id": "x"}
    redis_dir = tmp_path / "redis"
    server = EmbeddedRedis(redis_dir, persist=False).start()
    env = {
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": server.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
    }

    def health(app: AppProcess) -> dict[str, str]:
        return httpx.get(app.url + "/healthz", timeout=10).json()

    def wait(condition: object, what: str) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if condition():  # type: ignore[operator]
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")

    try:
        with AppProcess(tmp_path / "app", env, ("serve",)) as app, httpx.Client(timeout=15) as c:
            wait(lambda: health(app).get("worker") == "ok", "the worker")
            server.stop()
            wait(lambda: "restarting" in str(health(app).get("worker")), "a restart")
            server = EmbeddedRedis(redis_dir, persist=False).start()  # same socket path
            wait(lambda: health(app).get("worker") == "ok", "the worker back")
            # And it runs jobs again: a command's acknowledgement is taken off the queue.
            assert post_webhook(c, app.url, SECRET, "issue_comment", payload).status_code == 200
            queue = redis.Redis.from_url(server.url)
            try:
                wait(lambda: queue.keys("arq:result:ack:*"), "the acknowledgement to run")
                assert queue.zcard("liquidbook:queue") == 0
            finally:
                queue.close()
        assert "worker process worker-1" in app.log() and "restarting in" in app.log()
    finally:
        server.stop()
