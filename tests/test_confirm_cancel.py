"""Estimate, confirmation and `/cancel` over HTTP (the app as child processes, the stand-ins).

A 12-chapter book with `budget.confirm_above_usd: 0.10`: `/generate chapter all` states its
estimate and waits; a reader's `/confirm` is refused; a writer's runs it; `/cancel` while the
chapters are written stops the rest, and the status lists exactly the finished ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.commands import Cancel, Confirm, parse_commands
from standins.providers.behaviour import Behaviour
from tests.world import REPO, World, scripted_answer

SETTINGS = "budget:\n  confirm_above_usd: 0.10\n"


def test_the_commands_parse() -> None:
    assert parse_commands("/confirm") == [Confirm()]
    assert parse_commands("/cancel") == [Cancel()]


@pytest.fixture
def world(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[World]:
    world = World(tmp_path, redis_url, database_url)
    try:
        world.start_app(LIQUIDBOOK_DASHBOARD_DELAY_SECONDS="1")
        world.install()
        yield world
    finally:
        world.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_confirm_then_cancel(world: World) -> None:
    gh = world.github
    world.add_chapters(
        [(f"Topic {n}", f"About topic {n}.") for n in range(2, 13)], settings=SETTINGS
    )
    issue = gh.open_issue(REPO, "alice", "Write everything")
    gh.comment(REPO, issue, "alice", "/confirm")
    world.wait_for(
        lambda: any(
            "Nothing on this issue is waiting" in c["body"] for c in gh.comments(REPO, issue)
        ),
        what="the answer to a /confirm with nothing pending",
    )
    gh.comment(REPO, issue, "alice", "/generate chapter all")
    waiting = world.wait_for(
        lambda: [
            c for c in world.status_comments(issue) if "Waiting for confirmation" in c["body"]
        ],
        what="the request kept waiting",
    )[0]
    assert re.search(r"about \$\d+\.\d\d, at most \$\d+\.\d\d", waiting["body"])
    assert gh.pulls(REPO) == []  # nothing ran, no model call
    assert world.model.calls("/chat/completions") == []

    # A reader may not confirm, here by ticking the status comment's "confirm" box.
    assert "- [ ] confirm" in waiting["body"]
    gh.edit_comment(
        waiting["id"], "mallory", waiting["body"].replace("- [ ] confirm", "- [x] confirm")
    )
    world.wait_for(
        lambda: any("Sorry @mallory" in c["body"] for c in gh.comments(REPO, issue)),
        what="mallory's /confirm refused",
    )
    assert world.model.calls("/chat/completions") == []

    # Slow model answers, so the cancel lands while chapters are being written.
    world.model.default = Behaviour(text=scripted_answer, delay=2.0)
    gh.comment(REPO, issue, "alice", "/confirm")
    world.wait_for(
        lambda: any(
            re.search(r"[1-9]\d* of 12 done", c["body"]) for c in world.status_comments(issue)
        ),
        timeout=180,
        what="a first chapter done",
    )
    gh.comment(REPO, issue, "alice", "/cancel")
    final = world.wait_for(
        lambda: [c for c in world.status_comments(issue) if "🛑 Cancelled by" in c["body"]],
        timeout=120,
        what="the cancelled status",
    )[0]["body"]
    finished_part = final.split("Finished before the cancel:", 1)[1].split("Not finished:", 1)
    finished = [line for line in finished_part[0].splitlines() if line.startswith("- ")]
    remaining = [line for line in finished_part[1].splitlines() if line.startswith("- ")]
    assert finished and remaining and len(finished) + len(remaining) == 12
    world.github.settle()
    opened = [p for p in gh.pulls(REPO) if p["head"]["ref"].startswith("liquidbook/chapter-")]
    assert len(opened) == len([f for f in finished if "pull/" in f or "❌" not in f])
    # Cancelling again says so.
    gh.comment(REPO, issue, "alice", "/cancel")
    world.wait_for(
        lambda: any("Nothing to cancel" in c["body"] for c in gh.comments(REPO, issue)),
        what="the second /cancel",
    )
    calls_after = len(world.model.calls("/chat/completions"))
    world.wait_for(lambda: True)
    assert len(world.model.calls("/chat/completions")) <= calls_after + 4  # in flight only


def test_estimates_and_thresholds() -> None:
    from decimal import Decimal

    from bot import pending
    from bot.providers.types import TextRequest

    request = TextRequest(prompt="Plan a book about tides. " * 200, max_tokens=8000)
    typical, worst = pending.request_estimate("openai:gpt-4.1", request, 3000)
    assert Decimal(0) < typical < worst
    assert pending.request_estimate("nobody:free-model", request, 3000) == (Decimal(0), Decimal(0))
    assert pending.threshold(None, None) is None
    assert pending.threshold(0.5, 0.1) == Decimal("0.1")
    assert pending.threshold(0.2, None) == Decimal("0.2")
    line = pending.estimate_line(Decimal("0.42"), Decimal("1.1"))
    assert line == "💰 Estimated cost: about $0.42, at most $1.10."
