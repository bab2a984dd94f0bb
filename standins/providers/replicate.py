"""A stand-in for Replicate's predictions API.

`POST /v1/models/{owner}/{name}/predictions` (official models) and `POST /v1/predictions`
(with `version`), `GET /v1/predictions/{id}` to poll, and the output files at
`/files/{id}.{ext}`. `Prefer: wait[=N]` returns the finished prediction at once when the
scripted job needs no polls. Bodies are checked against the documented create-prediction
fields (written out below; no SDK type is installed). Errors are problem details (`{"title",
"detail", "status"}`).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from standins.providers.behaviour import Behaviour
from standins.providers.common import bearer, json_body
from standins.providers.images import tiny_png
from standins.providers.server import StandIn


class CreatePrediction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any]
    webhook: str | None = None
    webhook_events_filter: list[Literal["start", "output", "logs", "completed"]] | None = None
    stream: bool | None = None


class CreateVersionPrediction(CreatePrediction):
    version: str


def problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"title": title, "detail": detail, "status": status},
        status,
        media_type="application/problem+json",
    )


class _Job:
    def __init__(self, prediction: dict[str, Any], behaviour: Behaviour) -> None:
        self.prediction = prediction
        self.behaviour = behaviour
        self.polls_left = behaviour.polls


class ReplicateStandIn(StandIn):
    """Predictions, polling and file downloads."""

    def __init__(self, api_key: str = "r8_test_token", **kwargs: Any) -> None:
        super().__init__(api_key=api_key, **kwargs)
        self.jobs: dict[str, _Job] = {}
        self.files: dict[str, bytes] = {}
        self._jobs_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/models/{owner}/{name}/predictions", self.create, methods=["POST"]),
            Route("/v1/predictions", self.create, methods=["POST"]),
            Route("/v1/predictions/{id}", self.get, methods=["GET"]),
            Route("/files/{file}", self.file, methods=["GET"]),
        ]

    async def create(self, request: Request) -> Response:
        try:
            body = await json_body(request)
        except ValueError:
            body = None
        self.record("POST", request.url.path, request.headers, body)
        if bearer(request.headers) != self.api_key:
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        by_version = "owner" not in request.path_params
        try:
            model = CreateVersionPrediction if by_version else CreatePrediction
            parsed = model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            return problem(
                422,
                "Input validation failed",
                f"{'.'.join(map(str, first['loc']))}: {first['msg']}",
            )
        if not isinstance(parsed.input.get("prompt"), str):
            return problem(422, "Input validation failed", "input.prompt: field required")
        b = self.next_behaviour()
        if b.delay:
            await asyncio.sleep(b.delay)
        if b.status >= 400:
            titles = {402: "Payment required", 429: "Too many requests"}
            return JSONResponse(
                {
                    "title": titles.get(b.status, "Internal server error"),
                    "detail": b.message or "error",
                    "status": b.status,
                },
                b.status,
                headers=b.headers,
            )
        ident = uuid.uuid4().hex[:26]
        name = (
            f"{request.path_params['owner']}/{request.path_params['name']}"
            if not by_version
            else "owner/model"
        )
        prediction = {
            "id": ident,
            "model": name,
            "version": getattr(parsed, "version", "hidden"),
            "input": parsed.input,
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": "starting",
            "created_at": _now(),
            "urls": {
                "get": f"{self.base_url}/predictions/{ident}",
                "cancel": f"{self.base_url}/predictions/{ident}/cancel",
                "web": f"https://replicate.com/p/{ident}",
            },
        }
        job = _Job(prediction, b)
        with self._jobs_lock:
            self.jobs[ident] = job
        if request.headers.get("prefer", "").startswith("wait") and job.polls_left <= 0:
            self._finish(job)
        return JSONResponse(prediction, 201)

    async def get(self, request: Request) -> Response:
        self.record("GET", request.url.path, request.headers, None)
        if bearer(request.headers) != self.api_key:
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        with self._jobs_lock:
            job = self.jobs.get(request.path_params["id"])
        if job is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if job.prediction["status"] in ("starting", "processing"):
            if job.polls_left > 0:
                job.polls_left -= 1
                job.prediction["status"] = "processing"
                job.prediction["started_at"] = job.prediction.get("started_at") or _now()
            else:
                self._finish(job)
        return JSONResponse(job.prediction)

    async def file(self, request: Request) -> Response:
        self.record("GET", request.url.path, request.headers, None)
        content = self.files.get(request.path_params["file"])
        if content is None:
            return Response(status_code=404)
        return Response(
            content, media_type="image/" + request.path_params["file"].rsplit(".", 1)[-1]
        )

    def _finish(self, job: _Job) -> None:
        p, b = job.prediction, job.behaviour
        p["completed_at"] = _now()
        p["started_at"] = p.get("started_at") or p["completed_at"]
        p["status"] = b.job_status
        if b.job_status == "succeeded":
            ext = p["input"].get("output_format") or "webp"
            name = f"{p['id']}.{ext}"
            self.files[name] = b.image if b.image is not None else tiny_png()
            p["output"] = [f"{self.root_url}/files/{name}"]
            p["metrics"] = {"predict_time": 0.5, "image_count": 1}
        else:
            p["error"] = b.job_error or "Prediction failed."


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
