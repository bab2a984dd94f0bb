"""Images (OpenAI Images, Stability, OpenRouter image output, Replicate) and video (Runway)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal

import pytest
import yaml
from openai.types.image_generate_params import ImageGenerateParamsNonStreaming
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.db import Database, Usage
from bot.providers import ImageRequest, ModelClient, ProviderError, VideoRequest, wire
from bot.providers.prices import PriceTable
from bot.usage import UsageContext
from standins.providers import (
    Behaviour,
    OpenAIChatStandIn,
    OpenAIImagesStandIn,
    ReplicateStandIn,
    RunwayStandIn,
    StabilityStandIn,
    answer,
    rate_limited,
)
from standins.providers.images import TINY_MP4, tiny_png
from standins.providers.openai_images import IMAGE_MODELS
from standins.providers.replicate import problem
from standins.providers.testing import settings_for
from standins.providers.validation import check

PNG = tiny_png(3, 3, (1, 2, 3))

# Prices for these tests' arithmetic (the shipped table follows the providers' lists and
# changes; what is tested here is how a price becomes a cost).
PRICES = PriceTable.from_mapping(
    yaml.safe_load(
        """
models:
  openai:gpt-image-2.6-flare: {input: 5.00, output: 40.00}
  openai:dall-e-3:
    per_image: 0.04
    per_image_by:
      standard 1024x1024: 0.04
      standard 1024x1792: 0.08
      standard 1792x1024: 0.08
      hd 1024x1024: 0.08
      hd 1024x1792: 0.12
      hd 1792x1024: 0.12
  openai:dall-e-2: {per_image: 0.02}
  stability:core: {per_image: 0.03}
  stability:ultra: {per_image: 0.08}
  replicate:black-forest-labs/flux-schnell: {per_image: 0.003}
  runway:gen4_turbo: {per_second: 0.05}
