"""An app's webhook deliveries (GitHub's docs: Apps › Webhooks), as the app sees them with its JWT.

GitHub keeps every attempt to deliver an event: the first and each redelivery, under the
event's GUID, newest first, paged by an opaque cursor in the `Link` header. It never
redelivers by itself; `POST …/deliveries/{id}/attempts` asks it to (202), and it sends the
same headers and body again, `X-GitHub-Delivery` unchanged, a moment later.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from .endpoint import Call, Reply, api
from .errors import ApiError, not_found
from .state import Delivery, iso

# The cursor is opaque to clients; here it names the newest attempt of the page it starts.
CURSOR_PREFIX = "v1_"


def delivery_status(record: Delivery) -> tuple[str, int]:
    """GitHub's `status` and `status_code` for an attempt: "OK" for a 2xx answer, the answer's
    code otherwise, and for no answer at all what GitHub's page shows ("failed to connect",
    502; "timed out", 504)."""
    if record.status_code is not None:
        if 200 <= record.status_code < 300:
            return "OK", record.status_code
        return f"Invalid HTTP Response: {record.status_code}", record.status_code
    if record.error is not None and "Timeout" in record.error.split(":", 1)[0]:
        return "timed out", 504
    return "failed to connect", 502


def delivery_item(record: Delivery) -> dict[str, Any]:
    """An attempt as `GET /app/hook/deliveries` lists it (GitHub's `hook-delivery-item`)."""
    status, code = delivery_status(record)
    installation = record.payload.get("installation")
    repository = record.payload.get("repository")
    return {
        "id": record.attempt_id,
        "guid": record.id,
        "delivered_at": iso(record.delivered_at),
        "redelivery": record.redelivery,
        "duration": record.duration,
        "status": status,
        "status_code": code,
        "event": record.event,
        "action": record.action,
        "installation_id": installation.get("id") if isinstance(installation, dict) else None,
        "repository_id": repository.get("id") if isinstance(repository, dict) else None,
        "throttled_at": None,
    }


def _attempts(call: Call) -> list[Delivery]:
    """The calling app's attempts that were sent (an app without a webhook URL gets none),
    newest first."""
    app = call.auth.app
    assert app is not None
    with call.state.lock:
        sent = [d for d in call.state.deliveries if d.app_id == app.id and d.url]
    return sorted(sent, key=lambda d: d.attempt_id, reverse=True)


def _attempt(call: Call) -> Delivery:
    wanted = call.int_param("delivery_id")
    found = next((d for d in _attempts(call) if d.attempt_id == wanted), None)
    if found is None:
        raise not_found()
    return found


def list_deliveries(call: Call) -> Reply:
    """GET /app/hook/deliveries — `per_page` (≤ 100), `cursor`, `status` (success|failure)."""
    try:
        per_page = max(1, min(100, int(call.query.get("per_page", 30))))
    except ValueError:
        raise ApiError(400, "Bad request: per_page is not a number") from None
    wanted = call.query.get("status")
    if wanted not in (None, "success", "failure"):
        raise ApiError(422, "Validation Failed: status must be success or failure")
    attempts = _attempts(call)
    if wanted is not None:
        attempts = [d for d in attempts if (delivery_status(d)[0] == "OK") == (wanted == "success")]
    cursor = call.query.get("cursor")
    if cursor:
        number = cursor.removeprefix(CURSOR_PREFIX)
        if not cursor.startswith(CURSOR_PREFIX) or not number.isdigit():
            raise ApiError(400, "Bad request: the cursor is not one this API gave")
        attempts = [d for d in attempts if d.attempt_id <= int(number)]
    page, rest = attempts[:per_page], attempts[per_page:]
    headers = {}
    if rest:
        extra = f"&status={wanted}" if wanted else ""
        following = f"{CURSOR_PREFIX}{rest[0].attempt_id}"
        headers["Link"] = (
            f"<{call.state.api_url}{call.path}?per_page={per_page}&cursor={following}{extra}>;"
            ' rel="next"'
        )
    return Reply([delivery_item(d) for d in page], headers=headers)


def get_delivery(call: Call) -> Reply:
    """GET /app/hook/deliveries/{delivery_id} — one attempt with its request and response."""
    record = _attempt(call)
    body = delivery_item(record)
    body["url"] = record.url
    body["request"] = {"headers": dict(record.headers), "payload": record.payload}
    body["response"] = {"headers": {}, "payload": record.response_body}
    return Reply(body)


def redeliver(call: Call) -> Reply:
    """POST /app/hook/deliveries/{delivery_id}/attempts — 202, then the event is sent again."""
    call.hub.webhooks.redeliver_later(_attempt(call))
    return Reply({}, 202)


routes: list[Route] = [
    api("GET", "/app/hook/deliveries", list_deliveries, auth="jwt"),
    api("GET", "/app/hook/deliveries/{delivery_id}", get_delivery, auth="jwt"),
    api("POST", "/app/hook/deliveries/{delivery_id}/attempts", redeliver, auth="jwt"),
]
