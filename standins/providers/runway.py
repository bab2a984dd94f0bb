"""A stand-in for Runway's API: `POST /v1/image_to_video`, `GET /v1/tasks/{id}`, output files.

Requires `Authorization: Bearer` and `X-Runway-Version: 2024-11-06`. The body is checked
against the documented image-to-video fields (written out below from the API reference; no
SDK is installed). Errors are `{"error": "..."}`.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from standins.providers.behaviour import Behaviour
from standins.providers.common import bearer, json_body
from standins.providers.images import TINY_MP4
from standins.providers.server import StandIn

VERSION = "2024-11-06"


class ImageToVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Literal["gen4_turbo", "gen3a_turbo"]
    promptImage: str = Field(min_length=1)
    ratio: Literal[
        "1280:720",
        "720:1280",
        "1104:832",
        "832:1104",
        "960:960",
        "1584:672",
        "1280:768",
        "768:1280",
    ]
    promptText: str | None = Field(default=None, max_length=1000)
    duration: Literal[5, 10] = 10
    seed: int | None = Field(default=None, ge=0, le=4294967295)


class _Task:
    def __init__(self, task_id: str, behaviour: Behaviour, duration: int) -> None:
        self.id = task_id
        self.behaviour = behaviour
        self.polls_left = behaviour.polls
        self.duration = duration
        self.created = datetime.now(UTC).isoformat().replace("+00:00", "Z")


class RunwayStandIn(StandIn):
    """Image-to-video tasks."""

    def __init__(self, api_key: str = "key_test_runway", **kwargs: Any) -> None:
        super().__init__(api_key=api_key, **kwargs)
        self.tasks: dict[str, _Task] = {}
        self._tasks_lock = threading.Lock()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/image_to_video", self.create, methods=["POST"]),
            Route("/v1/tasks/{id}", self.get, methods=["GET"]),
            Route("/files/{name}", self.file, methods=["GET"]),
        ]

    def _auth(self, request: Request) -> Response | None:
        if bearer(request.headers) != self.api_key:
            return JSONResponse({"error": "Invalid API key."}, 401)
        if request.headers.get("x-runway-version") != VERSION:
            return JSONResponse({"error": f"X-Runway-Version header must be {VERSION}."}, 400)
        return None

    async def create(self, request: Request) -> Response:
        try:
            body = await json_body(request)
        except ValueError:
            body = None
        self.record("POST", request.url.path, request.headers, body)
        if (refused := self._auth(request)) is not None:
            return refused
        try:
            parsed = ImageToVideo.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            return JSONResponse(
                {"error": f"{'.'.join(map(str, first['loc']))}: {first['msg']}"}, 400
            )
        b = self.next_behaviour()
        if b.delay:
            await asyncio.sleep(b.delay)
        if b.status >= 400:
            return JSONResponse({"error": b.message or "error"}, b.status, headers=b.headers)
        task = _Task(str(uuid.uuid4()), b, parsed.duration)
        with self._tasks_lock:
            self.tasks[task.id] = task
        return JSONResponse({"id": task.id})

    async def get(self, request: Request) -> Response:
        self.record("GET", request.url.path, request.headers, None)
        if (refused := self._auth(request)) is not None:
            return refused
        with self._tasks_lock:
            task = self.tasks.get(request.path_params["id"])
        if task is None:
            return JSONResponse({"error": "Task not found."}, 404)
        body: dict[str, Any] = {"id": task.id, "createdAt": task.created}
        if task.polls_left > 0:
            # Queued on the first poll, then running, as Runway reports a task.
            first = task.polls_left == task.behaviour.polls
            task.polls_left -= 1
            if first:
                body.update(status="PENDING")
            else:
                body.update(status="RUNNING", progress=0.5)
        elif task.behaviour.job_status == "succeeded":
            body.update(status="SUCCEEDED", output=[f"{self.root_url}/files/{task.id}.mp4"])
        elif task.behaviour.refusal:
            body.update(
                status="FAILED", failure=task.behaviour.refusal, failureCode="SAFETY.INPUT.TEXT"
            )
        else:
            body.update(
                status="FAILED",
                failure=task.behaviour.job_error or "An unexpected error occurred.",
                failureCode="INTERNAL",
            )
        return JSONResponse(body)

    async def file(self, request: Request) -> Response:
        self.record("GET", request.url.path, request.headers, None)
        with self._tasks_lock:
            task = self.tasks.get(request.path_params["name"].removesuffix(".mp4"))
        video = task.behaviour.video if task is not None else None
        return Response(TINY_MP4 if video is None else video, media_type="video/mp4")
