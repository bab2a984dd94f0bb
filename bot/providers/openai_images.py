"""OpenAI's Images API (`POST /images/generations`), answers as base64.

gpt-image models always answer in base64 and report token usage (they are priced by
tokens); DALL·E models are asked for `b64_json` and priced per image.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from bot.providers.errors import BadResponse
from bot.providers.gate import Requests
from bot.providers.openai_compat import nearest_ratio
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.types import Artifact, ImageRequest
from bot.providers.wire import read_json, send

# The sizes each family accepts, as `W:H` ratios mapped back to sizes.
_SIZES = {
    "gpt-image": {"1:1": "1024x1024", "3:2": "1536x1024", "2:3": "1024x1536"},
    "dall-e-3": {"1:1": "1024x1024", "16:9": "1792x1024", "9:16": "1024x1792"},
    "dall-e-2": {"1:1": "1024x1024"},
}


class OpenAIImages:
    """Image generation on OpenAI (or a server with the same Images API)."""

    def __init__(self, http: httpx.AsyncClient, settings: ProviderSettings) -> None:
        self.http = http
        self.settings = settings

    def body(self, model: str, request: ImageRequest) -> dict[str, Any]:
        """As `openai.types.ImageGenerateParams` describes it."""
        family = "gpt-image" if model.startswith("gpt-image") else model
        sizes = _SIZES.get(family, _SIZES["gpt-image"])
        prompt = request.prompt
        if request.negative_prompt:
            prompt += f"\n\nAvoid: {request.negative_prompt}"
        body: dict[str, Any] = {
            "model": model,
            "prompt": prompt,
            "n": 1,
            "size": sizes[nearest_ratio(request.size, tuple(sizes))],
        }
        if family == "gpt-image":
            body["output_format"] = request.output_format
        else:
            body["response_format"] = "b64_json"
        if request.quality:
            body["quality"] = request.quality
        return body

    async def image(
        self, endpoint: Endpoint, model: str, request: ImageRequest, requests: Requests
    ) -> Artifact:
        """One image (one request); raises `ProviderError` on any failure."""
        return await requests.start(lambda: self._image(endpoint, model, request))

    async def _image(self, endpoint: Endpoint, model: str, request: ImageRequest) -> Artifact:
        body = self.body(model, request)
        http_request = self.http.build_request(
            "POST",
            f"{endpoint.base_url}/images/generations",
            headers={
                "authorization": f"Bearer {endpoint.require_key()}",
                "content-type": "application/json",
            },
            content=json.dumps(body),
        )
        async with send(self.http, endpoint, model, http_request) as response:
            data = await read_json(response, endpoint)
        try:
            item = data["data"][0]
            content = base64.b64decode(item["b64_json"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise BadResponse(endpoint.provider, "no data[0].b64_json") from None
        usage = data.get("usage") or {}
        gpt_image = model.startswith("gpt-image")
        fmt = data.get("output_format") or (request.output_format if gpt_image else "png")
        return Artifact(
            data=content,
            media_type=f"image/{fmt}",
            revised_prompt=item.get("revised_prompt"),
            tokens_in=int(usage.get("input_tokens") or 0),
            tokens_out=int(usage.get("output_tokens") or 0),
            images=0 if usage else 1,
            # DALL·E is priced by quality and size ("standard" unless asked otherwise).
            variant=None if gpt_image else f"{body.get('quality') or 'standard'} {body['size']}",
        )
