"""Runway's video generation: `POST /v1/image_to_video`, then poll `GET /v1/tasks/{id}`.

Every request carries `X-Runway-Version`. A task is PENDING or THROTTLED (queued), RUNNING,
then SUCCEEDED with `output` URLs, or FAILED with `failure`/`failureCode` (codes starting
`SAFETY` are moderation refusals), or CANCELLED.

The task is created once: each request is retried on its own, a failed poll is polled again,
and a task still running at `poll_timeout_s` ends the attempt (no second task).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from typing import Any

import httpx

from bot.providers.errors import BadResponse, GenerationFailed, Refused, Timeout, final
from bot.providers.gate import Requests
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.types import Artifact, VideoRequest
from bot.providers.wire import download, parse_json, read_body, read_json, send

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

    async def video(
        self, endpoint: Endpoint, model: str, request: VideoRequest, requests: Requests
    ) -> Artifact:
        """Start a task, wait for it, download the video.

        Each request is retried on its own: a failed poll or download is asked again, never
        the task itself, and the poll deadline is final.
        """
        body = json.dumps(self.body(model, request))

        def create() -> Awaitable[bytes]:
            http_request = self.http.build_request(
                "POST",
                f"{endpoint.base_url}/v1/image_to_video",
                headers=self.headers(endpoint),
                content=body,
            )
            return read_body(self.http, endpoint, model, http_request)

        # Parsed outside the retried request: a 2xx means the task exists, so an unreadable
        # answer must not start another one.
        task = parse_json(await requests.start(create), endpoint)
        if not isinstance(task, dict) or not task.get("id"):
            raise final(BadResponse(endpoint.provider, "the task has no id"))
        task = await self.wait(endpoint, model, str(task["id"]), requests)
        output = task.get("output")
        if not isinstance(output, list) or not output:
            raise final(BadResponse(endpoint.provider, "the task has no output"))
        url = str(output[0])
        content, media_type = await requests.follow(
            lambda: download(self.http, endpoint, model, url)
        )
        return Artifact(data=content, media_type=media_type, seconds=float(request.duration))

    async def poll(self, endpoint: Endpoint, model: str, task_id: str) -> dict[str, Any]:
        """The task as it stands (one request)."""
        http_request = self.http.build_request(
            "GET", f"{endpoint.base_url}/v1/tasks/{task_id}", headers=self.headers(endpoint)
        )
        async with send(self.http, endpoint, model, http_request) as response:
            task = await read_json(response, endpoint)
        if not isinstance(task, dict):
            raise BadResponse(endpoint.provider, "the task is not an object")
        return task

    async def wait(
        self, endpoint: Endpoint, model: str, task_id: str, requests: Requests
    ) -> dict[str, Any]:
        """Poll the task until it ends (each poll retried on its own); raise unless it
        succeeded, or when it outlives `poll_timeout_s`."""
        deadline = time.monotonic() + self.settings.poll_timeout_s
        while True:
            task = await requests.follow(lambda: self.poll(endpoint, model, task_id))
            status = task.get("status")
            if status in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise final(Timeout(endpoint.provider, "the task did not finish in time"))
            await asyncio.sleep(self.settings.poll_interval_s)
        if status == "SUCCEEDED":
            return task
        failure = str(task.get("failure") or status)
        code = str(task.get("failureCode") or "")
        if code.startswith("SAFETY"):
            raise Refused(f"{endpoint.provider}:{model}", failure)
        raise GenerationFailed(endpoint.provider, failure)
