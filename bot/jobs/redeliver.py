"""Recover webhook deliveries GitHub could not make: it never redelivers one by itself.

A command posted while the server was down (a deploy, a crash, a proxy answering 502) is a
failed delivery in GitHub's log and nothing more. Every `LIQUIDBOOK_REDELIVERY_MINUTES`, and
when a job worker starts, this job reads the app's recent deliveries (`GET
/app/hook/deliveries`, newest first, as the app), groups the attempts by event (`guid`), and
asks GitHub to send again (`POST /app/hook/deliveries/{id}/attempts`) each event that
- has no successful attempt (`status` "OK" or a 2xx code: GitHub's own recovery script), and
- our delivery dedup store has never recorded (the app may have done the work and still lost
  the answer, to a proxy's timeout say: that event must not run twice), and
- was first sent within GitHub's redelivery window (three days), and within our dedup
  memory (`WEBHOOK_DEDUP_SECONDS`), so that a processed event is never mistaken for a new one,
- was not already redelivered `MAX_REDELIVERIES` times (a server that refuses one for good is
  not asked about it every half hour for three days).

One run at a time across every worker (a Redis lock), at most `LIQUIDBOOK_REDELIVERY_MAX`
redeliveries a run, oldest first (commands are answered in the order people wrote them); an
event asked for is remembered for half an interval, so a run started by another worker while
GitHub is still sending does not ask again, and the next scheduled run does if that attempt
failed too.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from arq import cron
from arq.cron import CronJob
from githubkit.exception import GitHubException

from bot.metrics import REDELIVERIES
from bot.webhooks import DEDUP_PREFIX

if TYPE_CHECKING:
    from githubkit import GitHub
    from redis.asyncio import Redis

    from bot.services import Services
    from bot.settings import Settings

log = logging.getLogger(__name__)

# GitHub redelivers events of the last three days; older ones are refused.
GITHUB_REDELIVERY_WINDOW = timedelta(days=3)
# GitHub's clock and ours may differ, and an event is first sent a moment before we would
# record it: the edge of the window is kept this far from both limits.
CLOCK_MARGIN = timedelta(minutes=10)
# Attempts a page of GitHub's list holds at most, and pages read per run (a busy app's
# three days may be longer than this; the newest are read, the oldest wait for a calmer day).
PAGE_SIZE = 100
MAX_PAGES = 50
# Redeliveries of one event GitHub has already made, after which it is left alone.
MAX_REDELIVERIES = 5
LOCK_KEY = "liquidbook:redelivery:lock"
# Longer than a run may last (`RUN_SECONDS`), so the lock outlives its holder only if it died.
LOCK_SECONDS = 600
RUN_SECONDS = 540
ASKED_PREFIX = "liquidbook:redelivery:asked:"
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


@dataclass(frozen=True)
class Attempt:
    """One attempt of GitHub to deliver an event, as `GET /app/hook/deliveries` lists it."""

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool
    status: str
    status_code: int
    event: str
    action: str | None

    @property
    def succeeded(self) -> bool:
        """GitHub's recovery script counts `status: "OK"`; a 2xx code says the same."""
        return self.status == "OK" or 200 <= self.status_code < 300


@dataclass(frozen=True)
class Missed:
    """An event none of whose attempts succeeded."""

    guid: str
    attempt_id: int  # its newest attempt: the one to ask GitHub to send again
    first_delivered_at: datetime
    event: str
    action: str | None
    redeliveries: int  # how many times GitHub already sent it again

    @property
    def name(self) -> str:
        return f"{self.event}.{self.action}" if self.action else self.event


def parse_attempt(item: Any) -> Attempt | None:
    """An item of GitHub's list, or None for one this code cannot read (skipped, not fatal)."""
    if not isinstance(item, dict):
        return None
    try:
        when = datetime.fromisoformat(str(item["delivered_at"]).replace("Z", "+00:00"))
        attempt = Attempt(
            id=int(item["id"]),
            guid=str(item["guid"]),
            delivered_at=when if when.tzinfo else when.replace(tzinfo=UTC),
            redelivery=bool(item.get("redelivery")),
            status=str(item.get("status") or ""),
            status_code=int(item.get("status_code") or 0),
            event=str(item.get("event") or ""),
            action=str(item["action"]) if item.get("action") is not None else None,
        )
    except (KeyError, TypeError, ValueError):
        return None
    return attempt if attempt.guid else None


