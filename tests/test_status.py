"""The status comment: bounded bodies that keep their footer, and stage edits that cost a
GitHub call only when a stage lasts (against the stand-in of GitHub)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.pull_request import MAX_BODY, clip, fit, shorten
from bot.services import Services
from bot.status import MARKER, MIN_EDIT_INTERVAL, StatusComment, create_status_comment
from tests.world import REPO, World


def test_clip_keeps_short_text_and_cuts_long_text_to_the_limit() -> None:
    assert clip("short") == "short"
    long = "x" * (MAX_BODY * 2)
    cut = clip(long)
    assert len(cut) == MAX_BODY and cut.endswith("65,536-character limit)")


def test_status_comment_body_is_marked_and_bounded() -> None:
    body = StatusComment.render("`/generate chapter all` — requested by @alice", "y" * 100_000)
    assert body.startswith(MARKER) and len(body) <= MAX_BODY
    assert "**`/generate chapter all` — requested by @alice**" in body


def test_a_huge_heading_and_text_never_cut_the_footer() -> None:
    footer = "ℹ️ `/init` takes nothing after it, so “now” was ignored."
    body = StatusComment.render("`/outlin " + "h" * 70_000 + "`", "t" * 100_000, footer)
    assert len(body) <= MAX_BODY
    assert body.rstrip().endswith(footer)
    heading = body.splitlines()[1]
    assert len(heading) < 400 and "shortened from 70,010 characters" in heading


def test_fit_and_shorten() -> None:
    assert fit("text", "\nfooter") == "text\nfooter"
    fitted = fit("a" * MAX_BODY, "\n\n### Build check\n\n✅")
    assert len(fitted) == MAX_BODY and fitted.endswith("### Build check\n\n✅")
    assert "cut to fit" in fitted
    # A footer of its own over half the limit is clipped, so some text always shows.
    fitted = fit("text", "f" * MAX_BODY)
    assert len(fitted) <= MAX_BODY and fitted.startswith("text")
    quoted = shorten("word " * 2000, 300)
    assert len(quoted) <= 300 and quoted.endswith("the whole text is in the comment)")
    assert shorten("short") == "short"


@pytest.fixture
async def status_world(
    tmp_path: Path, redis_url: str
) -> AsyncIterator[tuple[World, Services, int]]:
    world = World(tmp_path, redis_url, f"sqlite:///{tmp_path / 'app.db'}")
    services = None
    try:
        installation = world.github.install(world.app.id, "octo-org", ["book"], deliver=False)
        services = await Services.start(world.settings())
        yield world, services, installation
    finally:
        if services is not None:
            await services.close()
        world.close()


def edits(world: World, comment_id: int) -> list[str]:
    return [
        r.json_body["body"].split("\n\n", 1)[1].strip()
        for r in world.github.requests
        if r.method == "PATCH" and r.path.endswith(f"/issues/comments/{comment_id}")
    ]


async def shown(world: World, comment_id: int, expected: list[str]) -> list[str]:
    """The comment's edits once they are `expected` (or after 20 s: a stage edit comes
    after its 3 s, and a busy machine may make it later, never sooner)."""
    for _ in range(400):
        if edits(world, comment_id) == expected:
            break
        await asyncio.sleep(0.05)
    return edits(world, comment_id)


async def test_stages_show_only_once_they_last(status_world: tuple[World, Services, int]) -> None:
    world, services, inst_id = status_world
    assert services.github is not None
    issue = world.github.open_issue(REPO, "alice", "Status")
    async with services.github.installation(inst_id) as gh:
        status = await create_status_comment(gh, REPO, issue, "`/x`", "⏳ Queued")
        # Quick stages, then the final answer: no edit but the final one.
        await status.progress("📖 Reading")
        await status.progress("✍️ Writing")
        await asyncio.sleep(0.2)
        await status.finish("✅ Done quickly")
        assert edits(world, status.comment_id) == ["✅ Done quickly"]

        status = await create_status_comment(gh, REPO, issue, "`/y`", "⏳ Queued")
        await status.progress("📖 Reading")
        await asyncio.sleep(0.3)
        await status.progress("✍️ Writing")  # lasts: shown once it has lasted
        await asyncio.sleep(0.5)
        assert edits(world, status.comment_id) == []
        assert await shown(world, status.comment_id, ["✍️ Writing"]) == ["✍️ Writing"]
        await status.progress("🔎 Checking")  # lasts too, but the last edit is recent
        await asyncio.sleep(0.5)
        assert edits(world, status.comment_id) == ["✍️ Writing"]
        both = ["✍️ Writing", "🔎 Checking"]
        assert await shown(world, status.comment_id, both) == both
        status.max_progress_edits = 2  # spent: nothing more but the final answer
        await status.progress("📬 Opening")
        await asyncio.sleep(MIN_EDIT_INTERVAL + 0.5)
        await status.finish("✅ Done")
        assert edits(world, status.comment_id) == ["✍️ Writing", "🔎 Checking", "✅ Done"]


async def test_updates_of_one_stage_do_not_start_it_again(
    status_world: tuple[World, Services, int],
) -> None:
    world, services, inst_id = status_world
    assert services.github is not None
    issue = world.github.open_issue(REPO, "alice", "Status")
    async with services.github.installation(inst_id) as gh:
        status = await create_status_comment(gh, REPO, issue, "`/z`", "⏳ Queued")
        await status.progress("✍️ 1 of 3 done")
        began = status._since
        for done in (2, 3):
            await asyncio.sleep(0.5)
            await status.progress(f"✍️ {done} of 3 done", update=True)
            assert status._since == began  # still due 3 s after the stage began
        # Shown with its latest details, once.
        latest = ["✍️ 3 of 3 done"]
        assert await shown(world, status.comment_id, latest) == latest
        # A stage without a progress mark would read as final to the sandbox: refused.
        with pytest.raises(ValueError, match="a stage starts with"):
            await status.progress("Still writing")
        await status.finish("✅")
