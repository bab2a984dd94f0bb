"""`installation` and `installation_repositories` events keep the database current.

GitHub's own example payloads are posted, signed, to the running app; the rows are read back
from the database it wrote (SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db import Database, Installation, InstallationRepository
from tests.servers import AppProcess, post_webhook, sign

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


def signed_headers(event: str, body: bytes) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/json",
    }


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
    tmp_path: Path, npm_dir: Path, redis_url: str
) -> None:
    """Each delivery queues one job that queues the setup jobs (run here by the server's
    worker, which skips them: no app is configured); two deliveries naming the same
    repositories give one setup job per repository."""
    import redis.asyncio

    created = example(npm_dir, "installation", "created")
    inst = created["installation"]["id"]
    expected = sorted(f"arq:result:setup:{inst}:{r['id']}" for r in created["repositories"])
    env = {
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
    }
    client_r = redis.asyncio.Redis.from_url(redis_url)
    try:
        with AppProcess(tmp_path, env, ("serve",)) as app, httpx.Client(timeout=10) as client:
            for _ in range(2):  # a new delivery id each time
                assert (
                    post_webhook(client, app.url, SECRET, "installation", created).status_code
                    == 200
                )
            for _ in range(300):
                offers = await client_r.keys("arq:result:setup-offers:*")
                setups = sorted(k.decode() for k in await client_r.keys("arq:result:setup:*"))
                if len(offers) == 2 and setups == expected:
                    break
                await asyncio.sleep(0.1)
            assert (len(offers), setups) == (2, expected), app.log()[-3000:]
            assert await client_r.zcard("liquidbook:queue") == 0
    finally:
        await client_r.aclose()


def _same_installation(payloads: list[dict[str, Any]], inst_id: int) -> None:
    """Make every payload describe one installation the same way (bar its suspension)."""
    for payload in payloads:
        payload["installation"]["id"] = inst_id
        payload["installation"]["account"]["login"] = "Codertocat"
        payload["installation"]["repository_selection"] = "selected"


async def test_concurrent_deliveries_for_one_installation_all_succeed(
    app: AppProcess, database_url: str, npm_dir: Path
) -> None:
    """created, repositories added, suspend and new_permissions_accepted arrive together
    (GitHub does not order deliveries): every one is answered 2xx and the rows add up."""
    rounds = 15
    deliveries: list[tuple[str, dict[str, Any]]] = []
    for n in range(rounds):
        created = example(npm_dir, "installation", "created")
        added = example(npm_dir, "installation_repositories", "added")
        suspend = example(npm_dir, "installation", "suspend")
        accepted = example(npm_dir, "installation", "new_permissions_accepted")
        _same_installation([created, added, suspend, accepted], 7000 + n)
        deliveries += [
            ("installation", created),
            ("installation_repositories", added),
            ("installation", suspend),
            ("installation", accepted),
        ]

    async with httpx.AsyncClient(timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    app.url + "/api/github/webhooks",
                    content=json.dumps(payload).encode(),
                    headers=signed_headers(name, json.dumps(payload).encode()),
                )
                for name, payload in deliveries
            )
        )
    assert [a.status_code for a in answers if not 200 <= a.status_code < 300] == [], app.log()[
        -3000:
    ]
    assert "Traceback" not in app.log()

    installs, repos = await rows(database_url)
    assert sorted(i.id for i in installs) == [7000 + n for n in range(rounds)]
    for row in installs:
        assert row.account_login == "Codertocat" and row.repository_selection == "selected"
        # Only suspend and unsuspend change a known installation's suspension: a created or
        # new_permissions_accepted delivery processed after the suspend does not undo it.
        assert row.suspended_at == datetime(2021, 4, 29, 2, 32, 50, tzinfo=UTC)
    by_installation: dict[int, set[str]] = {}
    for repo in repos:
        by_installation.setdefault(repo.installation_id, set()).add(repo.full_name)
    assert by_installation == {
        7000 + n: {"Codertocat/Hello-World", "Codertocat/Space"} for n in range(rounds)
    }


async def test_new_permissions_accepted_writes_the_installation_and_its_repositories(
    app: AppProcess, database_url: str, npm_dir: Path
) -> None:
    accepted = example(npm_dir, "installation", "new_permissions_accepted")
    inst_id = accepted["installation"]["id"]
    with httpx.Client(timeout=10) as client:
        # An installation the database has not seen (it predates the app's database).
        assert post_webhook(client, app.url, SECRET, "installation", accepted).status_code == 200
        installs, repos = await rows(database_url)
        assert [(i.id, i.account_login, i.repository_selection) for i in installs] == [
            (inst_id, "Codertocat", "all")
        ]
        assert installs[0].account_id == accepted["installation"]["account"]["id"]
        assert installs[0].suspended_at is None
        assert {(r.installation_id, r.full_name) for r in repos} == {
            (inst_id, "Codertocat/Hello-World")
        }

        # A suspended installation accepting new permissions stays suspended; its account
        # and repository selection are brought up to date.
        suspend = example(npm_dir, "installation", "suspend")
        suspend["installation"]["id"] = inst_id
        assert post_webhook(client, app.url, SECRET, "installation", suspend).status_code == 200
        accepted["installation"]["account"]["login"] = "Codertocat-renamed"
        accepted["installation"]["repository_selection"] = "selected"
        assert post_webhook(client, app.url, SECRET, "installation", accepted).status_code == 200
    installs, repos = await rows(database_url)
    assert [(i.account_login, i.repository_selection) for i in installs] == [
        ("Codertocat-renamed", "selected")
    ]
    assert installs[0].suspended_at is not None and len(repos) == 1


async def test_values_the_columns_cannot_hold_never_give_5xx(
    app: AppProcess, database_url: str, npm_dir: Path
) -> None:
    """Text longer than its column is clipped; an id outside BIGINT is refused with a
    warning; a suspension time without a zone is read as UTC. Every answer is 2xx."""
    long_login = example(npm_dir, "installation", "created")
    long_login["installation"]["id"] = 501
    long_login["installation"]["account"]["login"] = "x" * 150 + "\x00"
    long_login["repositories"][0]["full_name"] = "o/" + "r" * 300
    huge_id = example(npm_dir, "installation", "created")
    huge_id["installation"]["id"] = 2**64
    huge_repo = example(npm_dir, "installation", "created")
    huge_repo["installation"]["id"] = 502
    huge_repo["repositories"].append({"id": 2**64, "full_name": "o/huge", "private": False})
    naive = example(npm_dir, "installation", "suspend")
    naive["installation"]["id"] = 503
    naive["installation"]["suspended_at"] = "2021-04-29T02:32:50"
    with httpx.Client(timeout=10) as client:
        for name, payload in [
            ("installation", long_login),
            ("installation", huge_id),
            ("installation", huge_repo),
            ("installation", naive),
        ]:
            answer = post_webhook(client, app.url, SECRET, name, payload)
            assert answer.status_code == 200, (answer.text, app.log()[-2000:])
    installs, repos = await rows(database_url)
    by_id = {i.id: i for i in installs}
    assert sorted(by_id) == [501, 502, 503]
    assert by_id[501].account_login == "x" * 100
    assert {r.full_name for r in repos if r.installation_id == 501} == {"o/" + "r" * 198}
    assert {r.full_name for r in repos if r.installation_id == 502} == {
        r["full_name"] for r in huge_repo["repositories"][:-1]
    }
    assert by_id[503].suspended_at == datetime(2021, 4, 29, 2, 32, 50, tzinfo=UTC)
    log = app.log()
    assert "outside the database's BIGINT range" in log and "Traceback" not in log


def _sql(database_url: str, *statements: str) -> None:
    """Run statements on the app's database from outside the app."""
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def test_a_delivery_the_database_refuses_is_2xx_and_can_be_redelivered(
    app: AppProcess, database_url: str, npm_dir: Path
) -> None:
    """A constraint refuses what a payload holds (an error of its content, not an outage):
    the answer is 2xx, and the delivery id is forgotten, so that a redelivery from GitHub's
    page once the cause is fixed is processed rather than ignored as a duplicate."""
    created = example(npm_dir, "installation", "created")
    created["installation"]["account"]["login"] = "refused-login"
    if database_url.startswith("sqlite"):
        _sql(
            database_url,
            "CREATE TRIGGER refuse BEFORE INSERT ON installations "
            "WHEN NEW.account_login = 'refused-login' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        undo = "DROP TRIGGER refuse"
    else:
        _sql(
            database_url,
            "ALTER TABLE installations ADD CONSTRAINT refuse "
            "CHECK (account_login <> 'refused-login') NOT VALID",
        )
        undo = "ALTER TABLE installations DROP CONSTRAINT refuse"
    delivery = str(uuid.uuid4())
    with httpx.Client(timeout=10) as client:
        refused = post_webhook(client, app.url, SECRET, "installation", created, delivery)
        assert refused.status_code == 200, refused.text
        _sql(database_url, undo)
        again = post_webhook(client, app.url, SECRET, "installation", created, delivery)
        assert again.status_code == 200 and again.json()["message"] == "ok", again.text
    installs, _ = asyncio.run(rows(database_url))
    assert [i.account_login for i in installs] == ["refused-login"]


def installation_repositories_added(npm_dir: Path, count: int, first_id: int) -> dict[str, Any]:
    added = example(npm_dir, "installation_repositories", "added")
    template = added["repositories_added"][0]
    added["repositories_added"] = [
        {**template, "id": first_id + n, "name": f"r{n}", "full_name": f"big-org/r{n}"}
        for n in range(count)
    ]
    return added


async def test_thousands_of_repositories_are_answered_about_as_fast_as_a_few(
    app: AppProcess, database_url: str, npm_dir: Path
) -> None:
    """3,000 repositories in one delivery cost the request little more than two: the rows
    are written by one statement executed for all of them, and the setup offers are one
    job. Compared with the same server's answer to the two-repository example (a ratio;
    before, 3,000 took 100 to 200 times as long, and the setup jobs were queued one by one
    inside the request)."""
    inst_id = example(npm_dir, "installation_repositories", "added")["installation"]["id"]

    def timed(client: httpx.Client, payload: dict[str, Any]) -> float:
        started = time.perf_counter()
        response = post_webhook(client, app.url, SECRET, "installation_repositories", payload)
        assert response.status_code == 200 and response.json()["message"] == "ok", response.text
        return time.perf_counter() - started

    with httpx.Client(timeout=60) as client:
        few = sorted(
            timed(client, installation_repositories_added(npm_dir, 2, 10 * n)) for n in range(7)
        )[3]
        many = min(
            timed(client, installation_repositories_added(npm_dir, 3000, 100_000 * (n + 1)))
            for n in range(3)
        )
    assert many < 40 * few, (many, few)

    _, repos = await rows(database_url)
    names = {(r.installation_id, r.repository_id) for r in repos}
    for n in range(3):
        first = 100_000 * (n + 1)
        assert {(inst_id, first + k) for k in range(3000)} <= names
    assert "Traceback" not in app.log()