def missed_deliveries(
    attempts: Iterable[Attempt],
    *,
    now: datetime,
    window: timedelta,
    max_redeliveries: int = MAX_REDELIVERIES,
) -> tuple[list[Missed], int]:
    """The events to consider redelivering, oldest first, and how many were given up on.

    An event counts once whatever its number of attempts; it is missed when none of them
    succeeded, its first attempt is no older than `window`, and GitHub has sent it again
    fewer than `max_redeliveries` times (those beyond are the second number).
    """
    by_guid: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_guid[attempt.guid].append(attempt)
    missed, given_up = [], 0
    oldest = now - window
    for guid, group in by_guid.items():
        if any(a.succeeded for a in group):
            continue
        first = min(group, key=lambda a: (a.delivered_at, a.id))
        if first.delivered_at < oldest:
            continue
        redeliveries = sum(1 for a in group if a.redelivery)
        if redeliveries >= max_redeliveries:
            given_up += 1
            continue
        newest = max(group, key=lambda a: (a.delivered_at, a.id))
        missed.append(
            Missed(guid, newest.id, first.delivered_at, first.event, first.action, redeliveries)
        )
    missed.sort(key=lambda m: (m.first_delivered_at, m.attempt_id))
    return missed, given_up


def choose(missed: list[Missed], skip: Container[str], limit: int) -> list[Missed]:
    """The first `limit` of `missed` (oldest first) whose guid is not in `skip`."""
    return [m for m in missed if m.guid not in skip][: max(0, limit)]


def recovery_window(settings: Settings) -> timedelta:
    """How far back events are recovered: GitHub's window, never past our dedup memory (an
    event processed longer ago than we remember would look new), less the clock margin."""
    remembered = timedelta(seconds=settings.webhook_dedup_seconds)
    return min(GITHUB_REDELIVERY_WINDOW, remembered) - CLOCK_MARGIN


def asked_seconds(settings: Settings) -> int:
    """How long an event asked for is not asked for again: half an interval (GitHub sends
    within seconds; the next scheduled run asks again if that attempt failed too)."""
    return max(60, settings.liquidbook_redelivery_minutes * 30)


async def already_processed(redis: Redis, guids: list[str]) -> set[str]:
    """The guids the webhook endpoint has recorded in its delivery dedup store.

    The one place this job reads that store: its key format is `bot.webhooks`'.
    """
    if not guids:
        return set()
    async with redis.pipeline(transaction=False) as pipe:
        for guid in guids:
            pipe.exists(DEDUP_PREFIX + guid)
        found = await pipe.execute()
    return {guid for guid, present in zip(guids, found, strict=True) if present}


async def recently_asked(redis: Redis, guids: list[str]) -> set[str]:
    """The guids a recent run already asked GitHub to send again."""
    if not guids:
        return set()
    found = await redis.mget([ASKED_PREFIX + guid for guid in guids])
    return {guid for guid, value in zip(guids, found, strict=True) if value is not None}


def next_cursor(link: str | None) -> str | None:
    """The `cursor` of the `rel="next"` page in a `Link` header, None on the last page."""
    for part in (link or "").split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params:
            query = parse_qs(urlsplit(target.strip().strip("<>")).query)
            return query.get("cursor", [None])[0]
    return None


async def list_attempts(gh: GitHub[Any], since: datetime) -> tuple[list[Attempt], int]:
    """The app's delivery attempts from newest back to `since` (the page that crosses it is
    read whole), at most `MAX_PAGES` pages; and the number of pages read."""
    attempts: list[Attempt] = []
    params: dict[str, Any] = {"per_page": PAGE_SIZE}
    pages = 0
    while pages < MAX_PAGES:
        response = await gh.arequest("GET", "/app/hook/deliveries", params=params)
        pages += 1
        items = response.json()
        page = [a for a in map(parse_attempt, items if isinstance(items, list) else []) if a]
        attempts += page
        cursor = next_cursor(response.headers.get("link"))
        if not page or cursor is None or min(a.delivered_at for a in page) < since:
            break
        params = {"per_page": PAGE_SIZE, "cursor": cursor}
    return attempts, pages


