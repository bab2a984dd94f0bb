"""Estimate, confirmation and `/cancel` over HTTP (the app as child processes, the stand-ins).

A 12-chapter book with `budget.confirm_above_usd: 0.10`: `/generate chapter all` states its
estimate and waits; a reader's `/confirm` is refused; a writer's runs it; `/cancel` while the
chapters are written stops the rest, and the status lists exactly the finished ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    # Every PR opened is named as finished: the cancel waited for the one being opened.
    assert len(opened) == len([f for f in finished if "pull/" in f or "❌" not in f]), final
    # Cancelling again says so.
    gh.comment(REPO, issue, "alice", "/cancel")
    world.wait_for(
        lambda: any("Nothing to cancel" in c["body"] for c in gh.comments(REPO, issue)),
        what="the second /cancel",
    )
    calls_after = len(world.model.calls("/chat/completions"))
    world.wait_for(lambda: True)
    assert len(world.model.calls("/chat/completions")) <= calls_after + 4  # in flight only


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cancel_while_the_pull_request_opens_waits_for_it(world: World) -> None:
    """The cancel lands while the chapter's pull request is being opened: the PR is opened
    whole and the cancelled status names it as finished (not "Not finished", not missing)."""
    gh = world.github
    slow = gh.faults.add(method="POST", path=r"^/repos/octo-org/book/pulls$", delay=3)
    issue = gh.open_issue(REPO, "alice", "Write chapter 1")
    gh.comment(REPO, issue, "alice", "/generate chapter 1")
    world.wait_for(lambda: slow.hits == 1, timeout=120, what="the pull request being opened")
    gh.comment(REPO, issue, "alice", "/cancel")
    final = world.wait_for(
        lambda: [c for c in world.status_comments(issue) if "🛑 Cancelled by" in c["body"]],
        timeout=60,
        what="the cancelled status",
    )[0]["body"]
    world.github.settle()
    opened = [p for p in gh.pulls(REPO) if p["head"]["ref"].startswith("liquidbook/chapter-")]
    assert len(opened) == 1
    finished = final.split("Finished before the cancel:", 1)[1]
    assert opened[0]["html_url"] in finished
    assert "Not finished" not in final


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


# Every model-calling command waits: the threshold is below any estimate.
EVERYTHING_WAITS = "budget:\n  confirm_above_usd: 0.0001\nmodels:\n  image: openai:gpt-image-1\n"
ESTIMATE = re.compile(r"💰 Estimated cost: about \$\d+\.\d+, at most \$\d+\.\d+\.")
CHAPTER = "chapters/01-getting-started.md"
# Mentions in the app's comments are neutralised (a zero-width joiner after the @).
DROPPED = "🛑 Dropped by @\u2060alice while it waited for `/confirm`"
CANCELLED = "🛑 Cancelled by @\u2060alice"


def thread_replies(world: World, pr: int) -> list[dict[str, Any]]:
    return [
        c
        for c in world.github.review_comments(REPO, pr)
        if c.get("in_reply_to_id") and "<!-- liquidbook:status -->" in c["body"]
    ]


def review_statuses(world: World, pr: int) -> list[dict[str, Any]]:
    return [c for c in world.status_comments(pr) if "`/revise` review by" in c["body"]]


def answered(world: World, number: int, text: str) -> Any:
    return world.wait_for(
        lambda: [c for c in world.github.comments(REPO, number) if text in c["body"]],
        what=f"{text!r} on #{number}",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_model_command_estimates_waits_and_cancel_reaches_reviews(world: World) -> None:
    gh = world.github
    gh.push(REPO, "main", {".github/liquidbook.yml": EVERYTHING_WAITS}, "alice", "Ask first")

    # On an issue: /revise chapter N, /generate quiz, /generate figure all wait, with their
    # estimates, and no model is called.
    issue = gh.open_issue(REPO, "alice", "Improve chapter 1")
    gh.comment(REPO, issue, "alice", "/revise chapter 1 make it friendlier")
    gh.comment(REPO, issue, "alice", "/generate quiz chapter 1")
    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "A tide pool at low water"')
    waiting = world.wait_for(
        lambda: (
            found
            if len(
                found := [
                    c
                    for c in world.status_comments(issue)
                    if "Waiting for confirmation" in c["body"]
                ]
            )
            == 3
            else None
        ),
        what="three requests waiting on the issue",
    )
    for comment in waiting:
        assert ESTIMATE.search(comment["body"]) and "- [ ] confirm" in comment["body"]

    # On a pull request: /revise in its conversation, /suggest on lines, a submitted review.
    text = (gh.read_file(REPO, "main", CHAPTER) or b"").decode()
    end = text.count("\n") + 3
    gh.push(REPO, "edit-1", {CHAPTER: text + "\nOne more line.\nAnd another.\n"}, "alice")
    pr = gh.open_pull(REPO, "alice", "edit-1", "Edit chapter 1")
    gh.comment(REPO, pr, "alice", "/revise make it friendlier")
    gh.review_comment(REPO, pr, "alice", "/suggest use the active voice", CHAPTER, end, "RIGHT")
    gh.review(REPO, pr, "alice", "/revise", [{"path": CHAPTER, "line": end, "body": "Shorter."}])
    world.wait_for(
        lambda: (
            len([c for c in world.status_comments(pr) if ESTIMATE.search(c["body"])]) == 2
            and [c for c in thread_replies(world, pr) if ESTIMATE.search(c["body"])]
        ),
        what="the PR's requests waiting with their estimates",
    )
    reply = thread_replies(world, pr)[0]["body"]
    assert "Waiting for confirmation" in reply and "conversation" in reply
    assert world.model.requests == []  # no model was called, for text or images

    # /cancel drops what waits, and each status comment says so; the issue's are left.
    gh.comment(REPO, pr, "alice", "/cancel")
    answered(world, pr, "Dropped 3 requests waiting for `/confirm`")
    world.wait_for(
        lambda: (
            all(DROPPED in c["body"] for c in world.status_comments(pr)[:2])
            and DROPPED in thread_replies(world, pr)[0]["body"]
        ),
        timeout=20,
        what="the PR's waiting requests dropped",
    )
    assert all("Dropped" not in c["body"] for c in world.status_comments(issue))
    gh.comment(REPO, issue, "alice", "/cancel")
    answered(world, issue, "Dropped 3 requests waiting for `/confirm`")
    gh.comment(REPO, issue, "alice", "/confirm")
    answered(world, issue, "Nothing on this issue is waiting")

    # Jobs of a line comment and of a review, confirmed in the PR's conversation, are
    # reached by /cancel there while the (slow) model writes.
    world.model.default = Behaviour(text=scripted_answer, delay=3.0)
    before = len(thread_replies(world, pr))
    gh.review_comment(REPO, pr, "alice", "/revise shorter sentences", CHAPTER, end, "RIGHT")
    gh.review(REPO, pr, "alice", "/revise", [{"path": CHAPTER, "line": end, "body": "Simpler."}])
    world.wait_for(
        lambda: (
            len(thread_replies(world, pr)) > before
            and sum("Waiting for confirmation" in c["body"] for c in world.status_comments(pr)) == 1
        ),
        what="the new line and review requests waiting",
    )
    gh.comment(REPO, pr, "alice", "/confirm")
    answered(world, pr, "Confirmed 2 commands")
    world.wait_for(
        lambda: world.model.calls("/chat/completions"), what="a model call of the confirmed jobs"
    )
    gh.comment(REPO, pr, "alice", "/cancel")
    answered(world, pr, "Cancelled 2 jobs started from here")
    world.wait_for(
        lambda: (
            CANCELLED in thread_replies(world, pr)[-1]["body"]
            and CANCELLED in review_statuses(world, pr)[-1]["body"]
        ),
        timeout=120,
        what="both statuses cancelled",
    )
    gh.settle()
    assert world.git("rev-list", "--count", "main..edit-1").strip() == "1"  # nothing committed


def test_estimates_add_up() -> None:
    from decimal import Decimal

    from bot.pending import Estimate
    from bot.providers.types import ImageRequest, TextRequest, VideoRequest

    request = TextRequest(prompt="Revise this chapter. " * 500, max_tokens=16000)
    one = Estimate.text("openai:gpt-4.1", request, 5000)
    fixed = Estimate.with_fix_up("openai:gpt-4.1", request, 5000)
    twice = Estimate.with_fix_up("openai:gpt-4.1", request, 5000, fix_ups=2)
    assert Decimal(0) < one.typical < one.worst
    # A fix-up resends the prompt with the first answer: more than twice the one request.
    assert fixed.typical == one.typical and fixed.worst > 2 * one.worst
    assert twice.worst > fixed.worst
    assert Estimate.total([one, one]) == one * 2 == one + one
    image = Estimate.image("openai:gpt-image-1", ImageRequest(prompt="A tide pool"))
    assert image.typical == image.worst > 0
    assert (
        Estimate.video(
            "nobody:free", VideoRequest(prompt="Waves", image="https://example.org/a.webp")
        )
        == Estimate()
    )


def test_a_chapters_worst_case_counts_the_digests_of_its_written_neighbours(
    tmp_path: Path,
) -> None:
    """Writing chapter 2 may first ask the model for digests of chapters 1 and 3 when they
    are written (`bot.jobs.continuity`): the worst case counts them, the typical does not."""
    from bot import pending
    from bot.book.bundled import skeleton_files
    from bot.book.model import Book

    def book(written: bool) -> Book:
        root = tmp_path / ("written" if written else "stubs")
        for path, content in skeleton_files().items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(content if isinstance(content, bytes) else content.encode())
        toc = []
        for n in (2, 3):
            body = "The sea comes in. " * 400 if written and n == 3 else "% liquidbook: stub\n"
            (root / f"chapters/0{n}-part.md").write_text(f"---\ntitle: Part {n}\n---\n\n{body}\n")
            toc.append(f"    - file: chapters/0{n}-part.md\n")
        myst = root / "myst.yml"
        last = "    - file: chapters/01-getting-started.md\n"
        myst.write_text(myst.read_text().replace(last, last + "".join(toc)))
        return Book.from_directory(root)

    with_neighbours, alone = book(True), book(False)
    [second] = [c for c in with_neighbours.toc if c.number == 2]
    [second_alone] = [c for c in alone.toc if c.number == 2]
    typical, worst = pending.chapters_estimate("openai:gpt-4.1", with_neighbours, [second], 16000)
    typical_alone, worst_alone = pending.chapters_estimate(
        "openai:gpt-4.1", alone, [second_alone], 16000
    )
    # Chapter 1 (the skeleton's, written) is a neighbour of both; chapter 3 only when written.
    assert typical == typical_alone
    assert worst > worst_alone
