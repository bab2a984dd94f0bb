"""Requests-per-minute limits shared through Redis by separate processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.providers.ratelimit import RateLimiter
from standins.providers import OpenAIChatStandIn

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 4
WINDOW = 1.5
# Arrival at the stand-in lags admission by the time a busy machine takes to send a request;
# windows are compared with this much slack so a slow machine cannot fail the test.
SLACK = 0.4
CALLS_PER_PROCESS = 8

# Each process says when it is ready, then fires all its calls at once at the instant the
# test sends it, through the real client.
WORKER = """
import asyncio, sys, time
from redis.asyncio import Redis
from bot.providers import ModelClient, ProviderSettings, TextRequest

base, key, redis_url, calls, limit, window = sys.argv[1:7]

async def main():
    settings = ProviderSettings(
        _env_file=None, openai_base_url=base, openai_api_key=key, openai_rpm=int(limit),
        ratelimit_window_s=float(window), openai_concurrency=50,
    )
    redis = Redis.from_url(redis_url) if redis_url != "-" else None
    async with ModelClient(settings, redis) as client:
        print("ready", flush=True)
        start_at = float(sys.stdin.readline())
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await asyncio.gather(*(
            client.generate_text(TextRequest(prompt="hi", max_tokens=5), ["openai:gpt-4.1"])
            for _ in range(int(calls))
        ))
    if redis is not None:
        await redis.aclose()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def std() -> Iterator[OpenAIChatStandIn]:
    with OpenAIChatStandIn("openai") as server:
        yield server  # type: ignore[misc]


def run_two_processes(
    std: OpenAIChatStandIn, redis_url: str, calls: int = CALLS_PER_PROCESS
) -> list[float]:
    std.reset()
    args = [std.base_url, std.api_key, redis_url, str(calls), str(LIMIT), str(WINDOW)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    # Both are told the instant before either is waited for: waiting for the first to end
    # before telling the second would start it late on a busy machine.
    start_at = time.time() + 0.1
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{start_at}\n")
        proc.stdin.flush()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
    return sorted(r.at for r in std.requests)


def most_in_any_window(stamps: list[float], window: float) -> int:
    return max(sum(1 for t in stamps if start <= t < start + window) for start in stamps)


def test_two_processes_never_exceed_the_shared_limit(
    std: OpenAIChatStandIn, redis_url: str
) -> None:
    stamps = run_two_processes(std, redis_url)
    assert len(stamps) == 2 * CALLS_PER_PROCESS
    # Admission is stamped by Redis; arrival at the stand-in adds jitter, hence a window
    # shorter than the limiter's.
    assert most_in_any_window(stamps, WINDOW - SLACK) <= LIMIT
    # 16 calls at 4 a second take at least three windows after the first burst.
    assert stamps[-1] - stamps[0] >= 3 * WINDOW - SLACK


def test_without_redis_each_process_limits_only_itself(std: OpenAIChatStandIn) -> None:
    # The control: the same run without Redis goes over the limit, so the test above can fail.
    stamps = run_two_processes(std, "-", calls=LIMIT)
    assert most_in_any_window(stamps, WINDOW - SLACK) > LIMIT


async def test_limiter_waits_for_the_oldest_request_to_leave_the_window(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    limiter = RateLimiter(redis, window_s=0.5)
    started = time.monotonic()
    try:
        # Two fit in the window at once; the third is told how long until the oldest leaves.
        assert await limiter.try_acquire("openai", 2) == 0.0
        assert await limiter.try_acquire("openai", 2) == 0.0
        assert 0 < await limiter.try_acquire("openai", 2) <= 0.5
        waited = await limiter.acquire("openai", 2)
    finally:
        await redis.aclose()
    assert waited > 0 and time.monotonic() - started >= 0.49


async def test_a_limit_of_zero_means_none() -> None:
    limiter = RateLimiter(None)
    assert [await limiter.acquire("ollama", 0) for _ in range(100)] == [0.0] * 100


async def test_redis_outage_falls_back_to_a_local_limit() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RateLimiter(redis, window_s=60)
    try:
        assert await limiter.acquire("openai", 5) == pytest.approx(0, abs=0.5)
    finally:
        await redis.aclose()
