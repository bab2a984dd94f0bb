"""`/generate figure chapter N "<prompt>" [--after "<heading>"] [--aspect 16:9]`.

The book's image model (`models.image`) draws the figure, else the next of its
`image_fallbacks` (a model that fails, refuses or sends something that is not an image hands
over; the status and the PR say which drew it); the image is made fit for the book
(`bot.book.figure.optimise_image`: WebP, long edge ≤ 1600 px, no metadata, under 1 MB) and
committed as `images/<chapter stem>/<slug>.webp` (a base64 blob) with its prompt beside it
(`<slug>.yml`, so it can be regenerated). The text model writes the alt text and caption;
the chapter gets a MyST `{figure}` with a label, after the named heading or at the end of
the most relevant section. Each figure has its own branch and PR
(`liquidbook/figure-<chapter>-<slug>`): a second figure never overwrites the first, and the
same command again updates its own PR. The PR body shows the image through a link pinned to
the commit (written with the PR: no read and edit after). Something that is not a usable
image gets ❌ and nothing is committed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path, PurePosixPath
from tempfile import TemporaryDirectory
from typing import Any

from bot.book.figure import (
    ImageError,
    Optimised,
    figure_directive,
    figure_slug,
    optimise_image,
    place_figure,
)
from bot.book.paths import safe_book_path
from bot.book.prompts import Prompt, system_prompt
from bot.book.render import dump_yaml, render_chapter
from bot.book.selector import ChapterSelector
from bot.book_reader import checkout
from bot.jobs.generate import chapter_branch
from bot.jobs.proposal import (
    budget_for,
    finish_single,
    image_models_for,
    models_for,
    propose,
    repository_url,
    text_request,
    usage_line,
)
from bot.jobs.runner import command_job
from bot.pending import IMAGE_PROMPT_TOKENS, Estimate, ask_first, prompt_cost
from bot.providers import ProviderError, TextResult
from bot.providers.types import ImageRequest, ImageResult, Message
from bot.pull_request import BRANCH_PREFIX, shorten
from bot.services import Services
from bot.status import StatusComment
from bot.usage import UsageContext

SIZES = {
    "1:1": "1024x1024",
    "16:9": "1536x864",
    "3:2": "1536x1024",
    "4:3": "1024x768",
    "2:3": "1024x1536",
    "3:4": "768x1024",
    "9:16": "864x1536",
}
ALT_MAX_TOKENS = 400


def figure_branch(chapter_path_branch: str, slug: str) -> str:
    chapter = chapter_path_branch[len(BRANCH_PREFIX + "chapter-") :]
    return f"{BRANCH_PREFIX}figure-{chapter}-{slug}"[:200]


def alt_prompt(
    book_title: str, chapter_title: str, prompt: str, system: str, sees: bool = True
) -> Prompt:
    stable = (
        "You write the alt text and the caption of a figure in a book. Answer with JSON only: "
        '{"alt": "...", "caption": "..."}. The alt text says in one or two plain sentences '
        "(at most 250 characters) what the image shows, for a reader who cannot see it; the "
        "caption is one sentence for every reader."
    )
    user = (
        f"{stable}\n\nThe book: {book_title}\nThe chapter: {chapter_title}\n"
        + (
            "The image is attached: describe what it really shows. It was drawn by an image "
            "model from this request:"
            if sees
            else "You cannot see the image: it was drawn by an image model from this request, "
            "so describe what the request asks for."
        )
        + f"\n\n<request>\n{prompt}\n</request>\n"
    )
    return Prompt(system, user, stable)


def _alt_and_caption(answer: str, prompt: str) -> tuple[str, str]:
    match = re.search(r"\{.*\}", answer, re.S)
    try:
        data = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        data = {}
    alt = " ".join(str(data.get("alt") or "").split()) if isinstance(data, dict) else ""
    caption = " ".join(str(data.get("caption") or "").split()) if isinstance(data, dict) else ""
    if not alt:
        alt = " ".join(answer.split())[:250] or prompt[:250]
    return alt[:300], caption[:500] or alt[:200]


class DrawFailed(Exception):
    """No image model of the chain gave a usable image; the message says what each did."""


@dataclass
class Drawn:
    """The image the chain drew, made fit for the book, and what the models before it did."""

    image: ImageResult
    optimised: Optimised
    failed: list[str]
    cost_usd: Decimal  # of every image model tried, failures included

    def drawer(self) -> str:
        """Which model drew it, and which failed first, for the status and the PR."""
        after = f" (after {'; '.join(self.failed)})" if self.failed else ""
        return f"`{self.image.model}`{after}"


async def draw(
    client: Any,
    request: ImageRequest,
    models: list[str],
    context: UsageContext,
    budget: Any,
) -> Drawn:
    """One usable image from the first model of `models` that draws one: a model that
    fails or refuses (the provider chain) or whose answer is not an image the book can use
    (`optimise_image`) hands over to the next."""
    failed: list[str] = []
    spent = Decimal(0)
    remaining = list(models)
    while True:
        try:
            image = await client.generate_image(
                request, models=remaining, context=context, monthly_budget_usd=budget
            )
        except ProviderError as exc:
            before = f" (before that: {'; '.join(failed)})" if failed else ""
            raise DrawFailed(f"{exc.user_message}{before}") from exc
        failed += [f"`{a.model}` {a.summary()}" for a in image.attempts[:-1]]
        spent += sum((a.usage.cost_usd for a in image.attempts), Decimal(0))
        try:
            return Drawn(image, optimise_image(image.data), failed, spent)
        except ImageError as exc:
            failed.append(f"`{image.model}`: {exc}")
            rest = remaining[remaining.index(image.model) + 1 :] if image.model in remaining else []
            if not rest:
                raise DrawFailed(f"The figure could not be used: {'; '.join(failed)}.") from exc
            remaining = rest


def figure_estimate(
    services: Services, config: Any, image_models: list[str], title: str, drawing: ImageRequest
) -> Estimate:
    """The image (at worst drawn by every model of the chain, each failing but the last),
    then the alt text: at worst a request with the image (counted as `IMAGE_PROMPT_TOKENS` of
    prompt) and a second one without it."""
    text_model = models_for(config, services.settings)[0]
    alt = text_request(
        alt_prompt(config.title or "", title, drawing.prompt, system_prompt(config), False),
        ALT_MAX_TOKENS,
    )
    text = Estimate.text(text_model, alt, ALT_MAX_TOKENS)
    seen = prompt_cost(text_model, IMAGE_PROMPT_TOKENS)
    images = Estimate.image(image_models[0], drawing)
    for model in image_models[1:]:
        images = images + Estimate(Decimal(0), Estimate.image(model, drawing).worst)
    return (
        images + Estimate(text.typical + seen, text.worst + seen) + Estimate(Decimal(0), text.worst)
    )


async def generate_figure(
    ctx: dict[str, Any],
    request: dict[str, Any],
    command: dict[str, Any],
    status_ref: dict[str, Any],
) -> str:
    """Draw one figure for a chapter and propose it in its own PR."""

    async def run(services: Services, gh: Any, status: StatusComment) -> str:
        selector = ChapterSelector(**command["selector"])
        prompt = str(command["prompt"])
        await status.progress(f"📖 Reading the book at `{request['default_branch']}`…")
        with TemporaryDirectory(prefix="liquidbook-figure-") as tmp:
            co = await checkout(gh, request["repository"], request["default_branch"], Path(tmp))
            [chapter] = co.book.chapter(selector)
            config = co.book.config
            if not chapter.is_markdown or chapter.is_stub or chapter.missing:
                await status.finish(
                    f"❌ Chapter {chapter.number} has no Markdown text to hold a figure yet; "
                    f"write it first (`/generate chapter {chapter.number}`). Nothing was committed."
                )
                return "no chapter text"
            image_models = image_models_for(config, services.settings)
            if not image_models:
                await status.finish(
                    "❌ This book has no image model: set `models.image` in "
                    "`.github/liquidbook.yml` (for example `openai:gpt-image-2`). Nothing was "
                    "committed."
                )
                return "no image model"
            drawing = ImageRequest(
                prompt=prompt, size=SIZES.get(command.get("aspect", "1:1"), "1024x1024")
            )
            await ask_first(
                ctx,
                "generate_figure",
                [request, command, status_ref],
                status,
                config,
                figure_estimate(services, config, image_models, chapter.title, drawing),
            )
            started = time.monotonic()
            budget = budget_for(config, services.settings)
            client = services.model_client()
            context = UsageContext(request["installation_id"], request["repository"], "figure")
            await status.progress(f"✍️ Drawing the figure with `{image_models[0]}`…")
            try:
                drawn = await draw(client, drawing, image_models, context, budget)
            except DrawFailed as exc:
                await status.finish(f"❌ {exc} Nothing was committed.")
                return "image failed"
            image, optimised = drawn.image, drawn.optimised
            await status.progress("✍️ Writing the figure's alt text and caption…")
            text_models = models_for(config, services.settings)
            results: list[TextResult] = []
            system = system_prompt(config)
            seen = True
            try:
                # The image itself goes to the text model, as an image content block.
                looking = text_request(
                    alt_prompt(config.title or "", chapter.title, prompt, system), ALT_MAX_TOKENS
                )
                shown = Message(
                    "user", looking.prompt or "", images=(("image/webp", optimised.data),)
                )
                results.append(
                    await client.generate_text(
                        replace(looking, prompt=None, messages=[shown]),
                        models=text_models,
                        context=context,
                        monthly_budget_usd=budget,
                    )
                )
            except ProviderError:
                # A model without vision (or refusing the image): alt text from the prompt.
                seen = False
                try:
                    results.append(
                        await client.generate_text(
                            text_request(
                                alt_prompt(
                                    config.title or "", chapter.title, prompt, system, False
                                ),
                                ALT_MAX_TOKENS,
                            ),
                            models=text_models,
                            context=context,
                            monthly_budget_usd=budget,
                        )
                    )
                except ProviderError:
                    pass
            if results:
                alt, caption = _alt_and_caption(results[-1].text, prompt)
            else:
                alt, caption = " ".join(prompt.split())[:250], " ".join(prompt.split())[:200]
            stem = PurePosixPath(chapter.path).stem
            slug = figure_slug(prompt)
            image_path = safe_book_path(f"images/{stem}/{slug}.webp")
            sidecar = safe_book_path(f"images/{stem}/{slug}.yml")
            depth = chapter.path.count("/")
            relative = "../" * depth + image_path
            label = f"fig-{stem}-{slug}"[:80]
            figure = figure_directive(relative, label, alt, caption)
            try:
                body = place_figure(chapter.body, figure, command.get("after") or None, prompt)
            except ValueError as exc:
                await status.finish(f"❌ {exc}; nothing was committed.")
                return "no such heading"
            branch = figure_branch(chapter_branch(chapter), slug)
            files: dict[str, str | bytes | None] = {
                image_path: optimised.data,
                sidecar: dump_yaml(
                    {
                        "prompt": prompt,
                        "model": image.model,
                        "aspect": command.get("aspect", "1:1"),
                        "label": label,
                    }
                ),
                safe_book_path(chapter.path): render_chapter(chapter, body),
            }
            await status.progress("🔎 Checking the build with the figure…")
            usage = usage_line(results, time.monotonic() - started) if results else ""
            cost = f"${drawn.cost_usd:.4f}"
            note = (
                f"The alt text was written by `{results[-1].model}` looking at the image; check "
                "that it says what a reader needs."
                if seen and results
                else "The alt text was written from the prompt, not from the image (the text "
                "model could not take the image), so check that it matches the picture."
            )
            proposal = await propose(
                gh,
                request,
                co,
                files,
                branch=branch,
                title=f"Figure for chapter {chapter.number}: {shorten(prompt, 80)}",
                body=(
                    f"Adds a figure to **chapter {chapter.number}, {shorten(chapter.title, 200)}**: "
                    f"`{image_path}` ({optimised.width}×{optimised.height} WebP, "
                    f"{len(optimised.data) / 1024:.0f} KB), drawn by {drawn.drawer()} ({cost}) from:\n\n> "
                    + shorten(prompt, 1500).replace("\n", "\n> ")
                    + f"\n\nAlt text: {alt}\n\n{note}\n\nThe prompt is kept in `{sidecar}`.\n"
                ),
                details=f"Text model: {usage}" if usage else "",
                redis=services.redis,
                lead=image_lead(
                    repository_url(request, services.settings.github_web_url), image_path, alt
                ),
            )
        return await finish_single(
            status,
            proposal,
            "figure",
            f"Figure for chapter {chapter.number}",
            f"drawn by {drawn.drawer()} {cost}",
        )

    return await command_job(ctx, request, status_ref, "generate_figure", run)


def image_lead(repo_url: str, path: str, alt: str) -> Callable[[str], str]:
    """The top of the PR body: the image, linked at the commit that adds it (known once
    the commit is made, before the PR is written: no read and edit of the PR after)."""
    alt_text = alt.replace("]", " ").replace("[", " ")

    def lead(sha: str) -> str:
        return f"![{alt_text}]({repo_url}/blob/{sha}/{path}?raw=true)\n\n"

    return lead
