"""Webhook intake: verify, bound, deduplicate, route, and answer at once.

GitHub waits at most ten seconds for an answer and shows slow or failed deliveries to the
app's owner, so the endpoint does only what is cheap: HMAC check, one Redis `SET NX` for the
delivery id, and the handlers (which only enqueue jobs or write a row). Slow work happens in
jobs. A valid signed delivery never gets a 5xx because of what is in it; only an outage of
our own Redis does (503), so that GitHub marks the delivery failed and it can be redelivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.metrics import DELIVERIES, DELIVERY_SECONDS, HANDLER_ERRORS
from bot.routing import Event, Router

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DEDUP_PREFIX = "liquidbook:delivery:"


class PayloadTooLarge(Exception):
    pass


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Check `X-Hub-Signature-256` over the raw body, in constant time."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge
    return bytes(body)


def decode_payload(body: bytes, content_type: str) -> dict[str, Any] | None:
    """JSON (the default) or the form encoding GitHub offers as an alternative."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            text = parse_qs(body.decode()).get("payload", [""])[0]
            data = json.loads(text)
        else:
            data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def answer(status: int, message: str, event: str = "-", outcome: str | None = None) -> JSONResponse:
    DELIVERIES.labels(event=event, outcome=outcome or str(status)).inc()
    return JSONResponse({"message": message}, status_code=status)


async def receive(request: Request) -> JSONResponse:
    """`POST /api/github/webhooks`."""
    started = time.perf_counter()
    try:
        return await _receive(request)
    finally:
        DELIVERY_SECONDS.observe(time.perf_counter() - started)


async def _receive(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    router: Router = request.app.state.router
    settings = services.settings
    try:
        body = await read_body(request, settings.webhook_max_bytes)
    except PayloadTooLarge:
        return answer(413, "payload larger than GitHub's 25 MB limit")
    if not signature_is_valid(
        settings.webhook_secret, body, request.headers.get("x-hub-signature-256")
    ):
        return answer(401, "signature does not match")
    name = request.headers.get("x-github-event")
    delivery_id = request.headers.get("x-github-delivery")
    if not name or not delivery_id:
        return answer(400, "X-GitHub-Event and X-GitHub-Delivery are required")
    payload = decode_payload(body, request.headers.get("content-type", "application/json"))
    if payload is None:
        return answer(400, "body is not a JSON object", name)

    key = DEDUP_PREFIX + delivery_id
    try:
        first = await services.redis.set(key, b"1", nx=True, ex=settings.webhook_dedup_seconds)
    except RedisError as exc:
        log.warning("Redis unavailable (%s); delivery %s refused with 503", exc, delivery_id)
        return answer(503, "queue unavailable, redeliver later", name)
    if not first:
        return answer(200, "duplicate delivery ignored", name, "duplicate")

    event = Event(name=name, delivery_id=delivery_id, payload=payload)
    handled = False
    for handler in router.handlers_for(event):
        handled = True
        try:
            await handler(event, services)
        except RedisError as exc:
            # The work was not recorded: forget the delivery so a redelivery is processed.
            log.warning("Redis failed while handling %s %s (%s): 503", name, delivery_id, exc)
            await _forget(services, key)
            return answer(503, "queue unavailable, redeliver later", name)
        except (SQLAlchemyError, OSError) as exc:
            # The database was away (a PostgreSQL restart, a full disk): the same.
            log.warning("database failed while handling %s %s (%s): 503", name, delivery_id, exc)
            await _forget(services, key)
            return answer(503, "database unavailable, redeliver later", name)
        except Exception:
            log.exception("handler %s failed on %s %s", handler.__qualname__, name, delivery_id)
            HANDLER_ERRORS.labels(event=name).inc()
    return answer(200, "ok" if handled else "ignored", name, "handled" if handled else "ignored")


async def _forget(services: Services, key: str) -> None:
    try:
        await services.redis.delete(key)
    except RedisError:
        pass
