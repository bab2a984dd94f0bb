"""How much the provider layer adds to a model call, and how it behaves under load.

Runs an OpenAI stand-in in its own process (so it does not share this process's GIL), then:

1. overhead: the same chat completion, one at a time, through raw httpx and through
   `ModelClient.generate_text`, the two alternated; the layer's overhead is the difference of
   the medians. Measured bare (no Redis, no database), with the Redis rate limit, and on the
   product's whole path: Redis (rate limit, budget reservation, cached month's spend) + a
   database (a usage row per call) + a monthly budget for an installation — on SQLite and on
   PostgreSQL (when one answers on 127.0.0.1:5432; a throwaway database is created);
2. load: N calls started at once with the provider's concurrency limit (calls beyond it
   wait on a semaphore, not a thread), and a run where 256 calls are really in flight at the
   stand-in at once (each answer takes 0.5 s; the stand-in counts what it serves at once).
   Reported: wall time, calls/s, p50/p99, the most calls in flight at the stand-in, the
   process's OS threads and RSS.

    python bench/providers.py [--calls 300] [--concurrent 500] [--in-flight 256]
                              [--redis redis://127.0.0.1:6379/14] [--postgres URL|none]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psutil
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.db import Database  # noqa: E402
from bot.providers import ModelClient, ProviderSettings, TextRequest  # noqa: E402
from bot.usage import UsageContext  # noqa: E402

KEY = "sk-test-key"
MODEL = "openai:gpt-4.1"
CONTEXT = UsageContext(installation_id=990001, repository="bench/book", command="bench")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_standin(port: int, delay: float = 0.0) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "standins.providers", "openai", str(port)]
    if delay:
        command.append(str(delay))
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the stand-in did not start")


def settings(base: str, concurrency: int = 16) -> ProviderSettings:
    return ProviderSettings(
        _env_file=None,  # type: ignore[call-arg]
        openai_base_url=base,
        openai_api_key=KEY,
        openai_rpm=1_000_000,
        # Calls beyond the provider's concurrency wait their turn on a semaphore (a coroutine,
        # not a thread); the stand-in is a single uvicorn worker.
        openai_concurrency=concurrency,
        http_max_connections=max(concurrency, 1),
    )


BODY = {
    "model": "gpt-4.1",
    "messages": [{"role": "user", "content": "Say hi."}],
    "max_completion_tokens": 64,
}


async def raw_call(http: httpx.AsyncClient, base: str) -> float:
    """The same request and parsing a minimal client does, without the layer."""
    started = time.perf_counter()
    response = await http.post(
        f"{base}/chat/completions",
        content=json.dumps(BODY),
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
    )
    response.raise_for_status()
    json.loads(response.content)["choices"][0]["message"]["content"]
    return time.perf_counter() - started


async def layer_call(client: ModelClient, budget: Decimal | None) -> float:
    started = time.perf_counter()
    if budget is None:
        await client.generate_text(TextRequest(prompt="Say hi.", max_tokens=64), [MODEL])
    else:
        await client.generate_text(
            TextRequest(prompt="Say hi.", max_tokens=64),
            [MODEL],
            context=CONTEXT,
            monthly_budget_usd=budget,
        )
    return time.perf_counter() - started


async def paired(
    base: str, client: ModelClient, n: int, budget: Decimal | None = None
) -> tuple[list[float], list[float]]:
    """Raw and layer calls alternated, so load from elsewhere on the machine hits both."""
    raw, layer = [], []
    async with httpx.AsyncClient() as http:
        for _ in range(20):
            await raw_call(http, base)
            await layer_call(client, budget)
        for _ in range(n):
            raw.append(await raw_call(http, base))
            layer.append(await layer_call(client, budget))
    return raw, layer


async def load(client: ModelClient, n: int) -> dict[str, float]:
    request = TextRequest(prompt="Say hi.", max_tokens=64)
    latencies: list[float] = []
    peak_threads = 0

    async def one() -> None:
        started = time.perf_counter()
        await client.generate_text(request, [MODEL])
        latencies.append(time.perf_counter() - started)

    async def watch() -> None:
        nonlocal peak_threads
        while True:
            peak_threads = max(peak_threads, psutil.Process().num_threads())
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    wall = time.perf_counter() - started
    watcher.cancel()
    latencies.sort()
    return {
        "calls": n,
        "wall_s": wall,
        "calls_per_s": n / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "peak_threads": peak_threads,
        "python_threads": threading.active_count(),
        "rss_mb": psutil.Process().memory_info().rss / 2**20,
    }


async def peak_in_flight(base: str) -> int:
    async with httpx.AsyncClient() as http:
        response = await http.get(base.removesuffix("/v1") + "/_standin/stats")
        return int(response.json()["peak_in_flight"])


def ms(values: list[float]) -> str:
    values = sorted(values)
    return (
        f"median {1000 * statistics.median(values):.3f} ms, "
        f"p90 {1000 * values[int(len(values) * 0.9)]:.3f} ms"
    )


def overhead(pair: tuple[list[float], list[float]]) -> float:
    return 1000 * (statistics.median(pair[1]) - statistics.median(pair[0]))


async def postgres_database(url: str) -> tuple[str, str] | None:
    """A throwaway database on the PostgreSQL at `url` (admin URL, database `test`)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (OSError, asyncpg.PostgresError):
        return None
    name = f"liquidbook_bench_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + f"/{name}", name


