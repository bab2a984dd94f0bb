"""Acknowledgement latency of the webhook server under a steady stream of signed deliveries.

Starts `liquidbook serve` (real Redis when 127.0.0.1:6379 answers, else embedded; SQLite),
then fires signed `issue_comment` deliveries carrying a command at a fixed rate from this
process (open loop: a slow answer does not slow the sender), each one enqueueing a job.
Prints p50/p90/p99/max latency, achieved deliveries/s, jobs enqueued or run, and the RSS of
the server and its worker children.

Modes: `--mode no-worker` (the server alone, jobs only queued), `--mode serve` (the default
`liquidbook serve` with its worker child, no GitHub App: jobs are taken and skipped),
`--mode github` (default serve configured against the stand-in of GitHub, in a process of
its own: every delivery is a real `/help` comment whose acknowledgement reacts, reads the
author's role and answers on the stand-in).

    python bench/webhooks.py --mode github --rate 200 --seconds 10
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

from bench.github_world import Comments, GitHubWorld  # noqa: E402
from bot.queue import ACK_QUEUE_NAME, QUEUE_NAME  # noqa: E402
from tests.npm_fixtures import ensure_installed  # noqa: E402
from tests.servers import AppProcess, sign  # noqa: E402

SECRET = "bench-secret"


def comment_payload() -> dict:
    npm = ensure_installed()
    index = json.loads((npm / "@octokit/webhooks-examples/api.github.com/index.json").read_text())
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


def prebuilt(
    rate: float, seconds: float, offset: int, comments: Comments | None = None
) -> list[bytes]:
    """Every request, signed and serialised before the clock starts: the bench measures the
    server, not the sender's JSON encoding. With `comments`, the real comments on the
    stand-in of GitHub, from the `offset`-th on."""
    template = comments.template if comments else comment_payload()
    requests = []
    for i in range(int(rate * seconds)):
        payload = copy.deepcopy(template)
        if comments is not None:
            payload["comment"]["id"] = comments.ids[(offset + i) % len(comments.ids)]
        else:
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
        self.last_body = b""  # the body of the last answer received

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
        self.last_body = await reader.readexactly(length)
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


def process_rss(pid: int) -> tuple[float, float]:
    """RSS in MB of a process and of all its descendants (the worker children)."""
    import psutil

    process = psutil.Process(pid)
    children = sum(c.memory_info().rss for c in process.children(recursive=True))
    return process.memory_info().rss / 1e6, children / 1e6


def drained(client: object, seconds: float = 600) -> float:
    """Wait until both queues are empty; the seconds it took."""
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        if not any(client.zcard(n) for n in (QUEUE_NAME, ACK_QUEUE_NAME)):  # type: ignore[attr-defined]
            break
        time.sleep(0.2)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--mode", choices=("no-worker", "serve", "github"), default="github")
    args = parser.parse_args()
    import contextlib

    import redis

    count = int(args.rate * args.seconds) + 50
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        world = stack.enter_context(GitHubWorld(count, SECRET)) if args.mode == "github" else None
        url, embedded = redis_url(tmp)
        client = redis.Redis.from_url(url)
        client.flushdb()
        env = {
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "REDIS_URL": url,
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "LOG_LEVEL": "WARNING",
            **(world.env if world else {}),
        }
        comments = world.comments if world else None
        command = ("serve", "--no-worker") if args.mode == "no-worker" else ("serve",)
        with AppProcess(tmp, env, command) as app:
            asyncio.run(fire(app.port, prebuilt(50, 1, 0, comments), 50))  # warm up
            if args.mode != "no-worker":
                drained(client)
            requests = prebuilt(args.rate, args.seconds, 50, comments)
            latencies, errors, elapsed = asyncio.run(fire(app.port, requests, args.rate))
            queued = sum(client.zcard(name) for name in (QUEUE_NAME, ACK_QUEUE_NAME))
            drain = drained(client) if args.mode != "no-worker" else 0.0
            assert app.process is not None
            rss, children = process_rss(app.process.pid)
        client.flushdb()
        if embedded is not None:
            embedded.stop()  # type: ignore[attr-defined]
    ms = [x * 1000 for x in latencies]
    print(f"mode {args.mode}: deliveries {len(ms)} at {args.rate:.0f}/s for {args.seconds:.0f}s")
    print(f"achieved: {len(ms) / elapsed:.1f} deliveries/s; errors {errors}")
    print(
        f"ack latency ms: p50 {percentile(ms, 50):.2f}  p90 {percentile(ms, 90):.2f}  "
        f"p99 {percentile(ms, 99):.2f}  max {max(ms):.2f}  mean {statistics.mean(ms):.2f}"
    )
    if args.mode == "no-worker":
        print(f"jobs enqueued: {queued}")
    else:
        total = elapsed + drain
        print(
            f"jobs queued at the end of sending: {queued}; all run {drain:.1f}s later "
            f"({len(ms) / total:.1f} jobs/s overall)"
        )
    print(f"RSS MB: server {rss:.1f}, worker children {children:.1f}")


if __name__ == "__main__":
    main()
