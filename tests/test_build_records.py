"""The app's memory of builds and deploys, on the real Redis."""

from __future__ import annotations

import redis.asyncio

from bot.build_records import (
    MAX_CHECKS,
    Check,
    Deploy,
    checks_for,
    last_deploy,
    record_check,
    record_deploy,
)


async def test_deploys_and_checks_round_trip_per_repository(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await last_deploy(client, "o/r") is None
        deploy = Deploy(
            "a" * 40, "success", "https://o.github.io/r/", "https://x/run/1", "2026-12-06T00:00:00Z"
        )
        await record_deploy(client, "o/r", deploy)
        assert await last_deploy(client, "o/r") == deploy
        assert await last_deploy(client, "o/other") is None
        assert await client.ttl("liquidbook:deploy:o/r") > 0

        check = Check("b" * 40, "failure", 2, 3, "https://x/check/1", "2026-12-06T00:00:01Z")
        await record_check(client, "o/r", check)
        found = await checks_for(client, "o/r", ["b" * 40, "c" * 40, "b" * 40])
        assert found == {"b" * 40: check}
        assert await checks_for(client, "o/r", []) == {}
    finally:
        await client.aclose()


async def test_the_checks_of_a_busy_repository_keep_the_newest(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        for n in range(MAX_CHECKS + 5):
            await record_check(
                client, "o/r", Check(f"{n:040x}", "success", 0, 0, None, f"2026-12-06T{n:08d}")
            )
        assert await client.hlen("liquidbook:checks:o/r") == MAX_CHECKS
        assert await checks_for(client, "o/r", [f"{0:040x}"]) == {}
        newest = f"{MAX_CHECKS + 4:040x}"
        assert newest in await checks_for(client, "o/r", [newest])
    finally:
        await client.aclose()