async def drop_postgres_database(url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def whole_path(base: str, redis_url: str, database_url: str, n: int) -> tuple[Any, Any]:
    """Raw vs the product's path: Redis + database + a budget for an installation."""
    db = Database(database_url)
    await db.migrate()
    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()
        async with ModelClient(settings(base), redis, db) as client:
            return await paired(base, client, n, budget=Decimal("1000000"))
    finally:
        await redis.flushdb()
        await redis.aclose()
        await db.close()


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    proc = start_standin(port)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        async with ModelClient(settings(base)) as client:
            raw, plain = await paired(base, client, args.calls)
        redis = Redis.from_url(args.redis)
        limited: tuple[list[float], list[float]] | None = None
        try:
            await redis.ping()
            async with ModelClient(settings(base), redis) as client:
                limited = await paired(base, client, args.calls)
            await redis.delete("liquidbook:ratelimit:{openai}", "liquidbook:ratelimit:{openai}:seq")
        except OSError:
            pass
        finally:
            await redis.aclose()
        print(f"sequential calls: {args.calls} each, stand-in answering at once")
        print(f"  raw httpx                          {ms(raw)}")
        print(f"  ModelClient (no Redis, no DB)      {ms(plain)}")
        print(f"  layer overhead (median diff)       {overhead((raw, plain)):.3f} ms per call")
        if limited is None:
            print(f"  (Redis at {args.redis} not reachable: the paths with Redis are not measured)")
        else:
            print(f"  ModelClient + Redis rate limit     {ms(limited[1])}")
            print(f"  overhead with Redis rate limit     {overhead(limited):.3f} ms per call")
            with tempfile.TemporaryDirectory() as tmp:
                sqlite = await whole_path(base, args.redis, f"sqlite:///{tmp}/bench.db", args.calls)
            print(f"  whole path, SQLite                 {ms(sqlite[1])}")
            print(
                f"  overhead, Redis + SQLite + budget  {overhead(sqlite):.3f} ms per call "
                "(target < 2 ms)"
            )
            pg = None if args.postgres == "none" else await postgres_database(args.postgres)
            if pg is None:
                print(f"  (PostgreSQL at {args.postgres} not reachable: not measured)")
            else:
                try:
                    postgres = await whole_path(base, args.redis, pg[0], args.calls)
                finally:
                    await drop_postgres_database(args.postgres, pg[1])
                print(f"  whole path, PostgreSQL             {ms(postgres[1])}")
                print(
                    f"  overhead, Redis + PostgreSQL + budget {overhead(postgres):.3f} ms per "
                    "call (target < 2 ms)"
                )
        async with ModelClient(settings(base, args.provider_concurrency)) as client:
            figures = await load(client, args.concurrent)
        queued = await peak_in_flight(base)
        print(
            f"{figures['calls']:.0f} calls started at once, provider concurrency "
            f"{args.provider_concurrency}: at most {queued} in flight at the stand-in "
            "(the rest wait on a semaphore)"
        )
        report(figures)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    # Really many in flight: each answer takes 0.5 s, so calls overlap.
    port = free_port()
    proc = start_standin(port, delay=0.5)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        async with ModelClient(settings(base, args.in_flight)) as client:
            figures = await load(client, args.in_flight)
        peak = await peak_in_flight(base)
        print(
            f"{figures['calls']:.0f} calls at once, each answer taking 0.5 s: {peak} in flight "
            "at the stand-in at once"
        )
        report(figures)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def report(figures: dict[str, float]) -> None:
    print(
        f"  wall {figures['wall_s']:.2f} s, {figures['calls_per_s']:.0f} calls/s, "
        f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms"
    )
    print(
        f"  threads: peak {figures['peak_threads']:.0f} OS threads in this process, "
        f"{figures['python_threads']:.0f} Python threads; RSS {figures['rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--provider-concurrency", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "LIQUIDBOOK_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="an admin URL of a PostgreSQL to create a throwaway database on, or 'none'",
    )
    asyncio.run(main(parser.parse_args()))
