"""Acknowledgement latency while a second client sends hostile deliveries.

Starts `liquidbook serve --no-worker` (as bench/webhooks.py does: real Redis when
127.0.0.1:6379 answers, else embedded; SQLite) and measures the answer time of signed
octokit `issue_comment` deliveries carrying `/generate chapter 1`, sent open loop at a fixed
rate: first alone (quiet), then while a second client posts signed hostile deliveries at
20/s, in turn:

- the comment `/generate chapter 2 ` + 26 digits + `x` (exponential backtracking in a
  grammar with overlapping repetition),
- a 64 KB comment of command-like lines and digits,
- bodies nested 1,000 and 20,000 levels deep, as JSON and form-encoded (`payload=`).

Prints p50/p99 of both phases and the ratio of the p99s (issue 7's bar: within 2x), and
what the hostile deliveries were answered. Loopback only; every request has a deadline
(`--request-timeout`) and each phase a bounded count, so a server that stalls shows as
timeouts instead of a bench that never ends.

    python bench/hostile_intake.py --rate 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import functools
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhooks import Connections, comment_payload, percentile, redis_url  # noqa: E402
from tests.servers import AppProcess, sign  # noqa: E402

SECRET = "bench-secret"
HOSTILE_RATE = 20.0


def request(event: str, body: bytes, content_type: str = "application/json") -> bytes:
    """One signed delivery as raw HTTP/1.1 bytes."""
    head = (
        "POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: {content_type}\r\nX-GitHub-Event: {event}\r\n"
        f"X-GitHub-Delivery: {uuid.uuid4()}\r\nX-Hub-Signature-256: {sign(SECRET, body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@functools.cache
def template() -> dict[str, Any]:
    return comment_payload()


def comment(comment_id: int, text: str) -> bytes:
    payload = copy.deepcopy(template())
    payload["comment"]["id"] = comment_id
    payload["comment"]["body"] = text
    return json.dumps(payload).encode()


def normal_requests(count: int, offset: int) -> list[tuple[str, bytes]]:
    return [
        ("normal", request("issue_comment", comment(offset + i, "/generate chapter 1")))
        for i in range(count)
    ]


def deep(depth: int) -> str:
    return '{"action": "created", "a": ' + "[" * depth + "]" * depth + "}"


def hostile_requests(count: int, offset: int) -> list[tuple[str, bytes]]:
    """`count` hostile deliveries, the kinds in turn, each with its own comment id."""
    big_lines = "\n".join(
        f"/generate chapter {n} " + "1" * 40 + " and " + "2-" * 30 for n in range(800)
    )
    kinds = [
        (
            "backtracking",
            lambda i: request("issue_comment", comment(i, "/generate chapter 2 " + "1" * 26 + "x")),
        ),
        ("64 KB comment", lambda i: request("issue_comment", comment(i, big_lines[: 64 * 1024]))),
        ("deep JSON 1,000", lambda i: request("issue_comment", deep(1_000).encode())),
        (
            "deep form 20,000",
            lambda i: request(
                "issue_comment",
                urlencode({"payload": deep(20_000)}).encode(),
                "application/x-www-form-urlencoded",
            ),
        ),
    ]
    return [(kinds[i % len(kinds)][0], kinds[i % len(kinds)][1](offset + i)) for i in range(count)]


async def fire(
    port: int, requests: list[tuple[str, bytes]], rate: float, deadline: float
) -> tuple[list[float], collections.Counter[str]]:
    """Send open loop at `rate`; latencies of answered requests and a count of outcomes
    (`kind status`, or `kind timeout`/`kind error`)."""
    latencies: list[float] = []
    outcomes: collections.Counter[str] = collections.Counter()
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    pool = Connections(port)

    async def one(kind: str, raw: bytes) -> None:
        start = time.perf_counter()
        try:
            status = await asyncio.wait_for(pool.send(raw), deadline)
        except TimeoutError:
            outcomes[f"{kind} timeout"] += 1
            latencies.append(deadline)
            return
        except (OSError, asyncio.IncompleteReadError, ValueError):
            outcomes[f"{kind} error"] += 1
            return
        latencies.append(time.perf_counter() - start)
        by_kind[kind].append(time.perf_counter() - start)
        outcomes[f"{kind} {status}"] += 1

    tasks = []
    began = time.perf_counter()
    for i, (kind, raw) in enumerate(requests):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(kind, raw)))
    await asyncio.gather(*tasks)
    pool.close()
    for kind, times in sorted(by_kind.items()):
        if kind != "normal":
            ms = [x * 1000 for x in times]
            print(f"  {kind}: answered in ms p50 {percentile(ms, 50):.2f}  max {max(ms):.2f}")
    return latencies, outcomes


async def phase(
    port: int, rate: float, seconds: float, deadline: float, offset: int, hostile: bool
) -> tuple[list[float], collections.Counter[str]]:
    normal = normal_requests(int(rate * seconds), offset)
    if not hostile:
        return await fire(port, normal, rate, deadline)
    bad = hostile_requests(int(HOSTILE_RATE * seconds), offset + 500_000)
    (latencies, outcomes), (_, bad_outcomes) = await asyncio.gather(
        fire(port, normal, rate, deadline), fire(port, bad, HOSTILE_RATE, deadline)
    )
    return latencies, outcomes + bad_outcomes


def summary(name: str, latencies: list[float]) -> tuple[float, float]:
    ms = [x * 1000 for x in latencies]
    p50, p99 = percentile(ms, 50), percentile(ms, 99)
    print(f"{name}: {len(ms)} answered; ack ms p50 {p50:.2f}  p99 {p99:.2f}  max {max(ms):.2f}")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=50, help="normal deliveries per second")
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase")
    parser.add_argument("--request-timeout", type=float, default=20)
    args = parser.parse_args()
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
        try:
            with AppProcess(tmp, env, ("serve", "--no-worker")) as app:
                t = args.request_timeout
                asyncio.run(phase(app.port, 50, 1, t, 1, hostile=False))  # warm up
                quiet, quiet_outcomes = asyncio.run(
                    phase(app.port, args.rate, args.seconds, t, 1_000_000, hostile=False)
                )
                loud, loud_outcomes = asyncio.run(
                    phase(app.port, args.rate, args.seconds, t, 2_000_000, hostile=True)
                )
        finally:
            client.flushdb()
            if embedded is not None:
                embedded.stop()  # type: ignore[attr-defined]
    print(
        f"normal deliveries at {args.rate:.0f}/s for {args.seconds:.0f} s per phase; "
        f"hostile at {HOSTILE_RATE:.0f}/s in the second"
    )
    _, quiet_p99 = summary("quiet  ", quiet)
    _, loud_p99 = summary("hostile", loud)
    print(f"p99 hostile / quiet: {loud_p99 / quiet_p99:.2f} (bar: 2.00)")
    print("answers, quiet:  ", dict(sorted(quiet_outcomes.items())))
    print("answers, hostile:", dict(sorted(loud_outcomes.items())))


if __name__ == "__main__":
    main()
