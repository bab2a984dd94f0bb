"""The recovery of missed deliveries: which events it asks GitHub to send again, and that
two runs at once (two workers starting) ask once.

The selection is a pure function, checked on families of delivery logs (several attempts
per event, successes after failures, events outside the window, more than a run's bound,
the log in any order); the run itself against the GitHub stand-in and a real Redis.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jobs.redeliver import (
    GITHUB_REDELIVERY_WINDOW,
    LOCK_KEY,
    Attempt,
    already_processed,
    choose,
    missed_deliveries,
    next_cursor,
    parse_attempt,
    recover,
    recovery_schedule,
    recovery_window,
)
from bot.services import Services
from bot.settings import Settings, load_settings
from bot.webhooks import DEDUP_PREFIX
from tests.world import World

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=3)

# One attempt: minutes before NOW, whether it succeeded, whether it was a redelivery.
attempt_shapes = st.tuples(
    st.integers(min_value=0, max_value=5 * 24 * 60),
    st.sampled_from(
        [
            ("OK", 200),
            ("OK", 202),
            ("failed to connect", 502),
            ("Invalid HTTP Response: 503", 503),
            ("timed out", 504),
            ("", 204),
            ("Invalid HTTP Response: 401", 401),
        ]
    ),
    st.booleans(),
)
logs = st.lists(
    st.tuples(st.uuids().map(str), st.lists(attempt_shapes, min_size=1, max_size=7)),
    max_size=30,
    unique_by=lambda pair: pair[0],
)


def build(log: list[tuple[str, list[tuple[int, tuple[str, int], bool]]]]) -> list[Attempt]:
    attempts, number = [], 1
    for guid, shapes in log:
        for minutes, (status, code), redelivery in shapes:
            attempts.append(
                Attempt(
                    number,
                    guid,
                    NOW - timedelta(minutes=minutes),
                    redelivery,
                    status,
                    code,
                    "issue_comment",
                    "created",
                )
            )
            number += 1
    return attempts


@settings(max_examples=150, deadline=None)
@given(logs, st.integers(min_value=1, max_value=6), st.randoms(use_true_random=False))
def test_missed_is_exactly_the_events_never_delivered_in_the_window(
    log: list[tuple[str, list[tuple[int, tuple[str, int], bool]]]],
    max_redeliveries: int,
    shuffler: random.Random,
) -> None:
    attempts = build(log)
    shuffled = list(attempts)
    shuffler.shuffle(shuffled)
    missed, given_up = missed_deliveries(
        shuffled, now=NOW, window=WINDOW, max_redeliveries=max_redeliveries
    )
    # A model of the rule, written apart from the code.
    expected, expected_given_up = set(), 0
    for guid, shapes in log:
        if any(status == "OK" or 200 <= code < 300 for _, (status, code), _ in shapes):
            continue
        if max(minutes for minutes, _, _ in shapes) > WINDOW.total_seconds() / 60:
            continue
        if sum(redelivery for _, _, redelivery in shapes) >= max_redeliveries:
            expected_given_up += 1
            continue
        expected.add(guid)
    assert {m.guid for m in missed} == expected and len(missed) == len(expected)
    assert given_up == expected_given_up
    # Oldest first, and the same answer whatever order GitHub listed the attempts in.
    firsts = [(m.first_delivered_at, m.attempt_id) for m in missed]
    assert firsts == sorted(firsts)
    assert (
        missed
        == missed_deliveries(attempts, now=NOW, window=WINDOW, max_redeliveries=max_redeliveries)[0]
    )
    for m in missed:
        group = [a for a in attempts if a.guid == m.guid]
        # The newest attempt is the one redelivered; the count is GitHub's redeliveries.
        assert m.attempt_id == max(group, key=lambda a: (a.delivered_at, a.id)).id
        assert m.first_delivered_at == min(a.delivered_at for a in group)
        assert m.redeliveries == sum(a.redelivery for a in group)


@settings(max_examples=100, deadline=None)
@given(logs, st.integers(min_value=0, max_value=40), st.data())
def test_a_run_asks_for_at_most_its_bound_oldest_first_and_never_a_processed_event(
    log: list[tuple[str, list[tuple[int, tuple[str, int], bool]]]],
    limit: int,
    data: st.DataObject,
) -> None:
    missed, _ = missed_deliveries(build(log), now=NOW, window=WINDOW)
    guids = [m.guid for m in missed]
    skip = set(data.draw(st.lists(st.sampled_from(guids), unique=True))) if guids else set()
    chosen = choose(missed, skip, limit)
    assert len(chosen) == min(limit, len(guids) - len(skip))
    assert not {m.guid for m in chosen} & skip
    # A prefix of the events left: nothing older is passed over for a newer one.
    assert chosen == [m for m in missed if m.guid not in skip][: len(chosen)]


def test_one_event_many_attempts() -> None:
    def attempt(number: int, minutes: int, code: int, redelivery: bool) -> Attempt:
        status = "OK" if code == 200 else f"Invalid HTTP Response: {code}"
        at = NOW - timedelta(minutes=minutes)
        return Attempt(number, "g", at, redelivery, status, code, "issues", "opened")

    failures = [attempt(1, 60, 502, False), attempt(2, 30, 503, True), attempt(3, 10, 502, True)]
    [missed], given_up = missed_deliveries(failures, now=NOW, window=WINDOW)
    assert (missed.attempt_id, missed.redeliveries, given_up) == (3, 2, 0)
    assert (
        missed.first_delivered_at == NOW - timedelta(minutes=60) and missed.name == "issues.opened"
    )
    # A success after the failures ends it; too many redeliveries give it up.
    assert missed_deliveries([*failures, attempt(4, 5, 200, True)], now=NOW, window=WINDOW) == (
        [],
        0,
    )
    assert missed_deliveries(failures, now=NOW, window=WINDOW, max_redeliveries=2) == ([], 1)
    # Its first attempt decides the window, not its last.
    old = [attempt(1, 3 * 24 * 60 + 1, 502, False), attempt(2, 1, 502, True)]
    assert missed_deliveries(old, now=NOW, window=WINDOW) == ([], 0)


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers()),
                 st.dictionaries(st.sampled_from(["id", "guid", "delivered_at", "status",
                                                  "status_code", "action", "redelivery"]),
                                 st.one_of(st.none(), st.integers(), st.text(), st.booleans()))))  # fmt: skip
def test_items_it_cannot_read_are_skipped_not_fatal(item: object) -> None:
    parsed = parse_attempt(item)
    assert parsed is None or (parsed.guid and parsed.delivered_at.tzinfo is not None)


def test_items_in_githubs_shape_are_read() -> None:
    item = {"id": 12, "guid": "0b98", "delivered_at": "2026-12-01T11:59:00Z", "redelivery": True,
            "duration": 0.2, "status": "failed to connect", "status_code": 502,
            "event": "issue_comment", "action": None, "installation_id": 3,
            "repository_id": None}  # fmt: skip
    parsed = parse_attempt(item)
    assert parsed == Attempt(12, "0b98", NOW - timedelta(minutes=1), True, "failed to connect",
                             502, "issue_comment", None)  # fmt: skip
    assert parsed is not None and not parsed.succeeded


def test_the_cursor_is_read_from_the_next_link() -> None:
    link = ('<https://api.github.com/app/hook/deliveries?per_page=2&cursor=v1_120>; rel="next", '
            '<https://api.github.com/app/hook/deliveries?per_page=2>; rel="first"')  # fmt: skip
    assert next_cursor(link) == "v1_120"
    assert next_cursor('<https://x/app/hook/deliveries?per_page=2>; rel="first"') is None
    assert next_cursor(None) is None and next_cursor("") is None


def test_the_window_never_outlasts_the_dedup_memory() -> None:
    def settings_(**values: object) -> Settings:
        return load_settings(_env_file=None, **values)

    assert settings_().webhook_dedup_seconds >= GITHUB_REDELIVERY_WINDOW.total_seconds()
    assert recovery_window(settings_()) < GITHUB_REDELIVERY_WINDOW
    assert recovery_window(settings_(webhook_dedup_seconds=3600)) < timedelta(hours=1)
    [job] = recovery_schedule(settings_(liquidbook_redelivery_minutes=30))
    assert job.minute == {0, 30} and job.run_at_startup
    assert recovery_schedule(settings_(liquidbook_redelivery_minutes=0)) == []


@pytest.fixture
def world_settings(tmp_path: Path, redis_url: str) -> Iterator[World]:
    """The stand-ins with the app registered and installed, its server never started."""
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    try:
        yield world
    finally:
        world.close()


async def test_two_runs_at_once_ask_once_and_processed_events_never(
    world_settings: World,
) -> None:
    world = world_settings
    gh = world.github
    gh.install(world.app.id, "octo-org", ["book"])
    issue = gh.open_issue("octo-org/book", "alice", "Lost")
    gh.set_webhook_url(world.app.id, "http://127.0.0.1:9/hook")  # down: every attempt fails
    lost = [gh.comment("octo-org/book", issue, "alice", f"/usage {i}") for i in range(4)]
    services = [await Services.start(world.settings()) for _ in range(2)]
    try:
        # One was processed before its answer was lost: the dedup store has it.
        assert await services[0].redis.set(DEDUP_PREFIX + lost[0].id, b"1")
        assert await already_processed(services[0].redis, [d.id for d in lost]) == {lost[0].id}
        first, second = await asyncio.gather(*(recover(s) for s in services))
        ran = first if not first.skipped else second
        assert {first.skipped, second.skipped} == {"", "another worker is running it"}
        assert ran.missed == 4 and ran.processed == 1
        assert ran.redelivered == 3 and ran.refused == 0
        assert not await services[0].redis.exists(LOCK_KEY)
        # The next run finds them asked for (GitHub may still be sending) and asks nothing.
        again = await recover(services[1])
        assert again.redelivered == 0 and again.asked_recently == 3
    finally:
        for s in services:
            await s.close()
    gh.settle()
    asked = [r for r in gh.requests if r.method == "POST" and r.route and "attempts" in r.route]
    assert len(asked) == 3 and all(r.status == 202 for r in asked)
    for _ in range(500):  # GitHub sends after its 202
        if sum(d.redelivery for d in gh.deliveries) >= 3:
            break
        await asyncio.sleep(0.02)
    # Oldest first; the processed one never again.
    assert [r.path for r in asked] == [
        f"/app/hook/deliveries/{d.attempt_id}/attempts" for d in lost[1:]
    ]
    assert sorted(d.id for d in gh.deliveries if d.redelivery) == sorted(d.id for d in lost[1:])
