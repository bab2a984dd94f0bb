"""`/generate figure chapter N "…"` over HTTP against the Stability stand-in and the OpenAI
Images stand-in (their real wire formats), the OpenAI-compatible text stand-in, the GitHub
stand-in, git and the real build.

One world: a figure is drawn, optimised to WebP, committed with its prompt and placed after
the named heading with alt text and a label, and the PR body shows it pinned to the commit;
a second figure gets its own PR; the same figure again updates its PR; bytes that are not
an image get ❌ and no commit; a book that names an OpenAI-Images model (here behind a
gateway of its own, `IMAGEGATE_BASE_URL`) gets its figure from there; `/generate video` on
this server, which has no video provider, is answered in one line and runs no job.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from standins.providers.behaviour import Behaviour
from standins.providers.openai_images import OpenAIImagesStandIn
from standins.providers.stability import StabilityStandIn
from tests.world import REPO, World, scripted_answer

CHAPTER = "chapters/01-getting-started.md"
SETTINGS = "models:\n  image: stability:core\n"


def drawing() -> bytes:
    image = Image.linear_gradient("L").resize((1536, 1024)).convert("RGB")
    ImageDraw.Draw(image).ellipse((200, 200, 900, 700), outline=(200, 30, 30), width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def answer(request: dict[str, Any]) -> str:
    prompt = "\n".join(str(m.get("content")) for m in request.get("messages", []))
    if "alt text and the caption" in prompt:
        return json.dumps(
            {"alt": "Three tide zones, labelled.", "caption": "The zones of a shore."}
        )
    return scripted_answer(request)


@pytest.fixture
def world(
    tmp_path: Path, redis_url: str, database_url: str
) -> Iterator[tuple[World, StabilityStandIn, OpenAIImagesStandIn]]:
    world = World(tmp_path, redis_url, database_url)
    world.model.default = Behaviour(text=answer)
    stability = StabilityStandIn().start()
    stability.default = Behaviour(image=drawing())
    openai_images = OpenAIImagesStandIn(api_key="sk-images").start()
    openai_images.default = Behaviour(image=drawing())
    try:
        world.github.push(
            REPO, "main", {".github/liquidbook.yml": SETTINGS}, user="alice", message="image model"
        )
        world.start_app(
            STABILITY_API_KEY=stability.api_key,
            STABILITY_BASE_URL=stability.root_url,
            IMAGEGATE_BASE_URL=openai_images.base_url,
            IMAGEGATE_API_KEY=openai_images.api_key,
        )
        world.install()
        yield world, stability, openai_images
    finally:
        openai_images.stop()
        stability.stop()
        world.close()


def figure_prs(world: World) -> list[dict[str, Any]]:
    return [
        p for p in world.github.pulls(REPO) if p["head"]["ref"].startswith("liquidbook/figure-")
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_figures_each_in_their_own_pr(
    world: tuple[World, StabilityStandIn, OpenAIImagesStandIn],
) -> None:
    w, stability, openai_images = world
    gh = w.github
    issue = gh.open_issue(REPO, "alice", "Figures")
    calls = len(gh.requests)
    gh.comment(
        REPO,
        issue,
        "alice",
        '/generate figure chapter 1 "A labelled diagram of tide zones" --after "Where to go next"',
    )
    [final] = w.wait_final(issue)
    assert "✅" in final["body"], final["body"]
    w.github.settle()
    used = [f"{r.method} {r.route}" for r in gh.requests[calls:]]
    print(f"GitHub calls for a figure: {len(used)}: {used}")
    assert len(stability.requests) == 1
    [pr] = figure_prs(w)
    branch = pr["head"]["ref"]
    assert branch == "liquidbook/figure-01-getting-started-a-labelled-diagram-of-tide-zones"
    webp = gh.read_file(
        REPO, branch, "images/01-getting-started/a-labelled-diagram-of-tide-zones.webp"
    )
    assert webp is not None and len(webp) < 1024 * 1024
    with Image.open(io.BytesIO(webp)) as image:
        assert image.format == "WEBP" and image.size == (1536, 1024)
    sidecar = gh.read_file(
        REPO, branch, "images/01-getting-started/a-labelled-diagram-of-tide-zones.yml"
    )
    assert sidecar is not None and b"A labelled diagram of tide zones" in sidecar
    chapter = gh.read_file(REPO, branch, CHAPTER).decode()
    assert (
        ":::{figure} ../images/01-getting-started/a-labelled-diagram-of-tide-zones.webp" in chapter
    )
    assert ":alt: Three tide zones, labelled." in chapter
    assert ":label: fig-01-getting-started-a-labelled-diagram-of-tide-zones" in chapter
    assert chapter.index("## Where to go next") < chapter.index(":::{figure}")
    head = w.git("rev-parse", branch).strip()
    [body] = [p["body"] for p in gh.pulls(REPO) if p["number"] == pr["number"]]
    assert re.search(rf"!\[Three tide zones, labelled\.\]\(\S+/blob/{head}/images/", body), body
    assert "looking at the image" in body
    # The alt text came from the image itself: it went to the text model as an image part.
    [seen] = [r.body for r in w.model.requests if "alt text and the caption" in json.dumps(r.body)]
    parts = seen["messages"][-1]["content"]
    [image_part] = [p for p in parts if p["type"] == "image_url"]
    sent = base64.b64decode(image_part["image_url"]["url"].split(",", 1)[1])
    assert image_part["image_url"]["url"].startswith("data:image/webp;base64,") and sent == webp

    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "A tide table"')
    w.wait_final(issue, count=2)
    assert len(figure_prs(w)) == 2

    gh.comment(
        REPO,
        issue,
        "alice",
        '/generate figure chapter 1 "A labelled diagram of tide zones" --after "Cross-references"',
    )
    finals = w.wait_final(issue, count=3)
    assert "✅" in finals[-1]["body"], finals[-1]["body"]
    assert len(figure_prs(w)) == 2
    chapter = gh.read_file(REPO, branch, CHAPTER).decode()
    assert chapter.count(":::{figure}") == 1
    assert chapter.index(":::{figure}") < chapter.index("## Where to go next")

    stability.default = Behaviour(image=b"<html>surely an image</html>")
    before = w.git("rev-parse", "--all")
    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "Something else"')
    finals = w.wait_final(issue, count=4)
    assert "❌" in finals[-1]["body"] and "not an image" in finals[-1]["body"]
    assert "Nothing was committed" in finals[-1]["body"]
    assert len(figure_prs(w)) == 2 and w.git("rev-parse", "--all") == before

    # Another provider's wire format: OpenAI's Images API (`b64_json`, token usage).
    gh.push(
        REPO,
        "main",
        {".github/liquidbook.yml": "models:\n  image: imagegate:gpt-image-2\n"},
        user="alice",
        message="image model from OpenAI Images",
    )
    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "A rock pool"')
    finals = w.wait_final(issue, count=5)
    assert "✅" in finals[-1]["body"] and "imagegate:gpt-image-2" in finals[-1]["body"]
    [call] = openai_images.requests
    assert call.path == "/v1/images/generations" and call.body["model"] == "gpt-image-2"
    [rock] = [p for p in figure_prs(w) if p["head"]["ref"].endswith("a-rock-pool")]
    drawn = gh.read_file(REPO, rock["head"]["ref"], "images/01-getting-started/a-rock-pool.webp")
    assert drawn is not None
    with Image.open(io.BytesIO(drawn)) as image:
        assert image.format == "WEBP" and image.size == (1536, 1024)

    # No video provider on this server: `/generate video` says so in one line, and no job runs.
    gh.comment(REPO, issue, "alice", '/generate video chapter 1 "The tide comes in"')
    finals = w.wait_final(issue, count=6)
    answer_lines = [line for line in finals[-1]["body"].splitlines()[2:] if line.strip()]
    assert answer_lines == [
        "❌ Clips need a video provider, and this server has none configured "
        "(`LIQUIDBOOK_VIDEO_MODEL`, such as `runway:gen4_turbo`, with `RUNWAY_API_KEY`); "
        "nothing was done."
    ], finals[-1]["body"]
    assert not [p for p in gh.pulls(REPO) if p["head"]["ref"].startswith("liquidbook/video-")]
