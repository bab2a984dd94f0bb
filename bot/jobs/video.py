"""`/generate video chapter N "<prompt>" [--from <figure label>] [--seconds 5|10]`.

The server's video model (`LIQUIDBOOK_VIDEO_MODEL`, Runway image-to-video) makes a clip
from a start image: the chapter's figure named by `--from` (its label), else an image drawn
first by the book's image model (`models.image`); with neither, the job says what is needed.
The start image, made WebP (`bot.book.figure.optimise_image`), is the model's first frame and
the clip's poster. The clip is checked from its own bytes (`bot.book.clip.check_mp4`: an MP4
of at most 10 MB and 15 s, whatever the provider says) and committed as
`videos/<chapter stem>/<slug>.mp4` with `<slug>.webp` (the poster) and `<slug>.yml` (the
prompt, to make it again); the chapter gets a `{figure}` of the MP4, which the site plays as
a video. Each clip has its own branch and PR (`liquidbook/video-<chapter>-<slug>`); the same
command again replaces the clip in that PR. Before anything is spent, the worst case (the
clip's seconds at the price table's per-second price, and the start image when one is
drawn) is stated in the status comment, and over `budget.confirm_above_usd` the job waits
for `/confirm`. Usage is recorded under the command `video`. A failed task, a file that is
no MP4, or one too long or too large gets ❌ and nothing is committed.
"""

from __future__ import annotations

import base64
import posixpath
from decimal import Decimal
from pathlib import Path, PurePosixPath
from tempfile import TemporaryDirectory
from typing import Any

from bot import pending
from bot.book.clip import ClipError, check_mp4, figure_labels
from bot.book.figure import ImageError, figure_directive, figure_slug, optimise_image, place_figure
from bot.book.paths import UnsafePathError, safe_book_path
from bot.book.render import dump_yaml, render_chapter
from bot.book.selector import ChapterSelector
from bot.book_reader import checkout
from bot.jobs.figure import SIZES, image_lead
from bot.jobs.generate import chapter_branch
from bot.jobs.proposal import budget_for, finish_single, propose, repository_url
from bot.jobs.runner import command_job
from bot.providers import ProviderError
from bot.providers.budget import estimate_image, estimate_video
from bot.providers.prices import default_table
from bot.providers.types import ImageRequest, VideoRequest
from bot.pull_request import BRANCH_PREFIX, shorten
from bot.services import Services
from bot.status import StatusComment
from bot.usage import UsageContext

# Runway's landscape ratio; the start image is drawn at the nearest size.
RATIO = "1280:720"
START_SIZE = SIZES["16:9"]
MAX_START_BYTES = 20 * 1024 * 1024


def video_branch(chapter_path_branch: str, slug: str) -> str:
    chapter = chapter_path_branch[len(BRANCH_PREFIX + "chapter-") :]
    return f"{BRANCH_PREFIX}video-{chapter}-{slug}"[:200]


def clip_estimate(video_model: str, seconds: int, image_model: str | None) -> Decimal:
    """The worst case in USD: the clip at its per-second price (the provider's ceiling when
    the model is unpriced), and the start image when one is drawn first."""
    prices = default_table()
    worst = estimate_video(prices, video_model, VideoRequest(prompt="", image="", duration=seconds))
    if image_model:
        worst += estimate_image(prices, image_model, ImageRequest(prompt="", size=START_SIZE))
    return worst


def labels_sentence(labels: list[str]) -> str:
    if not labels:
        return "it has no figures yet"
    shown = ", ".join(f"`{label}`" for label in labels[:20])
    more = f" and {len(labels) - 20} more" if len(labels) > 20 else ""
    return f"its figures are labelled {shown}{more}"


