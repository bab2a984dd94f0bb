"""Stability AI's Stable Image API (v2beta): `POST /v2beta/stable-image/generate/{service}`.

The request is a multipart form; with `accept: image/*` the answer is the image itself, with
the outcome in the `finish-reason` header (`CONTENT_FILTERED` means the image was blurred by
moderation, which we treat as a refusal rather than commit a blurred figure).

Model names: `stability:ultra`, `stability:core`, or an SD3 model (`stability:sd3.5-large`,
`sd3.5-large-turbo`, `sd3.5-medium`, ...) sent to the `sd3` service.
"""

from __future__ import annotations

import httpx

from bot.providers.errors import Refused
from bot.providers.gate import Requests
from bot.providers.openai_compat import nearest_ratio
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.types import Artifact, ImageRequest
from bot.providers.wire import send

RATIOS = ("1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")


def service_for(model: str) -> str:
    """The endpoint's last path segment for a model name."""
    return model if model in ("ultra", "core") else "sd3"


class Stability:
    """Stable Image generation."""

    def __init__(self, http: httpx.AsyncClient, settings: ProviderSettings) -> None:
        self.http = http
        self.settings = settings

    def form(self, model: str, request: ImageRequest) -> list[tuple[str, tuple[None, str]]]:
        """The multipart fields (no file parts)."""
        fields = {
            "prompt": request.prompt,
            "aspect_ratio": nearest_ratio(request.size, RATIOS),
            "output_format": request.output_format,
        }
        if service_for(model) == "sd3":
            fields["model"] = model
        if request.negative_prompt:
            fields["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            fields["seed"] = str(request.seed)
        # A `(None, value)` part has no filename, so it is sent as a plain form field.
        return [(name, (None, value)) for name, value in fields.items()]

    async def image(
        self, endpoint: Endpoint, model: str, request: ImageRequest, requests: Requests
    ) -> Artifact:
        """One image (one request); raises `ProviderError` on any failure."""
        return await requests.start(lambda: self._image(endpoint, model, request))

    async def _image(self, endpoint: Endpoint, model: str, request: ImageRequest) -> Artifact:
        http_request = self.http.build_request(
            "POST",
            f"{endpoint.base_url}/v2beta/stable-image/generate/{service_for(model)}",
            headers={"authorization": f"Bearer {endpoint.require_key()}", "accept": "image/*"},
            files=self.form(model, request),
        )
        async with send(self.http, endpoint, model, http_request) as response:
            content = await response.aread()
            finish = response.headers.get("finish-reason", "SUCCESS")
            media_type = response.headers.get("content-type", f"image/{request.output_format}")
        if finish == "CONTENT_FILTERED":
            raise Refused(f"{endpoint.provider}:{model}", "the image was filtered by moderation")
        return Artifact(data=content, media_type=media_type.split(";")[0])
