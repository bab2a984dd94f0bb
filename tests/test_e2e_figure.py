"""`/generate figure chapter N "…"` over HTTP against every image provider's stand-in
(Stability, OpenAI Images, Replicate, OpenRouter's image output: their real wire formats),
the OpenAI-compatible text stand-in, the GitHub stand-in, git and the real build.

One world: a figure is drawn, optimised to WebP, committed with its prompt and placed after
the named heading with alt text and a label, and the PR body shows it pinned to the commit;
a second figure gets its own PR; the same figure again updates its PR; bytes that are not
an image get ❌ and no commit; a book that names an OpenAI-Images model (here behind a
gateway of its own, `IMAGEGATE_BASE_URL`), a Replicate model or an OpenRouter model gets
its figure from there; with `models.image_fallbacks`, a first model that fails (5xx),
refuses or sends something that is not an image hands over to the next, and the status and
the PR say which drew it. Every image model call is a usage row of the command `figure`.
`/generate video` on this server, which has no video provider, is answered in one line and
runs no job.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from bot.db import Database, Usage
from standins.providers.behaviour import Behaviour
from standins.providers.openai_chat import OpenAIChatStandIn
from standins.providers.openai_images import OpenAIImagesStandIn
from standins.providers.replicate import ReplicateStandIn
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


class Images:
    """The image providers' stand-ins of the world."""

    def __init__(self) -> None:
        self.stability = StabilityStandIn().start()
        self.openai_images = OpenAIImagesStandIn(api_key="sk-images").start()
        self.replicate = ReplicateStandIn().start()
        self.openrouter = OpenAIChatStandIn("openrouter", api_key="sk-or-test").start()
        for std in self.all():
            std.default = Behaviour(image=drawing())

    def all(self) -> list[Any]:
        return [self.stability, self.openai_images, self.replicate, self.openrouter]


