"""The intake's pipelined script connection (`bot.redis_lane`), against the real Redis and,
for what a healthy Redis never does (close mid-call, go silent), a loopback server that
speaks RESP and misbehaves on purpose."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import hiredis
import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from bot.redis_lane import ScriptLane
from bot.webhooks import outage_of

ECHO = "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_concurrent_calls_each_get_their_own_answer(redis: Redis) -> None:
    lane = ScriptLane(redis, ECHO)
    try:

        async def one(i: int) -> None:
            await asyncio.sleep(random.random() / 100)
            key = f"lane:{i % 7}"
            answer = await lane(keys=[key], args=[f"value-{i}".encode()])
            assert answer[:2] == [key.encode(), f"value-{i}".encode()]

        await asyncio.gather(*(one(i) for i in range(600)))
        # Every call ran once, on one connection.
        counts = [int(await redis.get(f"lane:{k}")) for k in range(7)]
        assert sum(counts) == 600
        assert len(await _lane_connections(redis)) == 1
    finally:
        await lane.aclose()


async def test_a_script_redis_has_not_cached_is_sent_once_in_full(redis: Redis) -> None:
    # A script no one has loaded: EVALSHA gets NOSCRIPT from the real server.
    script = f"-- {uuid.uuid4()}\nreturn ARGV[1]"
    lane = ScriptLane(redis, script)
    try:
        assert await lane(args=[b"first"]) == b"first"
        assert await lane(args=[b"second"]) == b"second"
        assert (await redis.script_exists(lane._sha)) == [True]
    finally:
        await lane.aclose()


@pytest.mark.parametrize(
    ("reply", "kind", "outage"),
    [
        (
            "READONLY You can't write against a read only replica.",
            redis_errors.ReadOnlyError,
            "queue",
        ),
        (
            "OOM command not allowed when used memory > 'maxmemory'.",
            redis_errors.ResponseError,
            "queue",
        ),
        ("ERR something about the call", redis_errors.ResponseError, None),
    ],
)
async def test_error_replies_are_redis_py_exceptions(
    redis: Redis, reply: str, kind: type[Exception], outage: str | None
) -> None:
    lane = ScriptLane(redis, f"return redis.error_reply({reply!r})")
    try:
        with pytest.raises(kind) as raised:
            await lane()
        assert outage_of(raised.value) == outage
        # The connection is still in step: the next call gets its own answer.
        with pytest.raises(kind):
            await lane()
    finally:
        await lane.aclose()


async def test_a_connection_redis_kills_is_replaced(redis: Redis) -> None:
    lane = ScriptLane(redis, ECHO)
    try:
        assert (await lane(keys=["lane:k"], args=[b"a"]))[2] == 1
        (killed,) = await _lane_connections(redis)
        await redis.client_kill_filter(_id=killed)
        for _ in range(100):  # the reader sees the close
            if lane._connection is not None and lane._connection.broken is not None:
                break
            await asyncio.sleep(0.01)
        assert (await lane(keys=["lane:k"], args=[b"b"]))[2] == 2
        assert (await _lane_connections(redis)) != [killed]
    finally:
        await lane.aclose()


# ------------------------------------------------------------ a Redis that misbehaves


class FakeRedis:
    """RESP over loopback. What redis-py sends as it connects (`CLIENT SETINFO`) gets +OK;
    for every other command `answer(command)` gives the reply bytes, or None for silence,
    or "close" to close the connection."""

    def __init__(
        self, answer: Callable[[list[bytes]], bytes | str | None], *, handshake: bool = True
    ) -> None:
        self.answer = answer
        self.handshake = handshake
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        parser = hiredis.Reader()
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    if command[0].upper() == b"CLIENT":
                        if self.handshake:
                            writer.write(b"+OK\r\n")
                        continue
                    self.commands.append(command)
                    reply = self.answer(command)
                    if reply == "close":
                        writer.close()
                        return
                    if isinstance(reply, bytes):
                        writer.write(reply)
        except ConnectionError:
            pass

    async def stop(self) -> None:
        self.server.close()


async def test_a_connection_closed_mid_call_fails_its_calls_and_the_next_reconnects() -> None:
    calls = 0

    def answer(command: list[bytes]) -> bytes | str:
        nonlocal calls
        calls += 1
        return "close" if calls == 1 else b":7\r\n"

    fake = FakeRedis(answer)
    lane = ScriptLane(Redis.from_url(await fake.start()), "return 7")
    try:
        with pytest.raises(redis_errors.ConnectionError) as raised:
            await lane()
        assert outage_of(raised.value) == "queue"
        assert await lane() == 7
        assert fake.connections == 2
    finally:
        await lane.aclose()
        await fake.stop()


async def test_a_silent_redis_times_out_and_is_left() -> None:
    silent = True

    def answer(command: list[bytes]) -> bytes | None:
        return None if silent else b"+OK\r\n"

    fake = FakeRedis(answer)
    lane = ScriptLane(Redis.from_url(await fake.start()), "return 1", reply_timeout=0.2)
    try:
        waiting = [asyncio.create_task(lane()) for _ in range(3)]
        for task in waiting:
            with pytest.raises(redis_errors.TimeoutError) as raised:
                await task
            assert outage_of(raised.value) == "queue"
        silent = False
        assert await lane() == b"OK"
        assert fake.connections == 2
    finally:
        await lane.aclose()
        await fake.stop()


async def test_calls_arriving_while_it_connects_share_one_attempt() -> None:
    fake = FakeRedis(lambda command: b":1\r\n", handshake=False)  # never finishes connecting
    lane = ScriptLane(Redis.from_url(await fake.start()), "return 1", reply_timeout=0.3)
    try:
        outcomes = await asyncio.gather(*(lane() for _ in range(8)), return_exceptions=True)
        assert all(isinstance(o, redis_errors.TimeoutError) for o in outcomes), outcomes
        assert "connecting" in str(outcomes[0])
        assert fake.connections == 1
        fake.handshake = True
        assert await lane() == 1  # the next call tries again
        assert fake.connections == 2
    finally:
        await lane.aclose()
        await fake.stop()


async def test_a_caller_that_gives_up_does_not_shift_the_answers() -> None:
    replies: list[bytes] = []  # held back until both calls are waiting

    def answer(command: list[bytes]) -> None:
        replies.append(b"$%d\r\n%s\r\n" % (len(command[-1]), command[-1]))
        return None

    fake = FakeRedis(answer)
    lane = ScriptLane(Redis.from_url(await fake.start()), "return ARGV[1]")
    try:
        first = asyncio.create_task(lane(args=[b"first"]))
        await asyncio.sleep(0.05)
        first.cancel()
        second = asyncio.create_task(lane(args=[b"second"]))
        await asyncio.sleep(0.05)
        assert len(replies) == 2
        # Both answers now, in order, on the lane's one connection.
        (writer,) = fake.writers
        writer.write(b"".join(replies))
        assert await second == b"second"
        assert first.cancelled()
    finally:
        await lane.aclose()
        await fake.stop()


async def test_closing_fails_waiting_calls_and_refuses_new_ones() -> None:
    fake = FakeRedis(lambda command: None)
    lane = ScriptLane(Redis.from_url(await fake.start()), "return 1")
    try:
        waiting = asyncio.create_task(lane())
        await asyncio.sleep(0.05)
        await lane.aclose()
        with pytest.raises(redis_errors.ConnectionError):
            await waiting
        with pytest.raises(redis_errors.ConnectionError):
            await lane()
    finally:
        await fake.stop()


async def _lane_connections(redis: Redis) -> list[Any]:
    """The ids of the connections whose last command was EVALSHA or EVAL (the lane's)."""
    clients = await redis.client_list()
    db = str(redis.connection_pool.connection_kwargs.get("db", 0))
    return [c["id"] for c in clients if c.get("cmd") in ("evalsha", "eval") and c["db"] == db]
