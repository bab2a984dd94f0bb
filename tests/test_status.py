"""GitHub rejects comment and PR bodies over 65,536 characters: ours are cut to fit, visibly."""

from bot.pull_request import MAX_BODY, clip
from bot.status import MARKER, StatusComment


def test_clip_keeps_short_text_and_cuts_long_text_to_the_limit() -> None:
    assert clip("short") == "short"
    long = "x" * (MAX_BODY * 2)
    cut = clip(long)
    assert len(cut) == MAX_BODY and cut.endswith("65,536-character limit)")


def test_status_comment_body_is_marked_and_bounded() -> None:
    body = StatusComment.render("`/generate chapter all` — requested by @alice", "y" * 100_000)
    assert body.startswith(MARKER) and len(body) <= MAX_BODY
    assert "**`/generate chapter all` — requested by @alice**" in body
