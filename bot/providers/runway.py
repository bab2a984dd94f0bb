"""Runway's video generation: `POST /v1/image_to_video`, then poll `GET /v1/tasks/{id}`.

Every request carries `X-Runway-Version`. A task is PENDING or THROTTLED (queued), RUNNING,
then SUCCEEDED with `output` URLs, or FAILED with `failure`/`failureCode` (codes starting
`SAFETY` are moderation refusals), or CANCELLED.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from bot.providers.errors import BadResponse, GenerationFailed, Refused, Timeout
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.types import Artifact, VideoRequest
from bot.providers.wire import download, read_json, send

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


class Runway:
    """Image-to-video tasks on Runway."""

    def __init__(self, http: httpx.AsyncClient, settings: ProviderSettings) -> None:
        self.http = http
        self.settings = settings

    def headers(self, endpoint: Endpoint) -> dict[str, str]:
        return {
            "authorization": f"Bearer {endpoint.require_key()}",
            "x-runway-version": self.settings.runway_version,
            "content-type": "application/json",
        }

    def body(self, model: str, request: VideoRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "promptImage": request.image,
            "promptText": request.prompt,
            "ratio": request.ratio,
            "duration": request.duration,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    async def video(self, endpoint: Endpoint, model: str, request: VideoRequest) -> Artifact:
        """Start a task, wait for it, download the video."""
        create = self.http.build_request(
            "POST",
            f"{endpoint.base_url}/v1/image_to_video",
            headers=self.headers(endpoint),
            content=json.dumps(self.body(model, request)),
        )
        async with send(self.http, endpoint, model, create) as response:
            task = await read_json(response, endpoint)
        if not isinstance(task, dict) or not task.get("id"):
            raise BadResponse(endpoint.provider, "the task has no id")
        task = await self.wait(endpoint, model, str(task["id"]))
        output = task.get("output")
        if not isinstance(output, list) or not output:
            raise BadResponse(endpoint.provider, "the task has no output")
        content, media_type = await download(self.http, endpoint, model, str(output[0]))
        return Artifact(data=content, media_type=media_type, seconds=float(request.duration))

    async def wait(self, endpoint: Endpoint, model: str, task_id: str) -> Any:
        """Poll the task until it ends; raise unless it succeeded."""
        deadline = time.monotonic() + self.settings.poll_timeout_s
        while True:
            poll = self.http.build_request(
                "GET", f"{endpoint.base_url}/v1/tasks/{task_id}", headers=self.headers(endpoint)
            )
            async with send(self.http, endpoint, model, poll) as response:
                task = await read_json(response, endpoint)
            status = task.get("status")
            if status in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise Timeout(endpoint.provider, "the task did not finish in time")
            await asyncio.sleep(self.settings.poll_interval_s)
        if status == "SUCCEEDED":
            return task
        failure = str(task.get("failure") or status)
        code = str(task.get("failureCode") or "")
        if code.startswith("SAFETY"):
            raise Refused(f"{endpoint.provider}:{model}", failure)
        raise GenerationFailed(endpoint.provider, failure)
