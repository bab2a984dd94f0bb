"""`/_standin/...`: drive a stand-in running in another process (`python -m standins.github`).

Not part of GitHub's API; each route calls the `GitHubStandIn` method of the same name.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import revoke_tokens
from .state import AppRecord, Delivery

PREFIX = "/_standin"


def _app(app: AppRecord) -> dict[str, Any]:
    return {
        "id": app.id,
        "slug": app.slug,
        "client_id": app.client_id,
        "private_key_pem": app.private_key_pem,
        "webhook_secret": app.webhook_secret,
        "webhook_url": app.webhook_url,
    }


def _delivery(d: Delivery) -> dict[str, Any]:
    body = asdict(d)
    body.pop("body")
    body["delivered_at"] = d.delivered_at.isoformat()
    return body


_ACTIONS = {
    "apps": lambda gh, a: _app(gh.register_app(**a)),
    "webhook_url": lambda gh, a: gh.set_webhook_url(a["app_id"], a.get("url")),
    "manifests": lambda gh, a: {"code": gh.manifest_code(a["manifest"])},
    "repos": lambda gh, a: {"full_name": gh.create_repo(**a).full_name},
    "installations": lambda gh, a: {"id": gh.install(**a)},
    "users": lambda gh, a: {"login": gh.add_user(**a).login},
    "permissions": lambda gh, a: gh.set_permission(**a),
    "issues": lambda gh, a: {"number": gh.open_issue(**a)},
    "comments": lambda gh, a: _delivery(gh.comment(**a)),
    "pushes": lambda gh, a: {"sha": gh.push(**a)},
    "merges": lambda gh, a: {"sha": gh.merge_pull(**a)},
    "pulls": lambda gh, a: {"number": gh.open_pull(**a)},
    "revoke_tokens": lambda gh, a: {"revoked": revoke_tokens(gh.hub.state, a["installation_id"])},
}


async def act(request: Request) -> Response:
    """POST /_standin/{action} with the method's keyword arguments as JSON."""
    action = _ACTIONS.get(request.path_params["action"])
    if action is None:
        return JSONResponse({"message": "Not Found"}, 404)
    args = json.loads(await request.body() or b"{}")
    try:
        result = await run_in_threadpool(action, request.app.state.standin, args)
    except (KeyError, ValueError, TypeError) as exc:
        return JSONResponse({"message": f"{type(exc).__name__}: {exc}"}, 400)
    return JSONResponse(result if result is not None else {"ok": True})


async def deliveries(request: Request) -> Response:
    """GET /_standin/deliveries — every webhook delivery so far."""
    return JSONResponse([_delivery(d) for d in request.app.state.standin.deliveries])


async def requests(request: Request) -> Response:
    """GET /_standin/requests — every REST request answered so far."""
    logged = request.app.state.standin.requests
    return JSONResponse([asdict(r) for r in logged])


async def health(request: Request) -> Response:
    """GET /_standin/health."""
    return JSONResponse({"ok": True, "api_url": request.app.state.hub.state.api_url})


routes = [
    Route(PREFIX + "/health", health, methods=["GET"]),
    Route(PREFIX + "/deliveries", deliveries, methods=["GET"]),
    Route(PREFIX + "/requests", requests, methods=["GET"]),
    Route(PREFIX + "/{action}", act, methods=["POST"]),
]
