"""A stand-in for OpenAI's Images API: `POST /v1/images/generations`.

Bodies are checked against `openai.types.ImageGenerateParams`, answers are `ImagesResponse`
with `b64_json` (gpt-image models also report token `usage`), moderation blocks answer 400
with `content_policy_violation` as the real API does.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from openai.types import ImagesResponse
from openai.types.image_generate_params import ImageGenerateParamsNonStreaming
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from standins.providers.common import bearer, json_body, tokens
from standins.providers.images import tiny_png
from standins.providers.server import StandIn
from standins.providers.validation import Invalid, check

# Output tokens gpt-image-1 reports for a 1024×1024 image at medium quality.
IMAGE_TOKENS = 1056

# The image models on the API as of 2026-12 (the SDK's `ImageModel` notes and OpenAI's
# deprecations page): gpt-image-1 shut down 2026-10-23, gpt-image-1.5/1-mini 2026-12-01,
# DALL·E 2 and 3 2026-05-12. `known_models` brings a retired one back for a gateway that
# still serves it.
IMAGE_MODELS = frozenset(
    {
        "gpt-image-2",
        "gpt-image-2.5-sunburst",
        "gpt-image-2.5-flare",
        "gpt-image-2.6-sunburst",
        "gpt-image-2.6-flare",
    }
)
_GPT_IMAGE_QUALITIES = ("low", "medium", "high", "auto")
# Sizes and qualities each family takes (API reference; GPT image 2 and later also take any
# WIDTHxHEIGHT with sides divisible by 16, a ratio within 1:3..3:1, up to 3840x2160).
_FAMILIES: dict[str, dict[str, Any]] = {
    "dall-e-3": {
        "sizes": ("1024x1024", "1792x1024", "1024x1792"),
        "qualities": ("standard", "hd"),
        "max_n": 1,
    },
    "dall-e-2": {"sizes": ("256x256", "512x512", "1024x1024"), "qualities": ("standard",)},
    "gpt-image-1": {
        "sizes": ("1024x1024", "1536x1024", "1024x1536", "auto"),
        "qualities": _GPT_IMAGE_QUALITIES,
    },
    "gpt-image-2": {
        "sizes": ("1024x1024", "1536x1024", "1024x1536", "auto"),
        "qualities": _GPT_IMAGE_QUALITIES,
        "free_size": True,
    },
    "gpt-image-2.5": {
        "sizes": ("1024x1024", "1536x1024", "1024x1536", "auto"),
        "qualities": (*_GPT_IMAGE_QUALITIES, "xhigh", "max"),
        "free_size": True,
    },
}


def error(
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status,
        headers=headers,
    )


def _family(model: str) -> dict[str, Any]:
    if model.startswith(("gpt-image-2.5", "gpt-image-2.6")):
        return _FAMILIES["gpt-image-2.5"]
    if model.startswith("gpt-image-2"):
        return _FAMILIES["gpt-image-2"]
    if model.startswith("gpt-image") or model == "chatgpt-image-latest":
        return _FAMILIES["gpt-image-1"]
    return _FAMILIES.get(model, _FAMILIES["gpt-image-2"])


def _one_of(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _free_size(size: str) -> bool:
    try:
        width, height = (int(x) for x in size.split("x"))
    except ValueError:
        return False
    return (
        width % 16 == 0
        and height % 16 == 0
        and 1 / 3 <= width / height <= 3
        and width * height <= 3840 * 2160
        and max(width, height) <= 3840
    )


def check_values(model: str, body: dict[str, Any]) -> None:
    """The documented per-model rules the SDK's types do not express."""
    family = _family(model)
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool):
        top = family.get("max_n", 10)
        if n < 1 or n > top:
            what = "below minimum" if n < 1 else "above maximum"
            bound = ">= 1" if n < 1 else f"<= {top}"
            raise Invalid(
                f"Invalid 'n': integer {what} value. Expected a value {bound}, but got {n} "
                "instead.",
                "n",
                code=f"integer_{'below_min' if n < 1 else 'above_max'}_value",
            )
    size = body.get("size")
    if size is not None and size not in family["sizes"]:
        if not (family.get("free_size") and isinstance(size, str) and _free_size(size)):
            raise Invalid(
                f"Invalid value: '{size}'. Supported values are: {_one_of(family['sizes'])}.",
                "size",
                code="invalid_value",
            )
    quality = body.get("quality")
    if quality is not None and quality not in family["qualities"]:
        raise Invalid(
            f"Invalid value: '{quality}'. Supported values are: {_one_of(family['qualities'])}.",
            "quality",
            code="invalid_value",
        )


class OpenAIImagesStandIn(StandIn):
    """Image generation as OpenAI serves it."""

    KNOWN_MODELS = IMAGE_MODELS

    def __init__(self, api_key: str = "sk-test-key", **kwargs: Any) -> None:
        super().__init__(api_key=api_key, **kwargs)

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/images/generations", self.generate, methods=["POST"])]

    def draw(self, body: dict[str, Any]) -> bytes:
        """The PNG to answer a valid request with when the script gives none."""
        return tiny_png()

    async def generate(self, request: Request) -> Response:
        try:
            body = await json_body(request)
        except ValueError:
            self.record("POST", request.url.path, request.headers, None)
            return error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        self.record("POST", request.url.path, request.headers, body)
        if bearer(request.headers) != self.api_key:
            return error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        try:
            if not isinstance(body, dict) or body.get("stream"):
                raise Invalid("This stand-in serves non-streaming image requests only.", "stream")
            check(ImageGenerateParamsNonStreaming, body)
            model = str(body.get("model") or "dall-e-2")
            if model.startswith("gpt-image") and "response_format" in body:
                raise Invalid(
                    f"Unknown parameter: 'response_format' is not supported with {model}.",
                    "response_format",
                )
            check_values(model, body)
        except Invalid as exc:
            return error(400, exc.message, "invalid_request_error", exc.code, exc.param)
        if not self.knows(model):
            return error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        b = self.next_behaviour()
        if b.delay:
            await asyncio.sleep(b.delay)
        if b.refusal or b.moderated:
            return error(
                400,
                "Your request was rejected as a result of our safety system.",
                "image_generation_user_error",
                "content_policy_violation",
            )
        if b.status >= 400:
            kind = (
                "requests"
                if b.status == 429
                else "server_error"
                if b.status >= 500
                else "invalid_request_error"
            )
            return error(b.status, b.message or "Error.", kind, b.error_code, headers=b.headers)
        png = b.image if b.image is not None else self.draw(body)
        data: dict[str, Any] = {
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(png).decode()}],
        }
        if model.startswith("gpt-image"):
            prompt_tokens = tokens(body["prompt"])
            data["output_format"] = body.get("output_format") or "png"
            data["size"] = body.get("size") or "1024x1024"
            data["usage"] = {
                "input_tokens": prompt_tokens,
                "input_tokens_details": {"text_tokens": prompt_tokens, "image_tokens": 0},
                "output_tokens": IMAGE_TOKENS,
                "total_tokens": prompt_tokens + IMAGE_TOKENS,
            }
        else:
            data["data"][0]["revised_prompt"] = f"A picture of {body['prompt']}"
        ImagesResponse.model_validate(data)
        return JSONResponse(data)