@dataclass
class Recovery:
    """What one run did (the job's result and its log line)."""

    attempts: int = 0
    pages: int = 0
    missed: int = 0
    processed: int = 0
    asked_recently: int = 0
    redelivered: int = 0
    refused: int = 0
    left_for_next_run: int = 0
    given_up: int = 0
    skipped: str = ""

    def line(self) -> str:
        if self.skipped:
            return f"delivery recovery skipped: {self.skipped}"
        return (
            f"delivery recovery: {self.attempts} attempts on {self.pages} page(s); "
            f"{self.missed} event(s) never delivered: {self.processed} processed all the same, "
            f"{self.asked_recently} asked for recently, {self.redelivered} redelivered, "
            f"{self.refused} refused by GitHub, {self.left_for_next_run} left for the next run; "
            f"{self.given_up} given up after {MAX_REDELIVERIES} redeliveries"
        )


async def recover(services: Services, *, now: datetime | None = None) -> Recovery:
    """One run: list, select, redeliver; single flight across workers (see the module)."""
    result = Recovery()
    if services.github is None:
        result.skipped = "the GitHub App is not configured"
        return result
    redis = services.redis
    token = uuid.uuid4().hex
    if not await redis.set(LOCK_KEY, token, nx=True, ex=LOCK_SECONDS):
        result.skipped = "another worker is running it"
        return result
    try:
        await _recover(services, now or datetime.now(UTC), result)
    finally:
        # Compare and delete: a lock that expired and was taken by another run stays.
        await redis.eval(_RELEASE, 1, LOCK_KEY, token)  # type: ignore[misc]  # redis-py's types
    return result


async def _recover(services: Services, now: datetime, result: Recovery) -> None:
    assert services.github is not None
    redis, settings, gh = services.redis, services.settings, services.github.app
    window = recovery_window(settings)
    attempts, result.pages = await list_attempts(gh, now - window)
    result.attempts = len(attempts)
    missed, result.given_up = missed_deliveries(attempts, now=now, window=window)
    result.missed = len(missed)
    guids = [m.guid for m in missed]
    processed = await already_processed(redis, guids)
    asked = await recently_asked(redis, [g for g in guids if g not in processed])
    result.processed, result.asked_recently = len(processed), len(asked)
    chosen = choose(missed, processed | asked, settings.liquidbook_redelivery_max)
    result.left_for_next_run = len(missed) - len(processed) - len(asked) - len(chosen)
    for event in chosen:
        try:
            await gh.arequest("POST", f"/app/hook/deliveries/{event.attempt_id}/attempts")
        except GitHubException as exc:
            result.refused += 1
            REDELIVERIES.labels(outcome="refused").inc()
            log.warning(
                "GitHub refused to redeliver %s %s (attempt %s): %s",
                event.name,
                event.guid,
                event.attempt_id,
                str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
            )
            continue
        result.redelivered += 1
        REDELIVERIES.labels(outcome="requested").inc()
        await redis.set(ASKED_PREFIX + event.guid, b"1", ex=asked_seconds(settings))
        log.info(
            "asked GitHub to redeliver %s %s, first sent %s",
            event.name,
            event.guid,
            event.first_delivered_at.isoformat(),
        )


async def recover_deliveries(ctx: dict[str, Any]) -> dict[str, Any]:
    """The scheduled job: one recovery run, logged in one line."""
    started = time.perf_counter()
    try:
        result = await recover(ctx["services"])
    except GitHubException as exc:
        log.warning("delivery recovery failed: GitHub answered %s", str(exc).splitlines()[0])
        raise
    log.info("%s (%.1f s)", result.line(), time.perf_counter() - started)
    return {k: v for k, v in vars(result).items() if v != ""}


def recovery_schedule(settings: Settings) -> list[CronJob]:
    """The recovery as an arq cron job: every `LIQUIDBOOK_REDELIVERY_MINUTES` from the top
    of the hour and once when the worker starts; none when the setting is 0. Runs scheduled
    for the same minute are one job across workers (arq's unique cron ids)."""
    minutes = settings.liquidbook_redelivery_minutes
    if minutes <= 0:
        return []
    return [
        cron(
            recover_deliveries,
            name="recover_deliveries",
            minute=set(range(0, 60, minutes)),
            second=0,
            run_at_startup=True,
            # Never longer than any other job's limit: arq keeps a job's "in progress" mark
            # for the longest timeout of the worker's functions, and that is how long a job
            # whose worker was killed waits before another worker takes it up.
            timeout=min(RUN_SECONDS, settings.liquidbook_job_timeout),
            max_tries=1,
        )
    ]
