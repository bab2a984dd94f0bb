"""One Redis connection of its own for one Lua script that many requests call at once.

The webhook intake makes one Redis call per delivery that starts work: the delivery's claim
and its first job, as one script (`bot.queue.DeliveryQueue`). Through redis-py's client each
call checks a connection out of the pool, looks for stale bytes on it, packs the command in
Python, writes, reads its own answer and gives the connection back: about a fifth of the
intake's CPU per delivery (`bench/probot_side_by_side.py`, closed loop). Here concurrent
calls share one connection: each call packs its command in C (hiredis), writes it, and waits
on a future; one reader task parses what Redis sends back (hiredis) and hands the answers to
the futures in order, since Redis answers a connection's commands in the order it got them.
This is the pipelining ioredis does for BullMQ.

What redis-py does well stays its job: the connection is one of the pool's kind, made from
its settings and opened by redis-py (TCP, TLS, a unix socket, AUTH, SELECT), and errors are
redis-py's exception classes (`READONLY` is `ReadOnlyError`, a lost connection is
`ConnectionError`), so callers tell an outage from anything else as before.

Failures: a connection that closes or breaks fails every call waiting on it with
`ConnectionError`; one that stays open and silent for `reply_timeout` seconds (a peer gone
without a word, a stalled server) is dropped and its calls fail with `TimeoutError`. The next
call opens a new connection. A script Redis has not cached (`NOSCRIPT`, after a restart or
`SCRIPT FLUSH`) is sent once in full and cached again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError, InvalidResponse, NoScriptError
from redis.exceptions import TimeoutError as ReplyTimeout

log = logging.getLogger(__name__)

# Past this many unsent bytes (Redis not reading), a call waits for the buffer to drain.
_HIGH_WATER = 256 * 1024
_NO_REPLY = object()


class ScriptLane:
    """`await lane(keys=[...], args=[...])` runs the script as `Script.__call__` would."""

    def __init__(self, redis: Redis, script: str, *, reply_timeout: float = 10.0) -> None:
        self._pool = redis.connection_pool
        self._script = script.encode()
        self._sha = hashlib.sha1(self._script).hexdigest()  # Redis names a script by its SHA-1
        self.reply_timeout = reply_timeout
        self._connection: _Connection | None = None
        self._opening: asyncio.Task[_Connection] | None = None
        self._closed = False

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        connection = self._connection
        if connection is None or connection.broken is not None:
            connection = await self._open()
        reply = await connection.call(
            hiredis.pack_command(("EVALSHA", self._sha, len(keys), *keys, *args))
        )
        if type(reply) is NoScriptError:
            log.info("Redis did not have the intake script cached; sending it once in full")
            reply = await connection.call(
                hiredis.pack_command(("EVAL", self._script, len(keys), *keys, *args))
            )
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def _open(self) -> _Connection:
        """The connection, opened once for every call that arrives while it opens: they
        share the one attempt and its outcome (a Redis out of reach fails them all at
        once, rather than one attempt after another)."""
        if self._closed:
            raise ConnectionError("the intake's Redis connection is closed")
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_task(self._connect())
            self._opening.add_done_callback(self._opened)
        return await asyncio.shield(self._opening)

    def _opened(self, attempt: asyncio.Task[_Connection]) -> None:
        self._opening = None
        if not attempt.cancelled():
            attempt.exception()  # retrieved here too, in case every caller gave up

    async def _connect(self) -> _Connection:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        redis_connection = self._pool.make_connection()
        try:
            async with asyncio.timeout(self.reply_timeout):
                await redis_connection.connect()
        except TimeoutError:
            await redis_connection.disconnect(nowait=True)
            raise ReplyTimeout(
                f"Redis did not finish connecting within {self.reply_timeout:g} s"
            ) from None
        if self._closed:  # closed while connecting
            await redis_connection.disconnect(nowait=True)
            raise ConnectionError("the intake's Redis connection is closed")
        self._connection = _Connection(redis_connection, self.reply_timeout)
        return self._connection

    async def aclose(self) -> None:
        """Close the connection; calls waiting on it fail with `ConnectionError`."""
        self._closed = True
        if self._connection is not None:
            await self._connection.close()


class _Connection:
    """An open connection, its calls waiting for answers (oldest first) and its reader."""

    def __init__(self, connection: AbstractConnection, reply_timeout: float) -> None:
        self._redis_connection = connection
        # The streams redis-py opened (and authenticated, and pointed at the database);
        # from here on only this object reads and writes them.
        self._reader: asyncio.StreamReader = connection._reader  # type: ignore[assignment]
        self._writer: asyncio.StreamWriter = connection._writer  # type: ignore[assignment]
        self._parser = hiredis.Reader(
            protocolError=InvalidResponse,
            replyError=BaseParser.parse_error,
            notEnoughData=_NO_REPLY,
        )
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._answered = 0  # answers read so far: the watchdog sees whether they move on
        self.broken: Exception | None = None
        loop = asyncio.get_running_loop()
        self._reading = loop.create_task(self._read(), name="redis-lane-reader")
        self._watching = loop.create_task(self._watch(reply_timeout), name="redis-lane-watch")

    async def call(self, packed: bytes) -> Any:
        if self.broken is not None:
            raise self.broken
        if self._writer.transport.is_closing():  # uvloop closes it before our reader hears
            self._fail(ConnectionError("the intake's Redis connection was lost"))
            raise self.broken
        future = asyncio.get_running_loop().create_future()
        self._writer.write(packed)
        self._waiting.append(future)
        try:
            if self._writer.transport.get_write_buffer_size() > _HIGH_WATER:
                try:
                    await self._writer.drain()
                except OSError as exc:  # the connection went while Redis was not reading
                    raise ConnectionError(f"the intake's Redis connection broke: {exc!r}") from exc
            return await future
        except BaseException:
            future.cancel()  # its answer, if one comes, is skipped (its place stays in line)
            raise

    async def _read(self) -> None:
        parser, waiting = self._parser, self._waiting
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    raise ConnectionError("Redis closed the intake's connection")
                parser.feed(data)
                while (reply := parser.gets()) is not _NO_REPLY:
                    self._answered += 1
                    future = waiting.popleft()
                    if not future.done():  # a caller that gave up leaves its place in line
                        future.set_result(reply)
        except asyncio.CancelledError:
            self._fail(ConnectionError("the intake's Redis connection is closed"))
            raise
        except IndexError:  # an answer nobody asked for: the stream is out of step
            self._fail(ConnectionError("Redis answered more than it was asked"))
        except ConnectionError as exc:
            self._fail(exc)
        except Exception as exc:  # a reset, a protocol error: the connection is unusable
            self._fail(ConnectionError(f"the intake's Redis connection broke: {exc!r}"))

    async def _watch(self, seconds: float) -> None:
        """Drop a connection whose oldest call has had no answer for `seconds` seconds."""
        step = max(seconds / 4, 0.01)
        seen, since = self._answered, 0.0
        while self.broken is None:
            await asyncio.sleep(step)
            if not self._waiting or self._answered != seen:
                seen, since = self._answered, 0.0
                continue
            since += step
            if since >= seconds:
                log.warning("Redis did not answer the intake for %.3g s; reconnecting", seconds)
                self._fail(ReplyTimeout(f"Redis did not answer within {seconds:g} s"))
                self._reading.cancel()

    def _fail(self, exc: Exception) -> None:
        if self.broken is None:
            self.broken = exc
            self._writer.transport.abort()
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(self.broken)

    async def close(self) -> None:
        self._fail(ConnectionError("the intake's Redis connection is closed"))
        for task in (self._reading, self._watching):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis_connection.disconnect(nowait=True)
