"""No GitHub credential is stored in clear: a failing job leaves nothing in Redis (results,
queues, caches, of any type, pickles decoded) or in the logs that holds its token or a JWT;
and a redelivered command still runs once."""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from githubkit.exception import RequestFailed, RequestTimeout
from githubkit.response import Response
from hypothesis import given
from hypothesis import strategies as st

from bot.job_results import JobFailed, deserialize, redact, serialize
from tests.world import REPO, World

JWT = re.compile(rb"eyJ[\w-]+\.[\w-]+\.[\w-]+")
TOKEN = re.compile(rb"gh[opsur]_[A-Za-z0-9]{30,}")


def _failure(status: int = 403) -> RequestFailed:
    """A githubkit error as a job would raise it: its request carries the token."""
    request = httpx.Request(
        "POST",
        "http://github.test/api/v3/repos/o/r/pulls",
        headers={"Authorization": "token ghs_" + "A" * 36},
    )
    return RequestFailed(Response(httpx.Response(status, request=request, json={}), object))


def test_a_failed_result_is_stored_as_one_plain_line() -> None:
    for error in (
        _failure(),
        RequestTimeout(httpx.ReadTimeout("timed out", request=_failure().request)),
    ):
        assert b"ghs_" in pickle.dumps(error)  # what arq would have kept
        stored = serialize({"t": 1, "f": "outline_book", "r": error, "s": False})
        assert b"ghs_" not in stored and b"Authorization" not in stored
        result = deserialize(stored)["r"]
        assert type(result) is JobFailed and type(error).__name__ in str(result)
    # Plain results stay as they are; objects become a line.
    assert deserialize(serialize({"r": "pr #3"}))["r"] == "pr #3"
    assert deserialize(serialize({"r": _failure().request}))["r"].startswith("Request: ")


@given(
    st.sampled_from(["ghs_", "ghp_", "gho_", "github_pat_"]),
    st.text(alphabet="abcXYZ0129_", min_size=20, max_size=60),
    st.text(alphabet=" .:;,()'\"é\n", max_size=40),
)
def test_credentials_in_messages_are_redacted(prefix: str, secret: str, around: str) -> None:
    token = prefix + secret
    for text in (f"{around}{token} {around}", f"Authorization: token {secret}{around}"):
        assert secret not in redact(text)


def _values(client: redis.Redis, key: bytes) -> list[bytes]:
    """Every value stored under `key`, whatever its type."""
    kind = client.type(key).decode()
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "hash":
        return [b for pair in client.hgetall(key).items() for b in pair]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return [repr(client.xrange(key)).encode()]
    return []


def _readable(value: bytes) -> bytes:
    """The value, and what it holds when it is a pickle."""
    try:
        return value + repr(pickle.loads(value)).encode()
    except Exception:
        return value


@pytest.fixture
def world(tmp_path: Path, redis_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        yield world
    finally:
        world.close()


def test_a_failing_job_leaves_no_credential_in_redis_and_runs_once(
    world: World, redis_url: str
) -> None:
    app = world.start_app()
    world.install()
    gh = world.github
    # GitHub refuses to open the PR: the job fails with githubkit's error, which arq keeps.
    gh.faults.add(method="POST", path=r"^/repos/octo-org/book/pulls$", status=403)
    issue = gh.open_issue(REPO, "alice", "Plan")
    delivery = gh.comment(REPO, issue, "alice", "/outline Tide pools, 3 chapters")
    [status] = world.wait_final(issue)
    assert "went wrong on our side" in status["body"], status["body"]
    client = redis.Redis.from_url(redis_url)
    try:
        world.wait_for(lambda: client.keys("arq:result:cmd:*"), 30, "the job's stored result")
        tokens = [t.encode() for t in gh.hub.state.tokens]
        assert tokens, "the job used an installation token"
        keys = client.keys("*")
        stored = b"\n".join(_readable(v) for key in keys for v in _values(client, key))
        assert any(k.startswith(b"arq:result:") for k in keys)
        assert b"JobFailed" in stored and b"RequestFailed" in stored  # the failure, as a line
        for text, where in ((stored, "Redis"), (app.log().encode(), "the log")):
            assert not any(t in text for t in tokens), where
            assert not TOKEN.search(text) and not JWT.search(text), where

        # The same delivery again (dedup by delivery id), and the same comment in a new
        # delivery (dedup by job id): nothing is queued, nothing runs twice.
        models = len(world.model.calls("/chat/completions"))
        pulls = len(gh.calls("POST", "/repos/octo-org/book/pulls"))
        assert gh.redeliver(delivery.id).status_code == 200
        again = gh.deliver("issue_comment", delivery.payload)
        assert again.status_code is not None and again.status_code < 300, again.response_body
        # (The Book Dashboard's refresh after the job waits in the queue, deferred: it is
        # not the command's.)
        queued = [j.decode() for j in client.zrange("liquidbook:queue", 0, -1)]
        assert client.zcard("liquidbook:ack") == 0
        assert all(j.startswith("dashboard:") for j in queued), queued
    finally:
        client.close()
    assert len(world.model.calls("/chat/completions")) == models
    assert len(gh.calls("POST", "/repos/octo-org/book/pulls")) == pulls
    assert len(world.status_comments(issue)) == 1
