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


class OpenAIImagesStandIn(StandIn):
    """Image generation as OpenAI serves it."""

    def __init__(self, api_key: str = "sk-test-key", **kwargs: Any) -> None:
        super().__init__(api_key=api_key, **kwargs)

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/images/generations", self.generate, methods=["POST"])]

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
        except Invalid as exc:
            return error(400, exc.message, "invalid_request_error", param=exc.param)
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
        png = b.image if b.image is not None else tiny_png()
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
