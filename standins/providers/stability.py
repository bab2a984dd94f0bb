"""A stand-in for Stability AI's Stable Image generate API (v2beta).

`POST /v2beta/stable-image/generate/{ultra,core,sd3}`, multipart form only, `authorization:
Bearer`, `accept: image/*` (the image bytes, with `finish-reason` and `seed` headers) or
`application/json` (`{"image": base64, "finish_reason", "seed"}`). Form fields are checked
against the documented fields of each service (no SDK publishes them as types, so they are
written out below from the API reference). Errors: `{"id", "name", "errors": [...]}`.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from standins.providers.common import bearer
from standins.providers.images import tiny_png
from standins.providers.multipart import parse_form
from standins.providers.server import StandIn

AspectRatio = Literal["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=10000)
    negative_prompt: str | None = Field(default=None, max_length=10000)
    aspect_ratio: AspectRatio = "1:1"
    seed: int = Field(default=0, ge=0, le=4294967294)
    output_format: Literal["jpeg", "png", "webp"] = "png"


class UltraForm(_Form):
    output_format: Literal["jpeg", "png", "webp"] = "png"
    style_preset: str | None = None


class CoreForm(_Form):
    output_format: Literal["jpeg", "png", "webp"] = "png"
    style_preset: str | None = None


class SD3Form(_Form):
    mode: Literal["text-to-image"] = "text-to-image"
    model: Literal["sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"] = (
        "sd3.5-large"
    )
    output_format: Literal["jpeg", "png"] = "png"
    cfg_scale: float | None = Field(default=None, ge=1, le=10)


FORMS: dict[str, type[_Form]] = {"ultra": UltraForm, "core": CoreForm, "sd3": SD3Form}


def error(
    status: int, name: str, *messages: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"id": uuid.uuid4().hex, "name": name, "errors": list(messages)}, status, headers=headers
    )


class StabilityStandIn(StandIn):
    """Stable Image generation."""

    def __init__(self, api_key: str = "sk-stability-test", **kwargs: Any) -> None:
        super().__init__(api_key=api_key, **kwargs)

    def routes(self) -> list[BaseRoute]:
        return [Route("/v2beta/stable-image/generate/{service}", self.generate, methods=["POST"])]

    async def generate(self, request: Request) -> Response:
        raw = await request.body()
        try:
            fields: dict[str, str] | None = parse_form(request.headers.get("content-type", ""), raw)
        except ValueError:
            fields = None
        self.record("POST", request.url.path, request.headers, fields)
        if bearer(request.headers) != self.api_key:
            return error(401, "unauthorized", "authorization: invalid or missing header value")
        service = request.path_params["service"]
        if service not in FORMS:
            return error(404, "not_found", f"service {service!r} does not exist")
        if fields is None:
            return error(400, "bad_request", "content-type: must be multipart/form-data")
        accept = request.headers.get("accept", "image/*")
        if accept not in ("image/*", "application/json"):
            return error(400, "bad_request", "accept: must be image/* or application/json")
        try:
            form = FORMS[service].model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            return error(400, "bad_request", f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
        b = self.next_behaviour()
        if b.delay:
            await asyncio.sleep(b.delay)
        if b.moderated:
            return error(
                403,
                "content_moderation",
                "Your request was flagged by our content moderation system.",
            )
        if b.status == 402:
            return error(
                402, "payment_required", "You lack sufficient credits to make this request."
            )
        if b.status == 429:
            return error(
                429,
                "rate_limit_exceeded",
                "You have exceeded the rate limit of 150 requests within a 10 second period.",
                headers=b.headers,
            )
        if b.status >= 400:
            return error(
                b.status,
                "internal_error" if b.status >= 500 else "bad_request",
                b.message or "error",
                headers=b.headers,
            )
        finish = "CONTENT_FILTERED" if b.refusal else "SUCCESS"
        image = b.image if b.image is not None else tiny_png()
        media_type = f"image/{form.output_format}"
        if accept == "application/json":
            return JSONResponse(
                {
                    "image": base64.b64encode(image).decode(),
                    "finish_reason": finish,
                    "seed": form.seed,
                }
            )
        return Response(
            image, media_type=media_type, headers={"finish-reason": finish, "seed": str(form.seed)}
        )
