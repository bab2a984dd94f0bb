"""`/generate video chapter N "…"` over HTTP against the Runway stand-in (its task wire
format: create, polls through PENDING and RUNNING, download), the Stability stand-in for a
drawn start image, the GitHub stand-in, git and the real build (`jupyter-book build --site
--strict`, through the PR's build check).

One world: a clip starting from a figure of the chapter is made, checked and committed with
its poster and prompt, embedded as a `{figure}` of the MP4, and the build is clean; the same
command again replaces the clip in the same PR; a clip with no `--from` starts from a drawn
image and has its own PR, after waiting for `/confirm` when its worst case is over the book's
limit; a `--from` label the chapter does not have is named with the
chapter's labels; a FAILED task, a file that is no MP4, a clip over 15 s and one over 10 MB
each get ❌ and no commit, as does a task refused by moderation.
"""

from __future__ import annotations

import io
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.book.clip import MAX_BYTES
from standins.providers.behaviour import Behaviour
from standins.providers.images import TINY_MP4
from standins.providers.mp4 import h264_mp4
from standins.providers.runway import RunwayStandIn
from standins.providers.stability import StabilityStandIn
from tests.world import REPO, World

CHAPTER = "chapters/01-getting-started.md"
SETTINGS = "models:\n  image: stability:core\n"
FIGURE = (
    "\n\n:::{figure} ../images/01-getting-started/shore.webp\n:label: fig-shore\n"
    ":alt: A rocky shore at low tide.\n\nThe shore.\n:::\n"
)