@pytest.fixture
def world(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[tuple[World, Images]]:
    world = World(tmp_path, redis_url, database_url)
    world.model.default = Behaviour(text=answer)
    images = Images()
    try:
        world.github.push(
            REPO, "main", {".github/liquidbook.yml": SETTINGS}, user="alice", message="image model"
        )
        world.start_app(
            STABILITY_API_KEY=images.stability.api_key,
            STABILITY_BASE_URL=images.stability.root_url,
            IMAGEGATE_BASE_URL=images.openai_images.base_url,
            IMAGEGATE_API_KEY=images.openai_images.api_key,
            REPLICATE_API_TOKEN=images.replicate.api_key,
            REPLICATE_BASE_URL=images.replicate.base_url,
            OPENROUTER_API_KEY=images.openrouter.api_key,
            OPENROUTER_BASE_URL=images.openrouter.base_url,
            POLL_INTERVAL_S="0.05",
            RETRY_BASE_S="0.01",
            RETRY_CAP_S="0.05",
        )
        world.install()
        yield world, images
    finally:
        for std in images.all():
            std.stop()
        world.close()


def figure_prs(world: World) -> list[dict[str, Any]]:
    return [
        p for p in world.github.pulls(REPO) if p["head"]["ref"].startswith("liquidbook/figure-")
    ]


def use_image_models(world: World, settings: str) -> None:
    world.github.push(
        REPO, "main", {".github/liquidbook.yml": settings}, user="alice", message="image models"
    )


def assert_figure(world: World, slug: str, alt: str) -> dict[str, Any]:
    """The figure's PR: a WebP under 1 MB, a labelled `{figure}` with its alt text in the
    chapter, and the PR body showing the image at the branch's head commit."""
    [pr] = [p for p in figure_prs(world) if p["head"]["ref"].endswith(f"-{slug}")]
    branch = pr["head"]["ref"]
    webp = world.github.read_file(REPO, branch, f"images/01-getting-started/{slug}.webp")
    assert webp is not None and len(webp) < 1024 * 1024
    with Image.open(io.BytesIO(webp)) as image:
        assert image.format == "WEBP"
    chapter = world.github.read_file(REPO, branch, CHAPTER).decode()
    assert f":::{{figure}} ../images/01-getting-started/{slug}.webp" in chapter
    assert f":alt: {alt}" in chapter and alt.strip()
    assert f":label: fig-01-getting-started-{slug}" in chapter
    head = world.git("rev-parse", branch).strip()
    escaped = re.escape(alt)
    link = rf"!\[{escaped}\]\(\S+/blob/{head}/images/01-getting-started/{slug}\.webp\?raw=true\)"
    assert re.match(link, pr["body"]), pr["body"]
    return pr


def figure_usage(world: World) -> list[tuple[str | None, str, str]]:
    async def rows() -> list[tuple[str | None, str, str]]:
        db = Database(world.database_url)
        try:
            async with db.session() as session:
                found = (await session.execute(select(Usage).order_by(Usage.id))).scalars()
                return [(r.command, f"{r.provider}:{r.model}", r.outcome) for r in found]
        finally:
            await db.close()

    return asyncio.run(rows())


# On PostgreSQL: the usage rows are read back from the real database the app wrote.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_figures_each_in_their_own_pr(world: tuple[World, Images]) -> None:
    w, images = world
    stability, openai_images = images.stability, images.openai_images
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
    job = w.job_calls(calls)
    print(f"GitHub calls for a figure: {len(job)}: {job}")
    # Book (branch, tarball), the image's blob, tree, commit, ref, the PR (written once, the
    # image already pinned to the commit), its check run, the final status: 8 besides the blob.
    assert len(job) <= 9, job
    assert "GET /repos/{owner}/{repo}/pulls/{pull_number}" not in job
    assert "PATCH /repos/{owner}/{repo}/pulls/{pull_number}" not in job
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

    # Replicate: a prediction created, polled until it succeeds, its output file downloaded.
    images.replicate.default = Behaviour(image=drawing(), polls=1)
    use_image_models(w, "models:\n  image: replicate:black-forest-labs/flux-schnell\n")
    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "A sea star" --aspect 3:2')
    finals = w.wait_final(issue, count=6)
    body = finals[-1]["body"]
    assert "✅" in body and "`replicate:black-forest-labs/flux-schnell`" in body, body
    create = images.replicate.requests[0]
    assert create.path == "/v1/models/black-forest-labs/flux-schnell/predictions"
    assert create.body["input"]["prompt"] == "A sea star"
    assert create.body["input"]["aspect_ratio"] == "3:2"
    assert any(r.path.startswith("/files/") for r in images.replicate.requests)
    assert_figure(w, "a-sea-star", "Three tide zones, labelled.")

    # OpenRouter: image output from a chat completion (`modalities`, a data URL).
    use_image_models(w, "models:\n  image: openrouter:google/gemini-2.5-flash-image-preview\n")
    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "A hermit crab"')
    finals = w.wait_final(issue, count=7)
    body = finals[-1]["body"]
    assert "✅" in body and "`openrouter:google/gemini-2.5-flash-image-preview`" in body, body
    [call] = images.openrouter.requests
    assert call.body["modalities"] == ["image", "text"]
    assert call.body["model"] == "google/gemini-2.5-flash-image-preview"
    assert_figure(w, "a-hermit-crab", "Three tide zones, labelled.")

    # The fallback chain: the first image model answers 500, the second sends bytes that
    # are not an image, the third draws it; the status and the PR say who did what.
    use_image_models(
        w,
        "models:\n  image: stability:core\n  image_fallbacks:\n"
        "    - imagegate:gpt-image-2\n    - replicate:black-forest-labs/flux-schnell\n",
    )
    stability.default = Behaviour(status=500)
    openai_images.default = Behaviour(image=b"<html>surely an image</html>")
    images.replicate.default = Behaviour(image=drawing())
    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "A limpet"')
    finals = w.wait_final(issue, count=8)
    body = finals[-1]["body"]
    assert "✅" in body, body
    assert "drawn by `replicate:black-forest-labs/flux-schnell` (after `stability:core`" in body
    assert "`imagegate:gpt-image-2`: what the image model sent is not an image" in body
    pr = assert_figure(w, "a-limpet", "Three tide zones, labelled.")
    assert (
        "drawn by `replicate:black-forest-labs/flux-schnell` (after `stability:core`" in pr["body"]
    )
    sidecar = gh.read_file(REPO, pr["head"]["ref"], "images/01-getting-started/a-limpet.yml")
    assert sidecar is not None and b"model: replicate:black-forest-labs/flux-schnell" in sidecar

    # A refusal (Stability's content moderation) hands over too.
    stability.default = Behaviour(moderated=True)
    openai_images.default = Behaviour(image=drawing())
    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "A mussel bed"')
    finals = w.wait_final(issue, count=9)
    body = finals[-1]["body"]
    assert "✅" in body and "drawn by `imagegate:gpt-image-2` (after `stability:core`" in body
    assert_figure(w, "a-mussel-bed", "Three tide zones, labelled.")

    # When every model of the chain fails, nothing is committed and the status says why.
    openai_images.default = Behaviour(status=500)
    images.replicate.default = Behaviour(job_status="failed", job_error="NSFW content detected")
    before = w.git("rev-parse", "--all")
    gh.comment(REPO, issue, "alice", '/generate figure chapter 1 "A barnacle"')
    finals = w.wait_final(issue, count=10)
    body = finals[-1]["body"]
    assert "❌" in body and "Nothing was committed" in body, body
    assert w.git("rev-parse", "--all") == before

    # Every image model call, failed or not, is a usage row of the command `figure`, next
    # to the alt-text calls of the text model.
    rows = figure_usage(w)
    assert {command for command, _, _ in rows} == {"figure"}, rows
    drawn_by = [(model, outcome) for _, model, outcome in rows if "gpt-4.1" not in model]
    assert ("replicate:black-forest-labs/flux-schnell", "ok") in drawn_by
    assert ("openrouter:google/gemini-2.5-flash-image-preview", "ok") in drawn_by
    assert any(m == "stability:core" and o != "ok" for m, o in drawn_by), drawn_by
    assert any(m == "imagegate:gpt-image-2" and o.startswith("ok") for m, o in drawn_by)
    assert any(m == "openai:gpt-4.1" for _, m, _ in rows)

    # No video provider on this server: `/generate video` says so in one line, and no job runs.
    gh.comment(REPO, issue, "alice", '/generate video chapter 1 "The tide comes in"')
    finals = w.wait_final(issue, count=11)
    answer_lines = [line for line in finals[-1]["body"].splitlines()[2:] if line.strip()]
    assert answer_lines == [
        "❌ Clips need a video provider, and this server has none configured "
        "(`LIQUIDBOOK_VIDEO_MODEL`, such as `runway:gen4_turbo`, with `RUNWAY_API_KEY`); "
        "nothing was done."
    ], finals[-1]["body"]
    assert not [p for p in gh.pulls(REPO) if p["head"]["ref"].startswith("liquidbook/video-")]
