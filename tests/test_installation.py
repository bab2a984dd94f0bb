"""`installation` and `installation_repositories` events keep the database current.

GitHub's own example payloads are posted, signed, to the running app; the rows are read back
from the database it wrote (SQLite and PostgreSQL).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db import Database, Installation, InstallationRepository
from tests.servers import AppProcess, post_webhook

SECRET = "installation-secret"


def example(npm_dir: Path, event: str, action: str) -> dict[str, Any]:
    index = json.loads(
        (npm_dir / "@octokit/webhooks-examples/api.github.com/index.json").read_text()
    )
    for entry in index:
        if entry["name"] == event:
            for payload in entry["examples"]:
                if payload.get("action") == action:
                    return copy.deepcopy(payload)
    raise LookupError(event + "." + action)


@pytest.fixture
def app(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[AppProcess]:
    env = {"GITHUB_WEBHOOK_SECRET": SECRET, "REDIS_URL": redis_url, "DATABASE_URL": database_url}
    with AppProcess(tmp_path, env, ("serve", "--no-worker")) as process:
        yield process


async def rows(database_url: str) -> tuple[list[Installation], list[InstallationRepository]]:
    db = Database(database_url)
    try:
        async with db.session() as session:
            installs = list((await session.execute(select(Installation))).scalars())
            repos = list((await session.execute(select(InstallationRepository))).scalars())
        return installs, repos
    finally:
        await db.close()


async def test_installation_lifecycle(
    app: AppProcess, database_url: str, npm_dir: Path, redis_url: str
) -> None:
    created = example(npm_dir, "installation", "created")
    inst_id = created["installation"]["id"]
    with httpx.Client(timeout=10) as client:
        assert post_webhook(client, app.url, SECRET, "installation", created).status_code == 200
        installs, repos = await rows(database_url)
        assert [i.id for i in installs] == [inst_id]
        assert installs[0].account_login == created["installation"]["account"]["login"]
        assert {r.full_name for r in repos} == {r["full_name"] for r in created["repositories"]}

        added = example(npm_dir, "installation_repositories", "added")
        added["installation"]["id"] = inst_id
        assert (
            post_webhook(client, app.url, SECRET, "installation_repositories", added).status_code
            == 200
        )
        removed = example(npm_dir, "installation_repositories", "removed")
        removed["installation"]["id"] = inst_id
        removed["repositories_removed"] = [created["repositories"][0]]
        assert (
            post_webhook(client, app.url, SECRET, "installation_repositories", removed).status_code
            == 200
        )
        _, repos = await rows(database_url)
        expected = {
            r["full_name"] for r in created["repositories"][1:] + added["repositories_added"]
        }
        assert {r.full_name for r in repos} == expected

        suspend = example(npm_dir, "installation", "suspend")
        suspend["installation"]["id"] = inst_id
        assert post_webhook(client, app.url, SECRET, "installation", suspend).status_code == 200
        installs, _ = await rows(database_url)
        assert installs[0].suspended_at is not None
        unsuspend = example(npm_dir, "installation", "unsuspend")
        unsuspend["installation"]["id"] = inst_id
        assert post_webhook(client, app.url, SECRET, "installation", unsuspend).status_code == 200
        installs, _ = await rows(database_url)
        assert installs[0].suspended_at is None

        deleted = example(npm_dir, "installation", "deleted")
        deleted["installation"]["id"] = inst_id
        assert post_webhook(client, app.url, SECRET, "installation", deleted).status_code == 200
        installs, repos = await rows(database_url)
        assert installs == [] and repos == []


async def test_setup_job_is_queued_once_per_repository(
    app: AppProcess, npm_dir: Path, redis_url: str
) -> None:
    import redis.asyncio

    created = example(npm_dir, "installation", "created")
    with httpx.Client(timeout=10) as client:
        post_webhook(client, app.url, SECRET, "installation", created)
        post_webhook(client, app.url, SECRET, "installation", created)  # a new delivery id
    client_r = redis.asyncio.Redis.from_url(redis_url)
    try:
        queued = await client_r.zrange("liquidbook:queue", 0, -1)
    finally:
        await client_r.aclose()
    ids = sorted(q.decode() for q in queued)
    inst = created["installation"]["id"]
    assert ids == sorted(f"setup:{inst}:{r['id']}" for r in created["repositories"])
