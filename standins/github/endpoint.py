"""How every REST route is served: auth, faults, JSON in and out, GitHub's headers, the log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .auth import Auth, allows, classify, resolve_token, verify_jwt
from .errors import ApiError, bad_credentials, not_accessible, not_found, validation_failed
from .faults import PRIMARY_RATE_LIMIT, SECONDARY_RATE_LIMIT, Fault
from .hub import Hub
from .render_core import app_permissions
from .state import LoggedRequest, Repo, State, User

log = logging.getLogger(__name__)

MAX_LOGGED = 20_000
RATE_LIMIT = {"installation": 5000, "jwt": 5000, "none": 60}


@dataclass
class Reply:
    """What a handler answers: a JSON body (or raw bytes), a status and extra headers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    media_type: str = "application/json; charset=utf-8"


@dataclass
class Call:
    """One request, as a handler sees it."""

    hub: Hub
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    auth: Auth

    @property
    def state(self) -> State:
        return self.hub.state

    def repo(self) -> Repo:
        """The `{owner}/{repo}` of the path, if the caller may see it (404 otherwise)."""
        full_name = f"{self.params['owner']}/{self.params['repo']}"
        with self.state.lock:
            repo = self.state.repo(full_name)
            if repo is None:
                raise not_found()
            if self.auth.kind == "none":
                if repo.private:
                    raise not_found()
                if self.method != "GET":
                    raise ApiError(401, "Requires authentication")
                return repo
            if self.auth.kind != "installation" or self.auth.installation is None:
                raise not_found()
            reachable = {r.id for r in self.state.installation_repos(self.auth.installation)}
            token = self.auth.token
            if repo.id not in reachable or (
                token and token.repo_ids is not None and repo.id not in token.repo_ids
            ):
                raise not_found()
            return repo

    def require(self, perm: str) -> None:
        """403 unless the installation token grants `perm` (e.g. `contents:write`)."""
        if self.auth.kind != "installation" or self.auth.app is None:
            return
        granted = self.auth.token.permissions if self.auth.token else None
        if granted is None:
            granted = app_permissions(self.auth.app)
        if not allows(granted, perm):
            raise not_accessible()

    def actor(self) -> User:
        """The account acting: the app's bot user for an installation token."""
        if self.auth.app is None:
            raise ApiError(401, "Requires authentication")
        return self.auth.app.bot

    def int_param(self, name: str) -> int:
        """A numeric path parameter (404 when it is not a number)."""
        try:
            return int(self.params[name])
        except ValueError as exc:
            raise not_found() from exc

    def field(
        self, name: str, kind: type | tuple[type, ...], required: bool = False, default: Any = None
    ) -> Any:
        """A field of the JSON body, checked for type (422 like GitHub when wrong)."""
        body = self.body if isinstance(self.body, dict) else {}
        if name not in body or body[name] is None:
            if required:
                raise ApiError(422, f'Invalid request.\n\n"{name}" wasn\'t supplied.')
            return default
        value = body[name]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise ApiError(
                422, f"Invalid request.\n\nFor '{name}', {json.dumps(value)} is not a valid value."
            )
        return value

    def page(self, items: list[Any]) -> Reply:
        """One page of `items` by `per_page` (≤100, default 30) and `page`, with a Link header."""
        try:
            per_page = max(1, min(100, int(self.query.get("per_page", 30))))
            number = max(1, int(self.query.get("page", 1)))
        except ValueError as exc:
            raise validation_failed("Query", "page") from exc
        start = (number - 1) * per_page
        last = max(1, -(-len(items) // per_page))
        links = []
        base = f"{self.state.api_url}{self.path}"
        extra = "".join(f"&{k}={v}" for k, v in self.query.items() if k not in ("page", "per_page"))
        if number < last:
            links.append(f'<{base}?per_page={per_page}&page={number + 1}{extra}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}{extra}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        return Reply(items[start : start + per_page], headers=headers)


Handler = Callable[[Call], Reply]


def api(method: str, path: str, handler: Handler, auth: str = "installation") -> Route:
    """A REST route: `auth` is "jwt", "installation" (anonymous reads of public repos allowed)
    or "none"."""

    template = re.sub(r":\w+}", "}", path)

    async def endpoint(request: Request) -> Response:
        return await serve(request, handler, auth, template)

    return Route(path, endpoint, methods=[method], name=handler.__name__)


def new_request_id() -> str:
    """An `x-github-request-id` (`C0F4:2B9A1E:6D3F0A12`)."""
    parts = (secrets.token_hex(2), secrets.token_hex(3), secrets.token_hex(4))
    return ":".join(p.upper() for p in parts)


def _authenticate(state: State, header: str | None, mode: str) -> Auth:
    kind, credential = classify(header)
    if kind == "jwt" and credential:
        app = verify_jwt(state, credential)
        if mode == "installation":
            raise bad_credentials()
        return Auth("jwt", app=app)
    if kind == "installation" and credential:
        auth = resolve_token(state, credential)
        if mode == "jwt":
            raise ApiError(401, "A JSON web token could not be decoded")
        return auth
    if mode == "jwt":
        raise ApiError(401, "A JSON web token could not be decoded")
    return Auth("none")


def _fault_error(fault: Fault, inst_id: int | None) -> ApiError:
    if fault.status == SECONDARY_RATE_LIMIT:
        return ApiError(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again. If you reach out to GitHub Support for help, please include the request ID "
            "{request_id}.",
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            headers={"Retry-After": str(fault.retry_after)},
        )
    if fault.status == PRIMARY_RATE_LIMIT:
        return ApiError(
            403,
            f"API rate limit exceeded for installation ID {inst_id}.",
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            headers={
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + fault.retry_after),
            },
        )
    status = int(fault.status or 500)
    messages = {
        500: "Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    error = ApiError(status, messages.get(status, "Injected failure"))
    if fault.body is not None:
        error.message = str(fault.body.get("message", error.message))
    return error


async def serve(request: Request, handler: Handler, mode: str, template: str) -> Response:
    """Answer one REST request and log it. From the moment its handler starts changing the
    records until the request is logged, `state.answering` counts it (`GitHubStandIn.settle`);
    a request held back by an injected delay is not counted while it waits."""
    state = request.app.state.hub.state
    applied = False

    def counted(call: Call) -> Reply:
        nonlocal applied
        with state.lock:
            state.answering += 1
            applied = True
        return handler(call)

    try:
        return await _answer(request, counted, mode, template)
    finally:
        if applied:
            with state.lock:
                state.answering -= 1


_THREAD = threading.local()


def _lower_priority(niceness: int) -> None:
    """Run this thread at `niceness` (`GitHubStandIn.lower_priority`): Linux schedules each
    thread on its own, and a thread may always lower its own priority."""
    if niceness and getattr(_THREAD, "niceness", 0) < niceness:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        _THREAD.niceness = niceness


def _at_priority(niceness: int, handler: Handler, call: Call) -> Any:
    _lower_priority(niceness)
    return handler(call)


async def _answer(request: Request, handler: Handler, mode: str, template: str) -> Response:
    hub: Hub = request.app.state.hub
    state = hub.state
    method, path = request.method, request.url.path
    request_id = new_request_id()
    raw = await request.body()
    body: Any = None
    kind, _ = classify(request.headers.get("authorization"))
    auth = Auth(kind)
    try:
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise ApiError(400, "Problems parsing JSON") from exc
        fault = hub.faults.take(method, path)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        auth = _authenticate(state, request.headers.get("authorization"), mode)
        if fault is not None and fault.status is not None:
            raise _fault_error(fault, auth.installation.id if auth.installation else None)
        call = Call(
            hub, method, path, dict(request.path_params), dict(request.query_params), body, auth
        )
        _lower_priority(hub.niceness)
        reply = await run_in_threadpool(_at_priority, hub.niceness, handler, call)
    except ApiError as error:
        error.message = error.message.replace("{request_id}", request_id)
        reply = Reply(error.body(), error.status, dict(error.headers))
    except Exception:  # a stand-in bug: answer like GitHub's 500 and keep the traceback
        log.exception("GitHub stand-in failed on %s %s", method, path)
        reply = Reply(
            {
                "message": "Server Error",
                "documentation_url": "https://docs.github.com/rest",
                "status": "500",
            },
            500,
        )
    headers = github_headers(hub, auth, request, request_id)
    headers.update(reply.headers)
    if reply.raw is not None:
        response = Response(reply.raw, reply.status, headers, reply.media_type)
    elif reply.status in (204, 304) or (reply.body is None and reply.status >= 300):
        response = Response(None, reply.status, headers)
    else:
        response = Response(
            json.dumps(reply.body).encode(), reply.status, headers, reply.media_type
        )
    logged = LoggedRequest(
        method=method,
        path=path,
        query=dict(request.query_params),
        status=reply.status,
        headers=dict(request.headers),
        json_body=body,
        auth_kind=auth.kind,
        response_json=reply.body if reply.raw is None else None,
        installation_id=auth.installation.id if auth.installation else None,
        route=template,
    )
    with state.lock:
        state.requests.append(logged)
        if len(state.requests) > MAX_LOGGED:  # a long sandbox session keeps the recent ones
            del state.requests[: len(state.requests) - MAX_LOGGED]
    return response


def github_headers(hub: Hub, auth: Auth, request: Request, request_id: str) -> dict[str, str]:
    """The headers GitHub puts on every answer: rate limit, request id, API version."""
    if auth.installation is not None:
        identity = f"installation:{auth.installation.id}"
    elif auth.app is not None:
        identity = f"app:{auth.app.id}"
    else:
        identity = f"ip:{request.client.host if request.client else '-'}"
    limit = RATE_LIMIT[auth.kind]
    with hub.state.lock:
        reset, used = hub.rate_usage.get(identity, (0, 0))
        if reset <= time.time():
            reset, used = int(time.time()) + 3600, 0
        used += 1
        hub.rate_usage[identity] = (reset, used)
    headers = {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(max(0, limit - used)),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-used": str(used),
        "x-ratelimit-resource": "core",
        "x-github-request-id": request_id,
        "x-github-media-type": "github.v3; format=json",
    }
    version = request.headers.get("x-github-api-version")
    if version:
        headers["x-github-api-version-selected"] = version
    return headers