def start_figure(directory: Path, chapter_path: str, target: str) -> bytes:
    """The bytes of the image a chapter's figure names (relative to the chapter, or to the
    book root when it starts with `/`); `ValueError` saying why it cannot be read."""
    if "://" in target:
        raise ValueError("it names an image on the web, not a file of the book")
    joined = (
        target.lstrip("/")
        if target.startswith("/")
        else posixpath.normpath(posixpath.join(posixpath.dirname(chapter_path), target))
    )
    try:
        relative = safe_book_path(joined)
    except UnsafePathError:
        raise ValueError("its image is outside the book") from None
    root = directory.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ValueError(f"its image `{shorten(relative, 200)}` is not in the book")
    if path.stat().st_size > MAX_START_BYTES:
        raise ValueError(f"its image `{shorten(relative, 200)}` is too large")
    return path.read_bytes()


async def generate_video(
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Make one clip for a chapter and propose it in its own PR."""

    async def run(services: Services, gh: Any, status: StatusComment) -> str:
        selector = ChapterSelector(**command["selector"])
        prompt = str(command["prompt"])
        label_from = str(command.get("start") or "")
        shown_label = shorten(label_from.replace("`", "'"), 100)
        seconds = int(command.get("seconds") or 5)
        video_model = services.settings.liquidbook_video_model
        if not video_model:
            await status.finish(
                "❌ Clips need a video provider, and this server has none configured "
                "(`LIQUIDBOOK_VIDEO_MODEL`); nothing was done."
            )
            return "no video model"
        await status.progress(f"📖 Reading the book at `{request['default_branch']}`…")
        with TemporaryDirectory(prefix="liquidbook-video-") as tmp:
            co = await checkout(gh, request["repository"], request["default_branch"], Path(tmp))
            [chapter] = co.book.chapter(selector)
            config = co.book.config
            if not chapter.is_markdown or chapter.is_stub or chapter.missing:
                await status.finish(
                    f"❌ Chapter {chapter.number} has no Markdown text to hold a clip yet; "
                    f"write it first (`/generate chapter {chapter.number}`). Nothing was committed."
                )
                return "no chapter text"
            figures = figure_labels(chapter.body)
            start: bytes | None = None
            image_model: str | None = None
            if label_from:
                if label_from not in figures:
                    await status.finish(
                        f"❌ Chapter {chapter.number} has no figure labelled "
                        f"`{shown_label}`: {labels_sentence(list(figures))}. "
                        "Name one of them with `--from`, or leave `--from` out to have a start "
                        "image drawn. Nothing was committed."
                    )
                    return "no such figure"
                try:
                    start = start_figure(co.directory, chapter.path, figures[label_from])
                except ValueError as exc:
                    await status.finish(
                        f"❌ The figure `{shown_label}` cannot start the clip: "
                        f"{exc}. Nothing was committed."
                    )
                    return "bad start figure"
            else:
                image_model = config.models.image or services.settings.liquidbook_image_model
                if not image_model:
                    await status.finish(
                        "❌ A clip starts from an image: name one of the chapter's figures with "
                        f"`--from <label>` ({labels_sentence(list(figures))}), or set "
                        "`models.image` in `.github/liquidbook.yml` so one is drawn first. "
                        "Nothing was committed."
                    )
                    return "no start image"
            worst = clip_estimate(video_model, seconds, image_model)
            if await pending.gate(
                services,
                ctx,
                "generate_video",
                [request, command, status_ref],
                status,
                config.budget.confirm_above_usd,
                worst,
                worst,
            ):
                return "waiting for confirmation"
            budget = budget_for(config, services.settings)
            client = services.model_client()
            context = UsageContext(request["installation_id"], request["repository"], "video")
            spent = Decimal(0)
            if start is None and image_model:
                await status.progress(f"✍️ Drawing the clip's first frame with `{image_model}`…")
                try:
                    image = await client.generate_image(
                        ImageRequest(prompt=prompt, size=START_SIZE),
                        models=[image_model],
                        context=context,
                        monthly_budget_usd=budget,
                    )
                except ProviderError as exc:
                    await status.finish(f"❌ {exc.user_message} Nothing was committed.")
                    return "image failed"
                start = image.data
                spent += image.usage.cost_usd
            assert start is not None
            try:
                poster = optimise_image(start)
            except ImageError as exc:
                await status.finish(
                    f"❌ The start image could not be used: {exc}. Nothing was committed."
                )
                return "bad start image"
            await status.progress(
                f"✍️ Making the clip with `{video_model}` ({seconds} s; this takes a while)…"
            )
            try:
                video = await client.generate_video(
                    VideoRequest(
                        prompt=prompt,
                        image="data:image/webp;base64," + base64.b64encode(poster.data).decode(),
                        duration=seconds,
                        ratio=RATIO,
                    ),
                    models=[video_model],
                    context=context,
                    monthly_budget_usd=budget,
                )
            except ProviderError as exc:
                await status.finish(f"❌ {exc.user_message} Nothing was committed.")
                return "video failed"
            spent += video.usage.cost_usd
            try:
                clip = check_mp4(video.data)
            except ClipError as exc:
                await status.finish(
                    f"❌ The clip from `{video.model}` could not be used: {exc}. Nothing was "
                    "committed (what the provider charged is in `/usage`)."
                )
                return "bad clip"
            stem = PurePosixPath(chapter.path).stem
            slug = figure_slug(prompt)
            clip_path = safe_book_path(f"videos/{stem}/{slug}.mp4")
            poster_path = safe_book_path(f"videos/{stem}/{slug}.webp")
            sidecar = safe_book_path(f"videos/{stem}/{slug}.yml")
            relative = "../" * chapter.path.count("/") + clip_path
            label = f"vid-{stem}-{slug}"[:80]
            alt = f"A {clip.seconds:.0f}-second clip: {' '.join(prompt.split())}"
            directive = figure_directive(relative, label, alt, " ".join(prompt.split())[:500])
            body = place_figure(chapter.body, directive, None, prompt)
            files: dict[str, str | bytes | None] = {
                clip_path: video.data,
                poster_path: poster.data,
                sidecar: dump_yaml(
                    {
                        "prompt": prompt,
                        "model": video.model,
                        "seconds": seconds,
                        "from": label_from or None,
                        "label": label,
                        "poster": PurePosixPath(poster_path).name,
                    }
                ),
                safe_book_path(chapter.path): render_chapter(chapter, body),
            }
            await status.progress("🔎 Checking the build with the clip…")
            # A model missing from the price table is recorded at 0: say so, not "$0".
            cost = (
                "cost unpriced (not in the price table)"
                if video.usage.outcome.endswith("unpriced")
                else f"${spent:.4f}"
            )
            started_from = (
                f"the figure `{label_from}`" if label_from else f"an image drawn by `{image_model}`"
            )
            proposal = await propose(
                gh,
                request,
                co,
                files,
                branch=video_branch(chapter_branch(chapter), slug),
                title=f"Clip for chapter {chapter.number}: {shorten(prompt, 80)}",
                body=(
                    f"Adds a clip to **chapter {chapter.number}, {shorten(chapter.title, 200)}**: "
                    f"`{clip_path}` ({clip.seconds:.1f} s, {clip.size / 1024:.0f} KB MP4), made "
                    f"by `{video.model}` ({cost}) from {started_from} and this prompt:\n\n> "
                    + shorten(prompt, 1000).replace("\n", "\n> ")
                    + f"\n\nThe poster above is the clip's first frame (`{poster_path}`); the "
                    f"built site plays the clip where the chapter shows `{label}`. The prompt is "
                    f"kept in `{sidecar}`.\n"
                ),
                redis=services.redis,
                lead=image_lead(
                    repository_url(request, services.settings.github_web_url),
                    poster_path,
                    f"Poster of the clip: {alt}",
                ),
            )
        return await finish_single(
            status,
            proposal,
            "clip",
            f"Clip for chapter {chapter.number}",
            f"`{video.model}`, {clip.seconds:.1f} s, {cost}",
        )

    return await command_job(ctx, request, status_ref, "generate_video", run)
