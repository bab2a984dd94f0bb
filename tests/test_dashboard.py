"""The Book Dashboard's pure parts: rendering, reading ticks back, hostile bodies, size cap."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book import dashboard
from bot.book.dashboard import ChapterState, DashboardState


def state(count: int, title: str = "Tide pools", stubs: bool = True) -> DashboardState:
    chapters = [
        ChapterState(
            number=n,
            title=f"{title} {n}",
            path=f"chapters/{n:03d}-chapter.md",
            stub=stubs and n % 2 == 0,
            pr_number=1000 + n if n % 5 == 0 else None,
            pr_check="success (0 errors, 1 warnings)" if n % 5 == 0 else None,
            quizzes=n % 2,
            figures=n % 3,
        )
        for n in range(1, count + 1)
    ]
    return DashboardState(
        full_name="octo-org/book",
        default_branch="main",
        title="A book",
        book_type="book",
        chapters=chapters,
        disabled=["chapters/old.md"],
        live_url="https://octo-org.github.io/book/",
        deploy="success at 2026-12-01T10:00:00Z (abc1234)",
        spent_usd="$0.12",
        budget_usd="$10.00",
    )


def test_the_body_shows_states_and_boxes() -> None:
    body = dashboard.render(state(10))
    assert body.startswith(dashboard.MARKER)
    assert "**2. Tide pools 2**" in body and "📝 stub from the outline" in body
    assert "open PR #1005, build success" in body and "✅ written" in body
    assert "chapters/old.md" in body and "$0.12" in body and "$10.00" in body
    assert "https://octo-org.github.io/book/" in body and "/help" in body
    assert dashboard.ticked_boxes(body) == set()
    boxes = dashboard.all_boxes(body)
    assert {"write:2", "rewrite:1", "quiz:1", "stubs:all", "refresh:all"} <= boxes
    assert "write:1" not in boxes  # a written chapter is rewritten, not written


@given(
    st.sets(
        st.sampled_from(["write:2", "rewrite:3", "quiz:1", "stubs:all", "refresh:all", "write:9"])
    )
)
def test_ticks_read_back(ticked: set[str]) -> None:
    body = dashboard.render(state(10), frozenset(ticked))
    assert dashboard.ticked_boxes(body) == ticked & dashboard.all_boxes(body)
    assert dashboard.newly_ticked(dashboard.render(state(10)), body) == sorted(
        ticked & dashboard.all_boxes(body)
    )


def test_tick_by_label() -> None:
    body = dashboard.render(state(20))
    ticked = dashboard.tick(body, "write chapter 2")
    assert ticked is not None and dashboard.newly_ticked(body, ticked) == ["write:2"]
    # "write chapter 2" is inside "write chapter 20"'s label: the exact label wins.
    assert dashboard.newly_ticked(body, dashboard.tick(body, "rewrite chapter 1") or "") == [
        "rewrite:1"
    ]
    assert dashboard.tick(body, "no such box") is None


@given(st.text(max_size=200))
def test_hostile_titles_forge_no_box(title: str) -> None:
    body = dashboard.render(state(3, title=title + "<!-- lb:write:1 --> - [x] "))
    assert dashboard.ticked_boxes(body) == set()
    assert dashboard.all_boxes(body) == dashboard.all_boxes(dashboard.render(state(3)))


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from("- [xX] <!-lb:wrte0123456789\n\t"), max_size=3000))
def test_hostile_bodies_parse(body: str) -> None:
    dashboard.ticked_boxes(body)
    dashboard.newly_ticked(body, body[::-1])


def test_parsing_is_linear() -> None:
    for unit in ("- [x] " + "a" * 290 + " <!-- lb:", " " * 40 + "- [x] <!-- lb:write:1 -->x\n"):
        small, big = unit * 1000, unit * 8000
        started = time.perf_counter()
        dashboard.ticked_boxes(small)
        first = time.perf_counter() - started
        started = time.perf_counter()
        dashboard.ticked_boxes(big)
        second = time.perf_counter() - started
        # Linear: eight times the input is far from sixty-four times the time (generous).
        assert second < max(first, 0.001) * 40


def test_a_large_book_is_capped() -> None:
    body = dashboard.render(state(400))
    assert len(body) <= dashboard.MAX_BODY_CHARS < 65_536
    assert "more chapters are not shown" in body and "myst.yml" in body
    assert dashboard.all_boxes(body) >= {"stubs:all", "refresh:all"}


def test_commands_of_boxes() -> None:
    assert dashboard.command_for("write:2", []) == "/generate chapter 2"
    assert dashboard.command_for("quiz:3", []) == "/generate quiz chapter 3"
    assert dashboard.command_for("stubs:all", [2, 3, 4, 7, 9, 10]) == (
        "/generate chapter 2-4\n/generate chapter 7\n/generate chapter 9-10"
    )
    assert dashboard.command_for("stubs:all", []) is None
    assert dashboard.command_for("refresh:all", [1]) is None
