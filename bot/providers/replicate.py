"""Replicate's predictions API: create, poll `urls.get` until done, download the output file.

Official models are run by name (`replicate:black-forest-labs/flux-schnell` →
`POST /models/{owner}/{name}/predictions`); community models by version
(`replicate:owner/name:VERSION` → `POST /predictions` with `version`). The create request
asks the server to hold it for a while (`Prefer: wait`), which usually returns the finished
prediction at once; otherwise it is polled every `poll_interval_s`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from bot.providers.errors import BadResponse, GenerationFailed, Refused, Timeout
from bot.providers.openai_compat import nearest_ratio
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.types import Artifact, ImageRequest
from bot.providers.wire import download, read_json, send

RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
TERMINAL = ("succeeded", "failed", "canceled")
# The longest `Prefer: wait` Replicate honours.
MAX_WAIT_S = 60


class Replicate:
    """Image generation with Replicate models."""

    def __init__(self, http: httpx.AsyncClient, settings: ProviderSettings) -> None:
        self.http = http
        self.settings = settings

    def create_request(
        self, endpoint: Endpoint, model: str, request: ImageRequest
    ) -> httpx.Request:
        """The `POST` that starts a prediction."""
        inputs: dict[str, Any] = {
            "prompt": request.prompt,
            "aspect_ratio": nearest_ratio(request.size, RATIOS),
            # Replicate's image models spell JPEG `jpg`.
            "output_format": "jpg" if request.output_format == "jpeg" else request.output_format,
            "num_outputs": 1,
        }
        if request.negative_prompt:
            inputs["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            inputs["seed"] = request.seed
        name, _, version = model.partition(":")
        if version:
            url, body = f"{endpoint.base_url}/predictions", {"version": version, "input": inputs}
        else:
            url, body = f"{endpoint.base_url}/models/{name}/predictions", {"input": inputs}
        wait = max(1, min(MAX_WAIT_S, int(self.settings.poll_timeout_s)))
        return self.http.build_request(
            "POST",
            url,
            headers={
                "authorization": f"Bearer {endpoint.require_key()}",
                "content-type": "application/json",
                "prefer": f"wait={wait}",
            },
            content=json.dumps(body),
        )

    async def image(self, endpoint: Endpoint, model: str, request: ImageRequest) -> Artifact:
        """Run the model and return its first output file."""
        async with send(
            self.http, endpoint, model, self.create_request(endpoint, model, request)
        ) as response:
            prediction = await read_json(response, endpoint)
        prediction = await self.wait(endpoint, model, prediction)
        output = prediction.get("output")
        url = output[0] if isinstance(output, list) and output else output
        if not isinstance(url, str):
            raise BadResponse(endpoint.provider, "the prediction has no output file")
        content, media_type = await download(self.http, endpoint, model, url)
        return Artifact(data=content, media_type=media_type)

    async def wait(self, endpoint: Endpoint, model: str, prediction: Any) -> Any:
        """Poll until the prediction ends; raise unless it succeeded."""
        deadline = time.monotonic() + self.settings.poll_timeout_s
        while prediction.get("status") not in TERMINAL:
            if time.monotonic() > deadline:
                raise Timeout(endpoint.provider, "the prediction did not finish in time")
            await asyncio.sleep(self.settings.poll_interval_s)
            try:
                url = prediction["urls"]["get"]
            except (KeyError, TypeError):
                raise BadResponse(endpoint.provider, "the prediction has no urls.get") from None
            poll = self.http.build_request(
                "GET", url, headers={"authorization": f"Bearer {endpoint.require_key()}"}
            )
            async with send(self.http, endpoint, model, poll) as response:
                prediction = await read_json(response, endpoint)
        if prediction["status"] == "succeeded":
            return prediction
        error = str(prediction.get("error") or prediction["status"])
        if "nsfw" in error.lower():
            raise Refused(f"{endpoint.provider}:{model}", error)
        raise GenerationFailed(endpoint.provider, error)
