"""What the app knows of a repository's builds and deploys, kept in Redis (not the database).

The database holds only installations and usage; the build and deploy state of a book is
GitHub's, and this is the app's memory of what GitHub said: the last deploy of the bundled
workflow (`workflow_run` completed) and the check run reported on each commit. The dashboard
and `/publish` read it; the check jobs and the deploy handler write it.

Keys (each repository its own, expiring so a removed installation leaves nothing for long):
- `liquidbook:deploy:{owner/repo}`: JSON of the last deploy.
- `liquidbook:checks:{owner/repo}`: a hash, head sha → JSON of the check reported on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

TTL_SECONDS = 90 * 24 * 3600
# A hash of checks keeps the newest ones only: a busy repository does not grow it forever.
MAX_CHECKS = 500


@dataclass(frozen=True)
class Deploy:
    """The last run of the bundled workflow on the default branch."""

    sha: str
    conclusion: str  # success, failure, cancelled, … (GitHub's workflow run conclusion)
    url: str | None  # the live Pages URL when known
    run_url: str | None  # the workflow run's html_url
    at: str  # ISO 8601 time the run completed (GitHub's updated_at)
    failing_step: str | None = None  # for a failed deploy: the failing job/step, when known


@dataclass(frozen=True)
class Check:
    """The "Liquid Book" check run reported on one commit."""

    sha: str
    conclusion: str  # success, failure, neutral (or "in_progress" while it runs)
    errors: int
    warnings: int
    html_url: str | None
    at: str


def _deploy_key(full_name: str) -> str:
    return f"liquidbook:deploy:{full_name}"


def _checks_key(full_name: str) -> str:
    return f"liquidbook:checks:{full_name}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def record_deploy(redis: Any, full_name: str, deploy: Deploy) -> None:
    await redis.set(_deploy_key(full_name), json.dumps(asdict(deploy)), ex=TTL_SECONDS)


async def last_deploy(redis: Any, full_name: str) -> Deploy | None:
    raw = await redis.get(_deploy_key(full_name))
    if raw is None:
        return None
    try:
        return Deploy(**json.loads(_text(raw)))
    except (ValueError, TypeError):
        return None


async def record_check(redis: Any, full_name: str, check: Check) -> None:
    key = _checks_key(full_name)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, check.sha, json.dumps(asdict(check)))
        pipe.expire(key, TTL_SECONDS)
        pipe.hlen(key)
        *_, size = await pipe.execute()
    if size > MAX_CHECKS:
        await _trim(redis, key)


async def _trim(redis: Any, key: str) -> None:
    entries = await redis.hgetall(key)
    dated = []
    for sha, raw in entries.items():
        try:
            dated.append((json.loads(_text(raw)).get("at", ""), _text(sha)))
        except ValueError:
            dated.append(("", _text(sha)))
    dated.sort()
    stale = [sha for _, sha in dated[: len(dated) - MAX_CHECKS]]
    if stale:
        await redis.hdel(key, *stale)


async def checks_for(redis: Any, full_name: str, shas: Iterable[str]) -> dict[str, Check]:
    """The checks recorded on these commits (one round trip), missing ones left out."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    values = await redis.hmget(_checks_key(full_name), wanted)
    found: dict[str, Check] = {}
    for sha, raw in zip(wanted, values, strict=True):
        if raw is None:
            continue
        try:
            found[sha] = Check(**json.loads(_text(raw)))
        except (ValueError, TypeError):
            continue
    return found
