"""Replicate's predictions API: create, poll `urls.get` until done, download the output file.

Official models are run by name (`replicate:black-forest-labs/flux-schnell` →
`POST /models/{owner}/{name}/predictions`); community models by version
(`replicate:owner/name:VERSION` → `POST /predictions` with `version`). The create request
asks the server to hold it for a while (`Prefer: wait`), which usually returns the finished
prediction at once; otherwise it is polled every `poll_interval_s`. The prediction is created
once: each request is retried on its own, a failed poll is polled again, and a prediction
still running at `poll_timeout_s` ends the attempt (no second prediction).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from bot.providers.errors import BadResponse, GenerationFailed, Refused, Timeout, final
from bot.providers.gate import Requests
from bot.providers.openai_compat import nearest_ratio
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.types import Artifact, ImageRequest
from bot.providers.wire import download, parse_json, read_body, read_json, send

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

    async def image(
        self, endpoint: Endpoint, model: str, request: ImageRequest, requests: Requests
    ) -> Artifact:
        """Run the model and return its first output file.

        Each request is retried on its own: a failed poll or download is asked again, never
        the prediction itself, and the poll deadline is final.
        """
        # Parsed outside the retried request: a 2xx means the prediction exists, so an
        # unreadable answer must not start another one.
        body = await requests.start(
            lambda: read_body(
                self.http, endpoint, model, self.create_request(endpoint, model, request)
            )
        )
        prediction = parse_json(body, endpoint)
        if not isinstance(prediction, dict):
            raise final(BadResponse(endpoint.provider, "the prediction is not an object"))
        prediction = await self.wait(endpoint, model, prediction, requests)
        output = prediction.get("output")
        url = output[0] if isinstance(output, list) and output else output
        if not isinstance(url, str):
            raise final(BadResponse(endpoint.provider, "the prediction has no output file"))
        content, media_type = await requests.follow(
            lambda: download(self.http, endpoint, model, url)
        )
        return Artifact(data=content, media_type=media_type)

    async def poll(self, endpoint: Endpoint, model: str, url: str) -> dict[str, Any]:
        """The prediction as it stands (one request)."""
        http_request = self.http.build_request(
            "GET", url, headers={"authorization": f"Bearer {endpoint.require_key()}"}
        )
        async with send(self.http, endpoint, model, http_request) as response:
            prediction = await read_json(response, endpoint)
        if not isinstance(prediction, dict):
            raise BadResponse(endpoint.provider, "the prediction is not an object")
        return prediction

    async def wait(
        self, endpoint: Endpoint, model: str, prediction: dict[str, Any], requests: Requests
    ) -> dict[str, Any]:
        """Poll until the prediction ends (each poll retried on its own); raise unless it
        succeeded, or when it outlives `poll_timeout_s`."""
        deadline = time.monotonic() + self.settings.poll_timeout_s
        try:
            url = str(prediction["urls"]["get"])
        except (KeyError, TypeError):
            url = ""
        while prediction.get("status") not in TERMINAL:
            if time.monotonic() > deadline:
                raise final(Timeout(endpoint.provider, "the prediction did not finish in time"))
            if not url:
                raise final(BadResponse(endpoint.provider, "the prediction has no urls.get"))
            await asyncio.sleep(self.settings.poll_interval_s)
            prediction = await requests.follow(lambda: self.poll(endpoint, model, url))
        if prediction["status"] == "succeeded":
            return prediction
        error = str(prediction.get("error") or prediction["status"])
        if "nsfw" in error.lower():
            raise Refused(f"{endpoint.provider}:{model}", error)
        raise GenerationFailed(endpoint.provider, error)