"""
    )
)
# DALL·E was retired from OpenAI's API on 2026-05-12: this stand-in plays a gateway that
# still serves it, next to the current GPT image models.
LEGACY_IMAGE_MODELS = IMAGE_MODELS | {"dall-e-2", "dall-e-3"}


@pytest.fixture(scope="module")
def images_std() -> Iterator[OpenAIImagesStandIn]:
    with OpenAIImagesStandIn(known_models=LEGACY_IMAGE_MODELS) as std:
        yield std  # type: ignore[misc]


@pytest.fixture(scope="module")
def stability_std() -> Iterator[StabilityStandIn]:
    with StabilityStandIn() as std:
        yield std  # type: ignore[misc]


@pytest.fixture(scope="module")
def replicate_std() -> Iterator[ReplicateStandIn]:
    with ReplicateStandIn() as std:
        yield std  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _fresh(
    images_std: OpenAIImagesStandIn,
    stability_std: StabilityStandIn,
    replicate_std: ReplicateStandIn,
) -> None:
    for std in (images_std, stability_std, replicate_std):
        std.reset()


async def test_gpt_image_is_priced_by_tokens(images_std: OpenAIImagesStandIn) -> None:
    images_std.script(Behaviour(image=PNG))
    async with ModelClient(settings_for(openai=images_std), prices=PRICES) as client:
        image = await client.generate_image(
            ImageRequest(prompt="A lighthouse", size="1536x1024", output_format="webp"),
            ["openai:gpt-image-2.6-flare"],
        )
    (seen,) = images_std.requests
    check(ImageGenerateParamsNonStreaming, seen.body)
    assert seen.body == {
        "model": "gpt-image-2.6-flare",
        "prompt": "A lighthouse",
        "n": 1,
        "size": "1536x1024",
        "output_format": "webp",
    }
    assert image.data == PNG and image.media_type == "image/webp"
    # $5/M text in, $40/M image out; the stand-in reports 1056 output tokens.
    prompt_tokens = len("A lighthouse") // 4
    assert image.usage.cost_usd == (Decimal(prompt_tokens) * 5 + Decimal(1056) * 40) / 10**6


async def test_dall_e_asks_for_base64_and_costs_per_image(images_std: OpenAIImagesStandIn) -> None:
    async with ModelClient(settings_for(openai=images_std), prices=PRICES) as client:
        image = await client.generate_image(
            ImageRequest(prompt="A cat", size="1920x1080"), ["openai:dall-e-3"]
        )
    (seen,) = images_std.requests
    assert seen.body["response_format"] == "b64_json" and seen.body["size"] == "1792x1024"
    assert image.revised_prompt == "A picture of A cat"
    assert image.usage.cost_usd == Decimal("0.08")  # standard quality, wide
    assert image.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("size", "quality", "cost"),
    [
        # OpenAI's published DALL·E 3 prices, by quality and size.
        ("1024x1024", None, "0.04"),
        ("1024x1024", "standard", "0.04"),
        ("1024x1792", "standard", "0.08"),
        ("1792x1024", "standard", "0.08"),
        ("1024x1024", "hd", "0.08"),
        ("1024x1792", "hd", "0.12"),
        ("1792x1024", "hd", "0.12"),
    ],
)
async def test_dall_e_3_is_priced_by_size_and_quality(
    images_std: OpenAIImagesStandIn, size: str, quality: str | None, cost: str
) -> None:
    async with ModelClient(settings_for(openai=images_std), prices=PRICES) as client:
        image = await client.generate_image(
            ImageRequest(prompt="A cat", size=size, quality=quality), ["openai:dall-e-3"]
        )
    (seen,) = images_std.requests
    assert seen.body["size"] == size and seen.body.get("quality") == quality
    assert image.usage.cost_usd == Decimal(cost) and image.usage.outcome == "ok"


async def test_stability_multipart_and_moderation_fallback(
    stability_std: StabilityStandIn, images_std: OpenAIImagesStandIn, database: Database
) -> None:
    stability_std.script(Behaviour(image=PNG), Behaviour(refusal="filtered"))
    settings = settings_for(stability=stability_std, openai=images_std)
    context = UsageContext(installation_id=9, command="generate figure")
    async with ModelClient(settings, None, database, prices=PRICES) as client:
        image = await client.generate_image(
            ImageRequest(prompt="A map", size="1600x900", negative_prompt="text", seed=7),
            ["stability:core"],
            context=context,
        )
        second = await client.generate_image(
            ImageRequest(prompt="A map"),
            ["stability:sd3.5-large", "openai:dall-e-2"],
            context=context,
        )
    first_call, second_call = stability_std.requests
    assert first_call.path == "/v2beta/stable-image/generate/core"
    assert first_call.headers["accept"] == "image/*"
    assert first_call.headers["content-type"].startswith("multipart/form-data")
    assert first_call.body == {
        "prompt": "A map",
        "aspect_ratio": "16:9",
        "output_format": "png",
        "negative_prompt": "text",
        "seed": "7",
    }
    assert second_call.path.endswith("/sd3") and second_call.body["model"] == "sd3.5-large"
    assert image.data == PNG and image.media_type == "image/png"
    assert image.usage.cost_usd == Decimal("0.03")
    # CONTENT_FILTERED is a refusal: the blurred image is not used.
    assert second.model == "openai:dall-e-2"
    async with database.session() as session:
        rows = (await session.execute(select(Usage).order_by(Usage.id))).scalars().all()
    assert [(r.model, r.outcome, r.cost_usd) for r in rows] == [
        ("core", "ok", Decimal("0.03")),
        ("sd3.5-large", "refused", Decimal(0)),
        ("dall-e-2", "ok", Decimal("0.02")),
    ]


async def test_openrouter_image_output() -> None:
    with OpenAIChatStandIn("openrouter") as std:
        std.script(answer("Here is your image.", cost=0.039, image=PNG))
        async with ModelClient(settings_for(openrouter=std), prices=PRICES) as client:
            image = await client.generate_image(
                ImageRequest(prompt="A diagram", size="1024x768"),
                ["openrouter:google/gemini-2.5-flash-image-preview"],
            )
        (seen,) = std.requests
    assert seen.body["modalities"] == ["image", "text"]
    assert seen.body["image_config"] == {"aspect_ratio": "4:3"}
    assert image.data == PNG and image.media_type == "image/png"
    assert image.usage.cost_usd == Decimal("0.039")


async def test_replicate_polls_until_succeeded_then_downloads(
    replicate_std: ReplicateStandIn,
) -> None:
    replicate_std.script(Behaviour(polls=2, image=PNG))
    settings = settings_for(replicate=replicate_std, poll_interval_s=0.02)
    async with ModelClient(settings, prices=PRICES) as client:
        image = await client.generate_image(
            ImageRequest(prompt="A fox", output_format="png"),
            ["replicate:black-forest-labs/flux-schnell"],
        )
    paths = [(r.method, r.path) for r in replicate_std.requests]
    assert paths[0] == ("POST", "/v1/models/black-forest-labs/flux-schnell/predictions")
    assert paths[1:4] == [("GET", paths[1][1])] * 3 and paths[1][1].startswith("/v1/predictions/")
    assert paths[4][1].startswith("/files/")
    create = replicate_std.requests[0]
    assert create.headers["authorization"] == "Bearer r8_test_token"
    assert create.headers["prefer"].startswith("wait")
    assert create.body == {
        "input": {
            "prompt": "A fox",
            "aspect_ratio": "1:1",
            "output_format": "png",
            "num_outputs": 1,
        }
    }
    # The file comes from the output URL; the key goes only to the API's own host.
    assert image.data == PNG and image.media_type == "image/png"
    assert image.usage.cost_usd == Decimal("0.003")


async def test_replicate_answers_at_once_with_prefer_wait_and_by_version(
    replicate_std: ReplicateStandIn,
) -> None:
    async with ModelClient(settings_for(replicate=replicate_std), prices=PRICES) as client:
        image = await client.generate_image(
            ImageRequest(prompt="A fox"), ["replicate:someone/sdxl:abc123"]
        )
    assert [r.method for r in replicate_std.requests] == ["POST", "GET"]
    assert replicate_std.requests[0].path == "/v1/predictions"
    assert replicate_std.requests[0].body["version"] == "abc123"
    assert image.usage.outcome == "ok:unpriced"


async def test_replicate_failures(replicate_std: ReplicateStandIn) -> None:
    replicate_std.script(
        Behaviour(job_status="failed", job_error="NSFW content detected. Try a different prompt."),
        Behaviour(job_status="failed", job_error="CUDA out of memory"),
    )
    async with ModelClient(
        settings_for(replicate=replicate_std, poll_interval_s=0.02), prices=PRICES
    ) as client:
        with pytest.raises(ProviderError) as refused:
            await client.generate_image(
                ImageRequest(prompt="x"), ["replicate:black-forest-labs/flux-schnell"]
            )
        with pytest.raises(ProviderError) as failed:
            await client.generate_image(
                ImageRequest(prompt="x"), ["replicate:black-forest-labs/flux-schnell"]
            )
    assert refused.value.outcome == "refused"
    assert failed.value.user_message == (
        "Replicate could not finish the job (CUDA out of memory): try again or choose another model."
    )


async def test_image_rate_limit_is_retried(stability_std: StabilityStandIn) -> None:
    stability_std.script(rate_limited(retry_after_ms=20), Behaviour(image=PNG))
    async with ModelClient(settings_for(stability=stability_std), prices=PRICES) as client:
        image = await client.generate_image(ImageRequest(prompt="x"), ["stability:ultra"])
    assert image.attempts[0].tries == 2 and image.usage.cost_usd == Decimal("0.08")


async def test_runway_image_to_video() -> None:
    with RunwayStandIn() as std:
        std.script(Behaviour(polls=1))
        async with ModelClient(
            settings_for(runway=std, poll_interval_s=0.02), prices=PRICES
        ) as client:
            video = await client.generate_video(
                VideoRequest(
                    prompt="The camera pans slowly",
                    image="data:image/png;base64," + base64.b64encode(PNG).decode(),
                    duration=5,
                ),
                ["runway:gen4_turbo"],
            )
        create = std.requests[0]
    assert create.path == "/v1/image_to_video"
    assert create.headers["x-runway-version"] == "2024-11-06"
    assert create.body["model"] == "gen4_turbo" and create.body["ratio"] == "1280:720"
    assert create.body["promptText"] == "The camera pans slowly" and create.body["duration"] == 5
    assert video.data == TINY_MP4 and video.media_type == "video/mp4"
    assert video.usage.cost_usd == Decimal("0.25")  # 5 s at $0.05


async def test_text_models_cannot_draw(images_std: OpenAIImagesStandIn) -> None:
    async with ModelClient(settings_for(openai=images_std), prices=PRICES) as client:
        with pytest.raises(ProviderError) as caught:
            await client.generate_image(ImageRequest(prompt="x"), ["anthropic:claude-sonnet-4-5"])
    assert caught.value.user_message == (
        "anthropic:claude-sonnet-4-5 cannot draw images: choose a model that can."
    )


class FlakyRunway(RunwayStandIn):
    """Runway whose task polls, then file downloads, first answer 502 a set number of times."""

    def __init__(self) -> None:
        super().__init__()
        self.poll_failures = 0
        self.file_failures = 0

    async def get(self, request: Request) -> Response:
        if self.poll_failures > 0:
            self.poll_failures -= 1
            self.record("GET", request.url.path, request.headers, None)
            return JSONResponse({"error": "Bad gateway"}, 502)
        return await super().get(request)

    async def file(self, request: Request) -> Response:
        if self.file_failures > 0:
            self.file_failures -= 1
            self.record("GET", request.url.path, request.headers, None)
            return Response(b"Bad gateway", 502)
        return await super().file(request)


class FlakyReplicate(ReplicateStandIn):
    """Replicate whose prediction polls first answer 502 a set number of times."""

    def __init__(self) -> None:
        super().__init__()
        self.poll_failures = 0

    async def get(self, request: Request) -> Response:
        if self.poll_failures > 0:
            self.poll_failures -= 1
            self.record("GET", request.url.path, request.headers, None)
            return problem(502, "Bad gateway", "upstream error")
        return await super().get(request)


VIDEO = VideoRequest(prompt="Pan", image="data:image/png;base64," + base64.b64encode(PNG).decode())


async def test_a_failed_runway_poll_is_polled_again_not_a_new_task(database: Database) -> None:
    with FlakyRunway() as std:
        std.script(Behaviour(polls=1))
        std.poll_failures = 1
        std.file_failures = 1
        settings = settings_for(runway=std, poll_interval_s=0.02)
        context = UsageContext(installation_id=5)
        async with ModelClient(settings, None, database, prices=PRICES) as client:
            video = await client.generate_video(VIDEO, ["runway:gen4_turbo"], context=context)
        creates = std.calls("/v1/image_to_video")
        sent = std.calls("")
    assert len(creates) == 1  # one paid task, whatever failed after it was created
    gets = [r.path for r in sent if r.method == "GET"]
    assert len([p for p in gets if p.startswith("/v1/tasks/")]) == 3  # 502, RUNNING, SUCCEEDED
    assert len([p for p in gets if p.startswith("/files/")]) == 2  # 502, then the file
    assert video.data == TINY_MP4
    assert video.attempts[0].tries == 3 and video.usage.error == "3 requests"
    async with database.session() as session:
        rows = (await session.execute(select(Usage))).scalars().all()
    assert [(r.outcome, r.cost_usd) for r in rows] == [("ok", Decimal("0.25"))]


async def test_a_generated_file_too_large_is_not_read_nor_fetched_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wire, "MAX_DOWNLOAD_BYTES", 2**20)
    huge = TINY_MP4 + (2 * 2**20).to_bytes(4, "big") + b"free" + bytes(2 * 2**20 - 8)
    with RunwayStandIn() as std:
        std.script(Behaviour(video=huge))
        async with ModelClient(
            settings_for(runway=std, poll_interval_s=0.02), prices=PRICES
        ) as client:
            with pytest.raises(ProviderError) as caught:
                await client.generate_video(VIDEO, ["runway:gen4_turbo"])
        files = [r for r in std.calls("") if r.path.startswith("/files/")]
    assert "sent a file of more than 1 MB" in caught.value.user_message
    assert len(files) == 1 and len(std.calls("/v1/image_to_video")) == 1


async def test_a_failed_replicate_poll_is_polled_again_not_a_new_prediction() -> None:
    with FlakyReplicate() as std:
        std.script(Behaviour(polls=1, image=PNG))
        std.poll_failures = 1
        settings = settings_for(replicate=std, poll_interval_s=0.02)
        async with ModelClient(settings, prices=PRICES) as client:
            image = await client.generate_image(
                ImageRequest(prompt="A fox"), ["replicate:black-forest-labs/flux-schnell"]
            )
        methods = [r.method for r in std.requests]
    assert methods.count("POST") == 1
    assert image.data == PNG and image.attempts[0].tries == 2
    assert image.usage.cost_usd == Decimal("0.003")


async def test_a_poll_that_keeps_failing_ends_the_attempt_without_a_new_task() -> None:
    with FlakyRunway() as std:
        std.script(Behaviour(polls=1))
        std.poll_failures = 100
        settings = settings_for(runway=std, poll_interval_s=0.02, retry_max_tries=3)
        async with ModelClient(settings, prices=PRICES) as client:
            with pytest.raises(ProviderError) as caught:
                await client.generate_video(VIDEO, ["runway:gen4_turbo"])
        creates = std.calls("/v1/image_to_video")
        sent = std.calls("")
    assert len(creates) == 1
    assert len([r for r in sent if r.method == "GET"]) == 3  # the poll's own tries
    assert caught.value.outcome == "server_error" and caught.value.tries == 3


async def test_the_poll_deadline_is_final() -> None:
    """A job still running at `poll_timeout_s` ends the attempt: it is not started again."""
    with RunwayStandIn() as runway, ReplicateStandIn() as replicate:
        runway.script(Behaviour(polls=10**6))
        replicate.script(Behaviour(polls=10**6))
        settings = settings_for(
            runway=runway, replicate=replicate, poll_interval_s=0.02, poll_timeout_s=0.2
        )
        async with ModelClient(settings, prices=PRICES) as client:
            with pytest.raises(ProviderError) as video:
                await client.generate_video(VIDEO, ["runway:gen4_turbo"])
            with pytest.raises(ProviderError) as image:
                await client.generate_image(
                    ImageRequest(prompt="x"), ["replicate:black-forest-labs/flux-schnell"]
                )
        assert len(runway.calls("/v1/image_to_video")) == 1
        assert [r.method for r in replicate.requests].count("POST") == 1
    assert video.value.outcome == image.value.outcome == "timeout"
    assert video.value.tries == image.value.tries == 1
