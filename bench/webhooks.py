"""Acknowledgement latency of the webhook server under a steady stream of signed deliveries.

Starts `liquidbook serve --no-worker` (real Redis when 127.0.0.1:6379 answers, else embedded;
SQLite), then fires signed `issue_comment` deliveries carrying a command at a fixed rate from
this process (open loop: a slow answer does not slow the sender), each one enqueueing a job.
Prints p50/p90/p99/max latency, achieved deliveries/s, jobs enqueued, and the server's RSS.

    python bench/webhooks.py --rate 200 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.queue import ACK_QUEUE_NAME, QUEUE_NAME  # noqa: E402
from tests.servers import AppProcess, sign  # noqa: E402

SECRET = "bench-secret"


def comment_payload() -> dict:
    index = json.loads(
        (
            ROOT / "tests/npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
        ).read_text()
    )
    entry = next(e for e in index if e["name"] == "issue_comment")
    return next(x for x in entry["examples"] if x["action"] == "created" and "installation" in x)


def redis_url(tmp: Path) -> tuple[str, object | None]:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return "redis://127.0.0.1:6379/14", None
    except OSError:
        from bot.embedded_redis import EmbeddedRedis

        server = EmbeddedRedis(tmp / "redis", persist=False).start()
        return server.url, server


def prebuilt(rate: float, seconds: float, offset: int) -> list[bytes]:
    """Every request, signed and serialised before the clock starts: the bench measures the
    server, not the sender's JSON encoding."""
    template = comment_payload()
    requests = []
    for i in range(int(rate * seconds)):
        payload = copy.deepcopy(template)
        payload["comment"]["id"] = offset + i
        payload["comment"]["body"] = "/generate chapter 1"
        body = json.dumps(payload).encode()
        head = (
            "POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nX-GitHub-Event: issue_comment\r\n"
            f"X-GitHub-Delivery: {uuid.uuid4()}\r\nX-Hub-Signature-256: {sign(SECRET, body)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


class Connections:
    """A keep-alive HTTP/1.1 client on asyncio streams: a few microseconds per request, so
    the sender does not starve the server of the machine's two cores."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def send(self, raw: bytes) -> int:
        if self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, raw)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()  # the server closed an idle connection: retry on a new one
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return await self._exchange(reader, writer, raw)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
    ) -> int:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def fire(port: int, requests: list[bytes], rate: float) -> tuple[list[float], int, float]:
    """Send `requests` at `rate` per second, open loop; return latencies, errors, elapsed."""
    latencies: list[float] = []
    errors = 0
    pool = Connections(port)

    async def one(raw: bytes) -> None:
        nonlocal errors
        start = time.perf_counter()
        status = await pool.send(raw)
        latencies.append(time.perf_counter() - start)
        if status != 200:
            errors += 1

    tasks = []
    began = time.perf_counter()
    for i, raw in enumerate(requests):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(raw)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    pool.close()
    return latencies, errors, elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    import psutil
    import redis

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url, embedded = redis_url(tmp)
        client = redis.Redis.from_url(url)
        client.flushdb()
        env = {
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "REDIS_URL": url,
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "LOG_LEVEL": "WARNING",
        }
        with AppProcess(tmp, env, ("serve", "--no-worker")) as app:
            asyncio.run(fire(app.port, prebuilt(50, 1, 1), 50))  # warm up code paths
            client.flushdb()
            requests = prebuilt(args.rate, args.seconds, 1_000_000)
            latencies, errors, elapsed = asyncio.run(fire(app.port, requests, args.rate))
            rss = psutil.Process(app.process.pid).memory_info().rss if app.process else 0
            jobs = sum(client.zcard(name) for name in (QUEUE_NAME, ACK_QUEUE_NAME))
        client.flushdb()
        if embedded is not None:
            embedded.stop()  # type: ignore[attr-defined]
    ms = [x * 1000 for x in latencies]
    print(
        f"deliveries: {len(ms)} at target {args.rate:.0f}/s for {args.seconds:.0f}s; errors {errors}"
    )
    print(f"achieved: {len(ms) / elapsed:.1f} deliveries/s; jobs enqueued: {jobs}")
    print(
        f"ack latency ms: p50 {percentile(ms, 50):.2f}  p90 {percentile(ms, 90):.2f}  "
        f"p99 {percentile(ms, 99):.2f}  max {max(ms):.2f}  mean {statistics.mean(ms):.2f}"
    )
    print(f"server RSS: {rss / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