def picture(size: tuple[int, int], colour: tuple[int, int, int], kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return out.getvalue()


@pytest.fixture
def world(
    tmp_path: Path, redis_url: str, database_url: str
) -> Iterator[tuple[World, RunwayStandIn, StabilityStandIn]]:
    world = World(tmp_path, redis_url, database_url)
    runway = RunwayStandIn().start()
    runway.default = Behaviour(polls=2)
    stability = StabilityStandIn().start()
    stability.default = Behaviour(image=picture((1536, 864), (20, 90, 160), "PNG"))
    try:
        chapter = world.github.read_file(REPO, "main", CHAPTER)
        assert chapter is not None
        world.github.push(
            REPO,
            "main",
            {
                ".github/liquidbook.yml": SETTINGS,
                CHAPTER: chapter.decode() + FIGURE,
                "images/01-getting-started/shore.webp": picture(
                    (800, 450), (200, 180, 120), "WEBP"
                ),
            },
            user="alice",
            message="a figure and an image model",
        )
        world.start_app(
            LIQUIDBOOK_VIDEO_MODEL="runway:gen4_turbo",
            RUNWAY_API_KEY=runway.api_key,
            RUNWAY_BASE_URL=runway.root_url,
            STABILITY_API_KEY=stability.api_key,
            STABILITY_BASE_URL=stability.root_url,
            POLL_INTERVAL_S="0.05",
        )
        world.install()
        yield world, runway, stability
    finally:
        stability.stop()
        runway.stop()
        world.close()


def video_prs(world: World) -> list[dict[str, Any]]:
    return [p for p in world.github.pulls(REPO) if p["head"]["ref"].startswith("liquidbook/video-")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_clips_each_in_their_own_pr_and_refused_when_unusable(
    world: tuple[World, RunwayStandIn, StabilityStandIn], tmp_path: Path
) -> None:
    w, runway, stability = world
    gh = w.github
    issue = gh.open_issue(REPO, "alice", "Clips")
    gh.comment(
        REPO, issue, "alice", '/generate video chapter 1 "The tide comes in" --from fig-shore'
    )
    [final] = w.wait_final(issue)
    body = final["body"]
    assert "✅" in body and "runway:gen4_turbo" in body and "2.0 s" in body, body
    # Runway bills the seconds asked for: 5 s of gen4_turbo at $0.05 a second.
    assert "$0.2500" in body and "unpriced" not in body
    # The worst case was stated before the clip was made.
    assert "💰 Estimated cost: about $0.25, at most $0.25." in body
    # Runway's wire format: one task created with the version header, polled to the end.
    [create] = runway.calls("/v1/image_to_video")
    assert create.headers["x-runway-version"] == "2024-11-06"
    assert create.body["model"] == "gen4_turbo" and create.body["duration"] == 5
    assert create.body["ratio"] == "1280:720" and create.body["promptText"] == "The tide comes in"
    assert create.body["promptImage"].startswith("data:image/webp;base64,")
    polls = [r for r in runway.requests if r.path.startswith("/v1/tasks/")]
    assert len(polls) == 3  # PENDING, RUNNING, SUCCEEDED
    assert not stability.requests  # the figure was the first frame: nothing was drawn
    [pr] = video_prs(w)
    branch = pr["head"]["ref"]
    assert branch == "liquidbook/video-01-getting-started-the-tide-comes-in"
    assert gh.read_file(REPO, branch, "videos/01-getting-started/the-tide-comes-in.mp4") == TINY_MP4
    poster = gh.read_file(REPO, branch, "videos/01-getting-started/the-tide-comes-in.webp")
    assert poster is not None
    with Image.open(io.BytesIO(poster)) as image:
        assert image.format == "WEBP" and image.size == (800, 450)
    sidecar = gh.read_file(REPO, branch, "videos/01-getting-started/the-tide-comes-in.yml")
    assert sidecar is not None and b"from: fig-shore" in sidecar
    chapter = (gh.read_file(REPO, branch, CHAPTER) or b"").decode()
    assert ":::{figure} ../videos/01-getting-started/the-tide-comes-in.mp4" in chapter
    assert ":label: vid-01-getting-started-the-tide-comes-in" in chapter
    # The PR touches its chapter and the files that chapter owns, nothing else.
    changed = w.git("diff", "--name-only", f"main...{branch}").split()
    assert sorted(changed) == [
        CHAPTER,
        "videos/01-getting-started/the-tide-comes-in.mp4",
        "videos/01-getting-started/the-tide-comes-in.webp",
        "videos/01-getting-started/the-tide-comes-in.yml",
    ]
    [shown] = [p["body"] for p in gh.pulls(REPO) if p["number"] == pr["number"]]
    assert "videos/01-getting-started/the-tide-comes-in.webp?raw=true" in shown
    assert "Build check" in shown
    with sqlite3.connect(tmp_path / "liquidbook.db") as db:
        rows = db.execute("SELECT command, provider, model, outcome FROM usage").fetchall()
    assert rows == [("video", "runway", "gen4_turbo", "ok")]

    # The same clip again: a longer file replaces it in the same PR.
    longer = h264_mp4(seconds=4)
    runway.default = Behaviour(video=longer)
    gh.comment(
        REPO, issue, "alice", '/generate video chapter 1 "The tide comes in" --from fig-shore'
    )
    finals = w.wait_final(issue, count=2)
    assert "✅" in finals[-1]["body"] and "4.0 s" in finals[-1]["body"], finals[-1]["body"]
    assert [p["number"] for p in video_prs(w)] == [pr["number"]]
    assert gh.read_file(REPO, branch, "videos/01-getting-started/the-tide-comes-in.mp4") == longer
    assert (gh.read_file(REPO, branch, CHAPTER) or b"").decode().count(
        ":::{figure} ../videos/"
    ) == 1

    # No `--from`: the image model draws the first frame; the clip has its own PR. The book
    # asks for confirmation above $0.30: the worst case (the clip, and the drawn image at
    # Stability's ceiling of $0.10) waits for `/confirm`, and nothing is spent before it.
    runway.default = Behaviour()
    limit = SETTINGS + "budget:\n  confirm_above_usd: 0.3\n"
    gh.push(REPO, "main", {".github/liquidbook.yml": limit}, user="alice", message="limit")
    gh.comment(REPO, issue, "alice", '/generate video chapter 1 "Waves on the rocks"')
    held = w.wait_for(
        lambda: [c for c in w.status_comments(issue) if "⏸️ Waiting for confirmation" in c["body"]],
        what="the clip waiting for /confirm",
    )[0]
    assert "💰 Estimated cost: about $0.35, at most $0.35." in held["body"]
    assert not stability.requests and len(runway.calls("/v1/image_to_video")) == 2
    gh.comment(REPO, issue, "alice", "/confirm")
    w.wait_final(issue, count=4)
    [done] = [c for c in w.status_comments(issue) if c["id"] == held["id"]]
    assert "✅" in done["body"], done["body"]
    assert len(stability.requests) == 1 and len(video_prs(w)) == 2
    gh.push(REPO, "main", {".github/liquidbook.yml": SETTINGS}, user="alice", message="no limit")
    drawn = gh.read_file(
        REPO,
        "liquidbook/video-01-getting-started-waves-on-the-rocks",
        "videos/01-getting-started/waves-on-the-rocks.webp",
    )
    assert drawn is not None
    with Image.open(io.BytesIO(drawn)) as image:
        assert image.size == (1536, 864)

    # What must not become a commit.
    before = w.git("rev-parse", "--all")
    tasks = len(runway.calls("/v1/image_to_video"))
    gh.comment(REPO, issue, "alice", '/generate video chapter 1 "Gulls" --from fig-gulls')
    finals = w.wait_final(issue, count=5)
    assert "❌ Chapter 1 has no figure labelled `fig-gulls`" in finals[-1]["body"]
    assert "its figures are labelled `fig-shore`" in finals[-1]["body"]
    assert len(runway.calls("/v1/image_to_video")) == tasks  # nothing was asked, or paid

    cases = [
        (
            Behaviour(polls=1, job_status="failed", job_error="The image could not be animated."),
            "The image could not be animated.",
        ),
        # A moderation refusal (failureCode SAFETY.*): said as such.
        (
            Behaviour(job_status="failed", refusal="The prompt did not pass moderation."),
            "refused the request (The prompt did not pass moderation.)",
        ),
        (Behaviour(video=b"<html>surely a video</html>"), "not an MP4 file"),
        (Behaviour(video=h264_mp4(seconds=2, movie_seconds=20)), "20.0 s long"),
        (Behaviour(video=TINY_MP4 + padding(MAX_BYTES)), "more than the 10 MB"),
    ]
    for count, (behaviour, said) in enumerate(cases, start=6):
        runway.default = behaviour
        gh.comment(REPO, issue, "alice", '/generate video chapter 1 "The tide goes out"')
        finals = w.wait_final(issue, count=count)
        text = finals[-1]["body"]
        assert "❌" in text and said in text and "Nothing was committed" in text, text
    assert len(video_prs(w)) == 2 and w.git("rev-parse", "--all") == before


def padding(size: int) -> bytes:
    """A `free` box of `size` bytes: an MP4 may carry it, and players skip it."""
    return struct.pack(">I", size) + b"free" + bytes(size - 8)
