"""How much the provider layer adds to a model call, and how it behaves under load.

Runs an OpenAI stand-in in its own process (so it does not share this process's GIL), then:

1. overhead: the same chat completion, one at a time, through raw httpx and through
   `ModelClient.generate_text` (without Redis, then with Redis rate limiting); the layer's
   overhead is the difference of the medians;
2. load: 500 concurrent `generate_text` calls: wall time, calls/s, p50/p99 latency, the
   process's thread count (asyncio: no thread per call) and RSS.

    python bench/providers.py [--calls 300] [--concurrent 500] [--redis redis://127.0.0.1:6379/14]
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
import threading
import time
from pathlib import Path

import httpx
import psutil
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.providers import ModelClient, ProviderSettings, TextRequest  # noqa: E402

KEY = "sk-test-key"
MODEL = "openai:gpt-4.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_standin(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "standins.providers", "openai", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
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


async def layer_call(client: ModelClient) -> float:
    started = time.perf_counter()
    await client.generate_text(TextRequest(prompt="Say hi.", max_tokens=64), [MODEL])
    return time.perf_counter() - started


async def paired(base: str, client: ModelClient, n: int) -> tuple[list[float], list[float]]:
    """Raw and layer calls alternated, so load from elsewhere on the machine hits both."""
    raw, layer = [], []
    async with httpx.AsyncClient() as http:
        for _ in range(20):
            await raw_call(http, base)
            await layer_call(client)
        for _ in range(n):
            raw.append(await raw_call(http, base))
            layer.append(await layer_call(client))
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
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "peak_threads": peak_threads,
        "python_threads": threading.active_count(),
        "rss_mb": psutil.Process().memory_info().rss / 2**20,
    }


def ms(values: list[float]) -> str:
    values = sorted(values)
    return (
        f"median {1000 * statistics.median(values):.3f} ms, "
        f"p90 {1000 * values[int(len(values) * 0.9)]:.3f} ms"
    )


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
        print(f"  raw httpx                    {ms(raw)}")
        print(f"  ModelClient (no Redis, no DB) {ms(plain)}")
        overhead = statistics.median(plain) - statistics.median(raw)
        print(f"  layer overhead (median diff)  {1000 * overhead:.3f} ms per call (target < 2 ms)")
        if limited is not None:
            extra = statistics.median(limited[1]) - statistics.median(limited[0])
            print(f"  ModelClient + Redis limit     {ms(limited[1])}")
            print(f"  overhead with Redis limit     {1000 * extra:.3f} ms per call")
        else:
            print(f"  (Redis at {args.redis} not reachable: rate-limit overhead not measured)")
        async with ModelClient(settings(base, args.provider_concurrency)) as client:
            figures = await load(client, args.concurrent)
        print(
            f"concurrent calls: {figures['calls']:.0f} at once "
            f"(provider concurrency {args.provider_concurrency})"
        )
        print(
            f"  wall {figures['wall_s']:.2f} s, {figures['calls_per_s']:.0f} calls/s, "
            f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms"
        )
        print(
            f"  threads: peak {figures['peak_threads']:.0f} OS threads in this process, "
            f"{figures['python_threads']:.0f} Python threads; RSS {figures['rss_mb']:.0f} MB"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--provider-concurrency", type=int, default=16)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    asyncio.run(main(parser.parse_args()))
