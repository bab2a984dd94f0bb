"""Webhook intake: verify, bound, deduplicate, route, and answer at once.

GitHub waits at most ten seconds for an answer and shows slow or failed deliveries to the
app's owner, so the endpoint does only what is cheap: HMAC check, one Redis `SET NX` for the
delivery id, and the handlers (which only enqueue jobs or write a row). Slow work happens in
jobs. A valid signed delivery never gets a 5xx because of what is in it; only an outage of
our own Redis or database does (503, see `outage_of`), so that GitHub marks the delivery
failed and it can be redelivered. Anything else a handler raises (the database refusing a
value, a bug) is logged and answered 2xx, and the delivery id is forgotten so that a
redelivery from GitHub's page is processed once the cause is fixed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from redis import exceptions as redis_errors
from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc
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
    """Check `X-Hub-Signature-256` over the raw body, in constant time.

    Compared as bytes: `compare_digest` refuses text with non-ASCII characters (a TypeError),
    and a header is whatever the sender put there. A signature is hex, so anything else is
    simply wrong.
    """
    if not secret or not header or not header.startswith("sha256=") or not header.isascii():
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").encode())


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
    handled = failed = False
    for handler in router.handlers_for(event):
        handled = True
        try:
            await handler(event, services)
        except Exception as exc:
            outage = outage_of(exc)
            if outage is not None:
                # The work was not recorded: forget the delivery so a redelivery is processed.
                log.warning(
                    "%s failed while handling %s %s (%s): 503",
                    outage,
                    name,
                    delivery_id,
                    _first_line(exc),
                )
                await _forget(services, key)
                return answer(503, f"{outage} unavailable, redeliver later", name)
            failed = True
            HANDLER_ERRORS.labels(event=name).inc()
            if is_content_error(exc):
                # What the payload holds does not fit the database: nothing to retry.
                log.warning(
                    "handler %s refused by the database on %s %s: %s",
                    handler.__qualname__,
                    name,
                    delivery_id,
                    _first_line(exc),
                )
            else:
                log.exception("handler %s failed on %s %s", handler.__qualname__, name, delivery_id)
    if failed:
        # Still 2xx (a redelivery of the same content would fail the same way), but not
        # remembered: once the cause is fixed, "Redeliver" on GitHub's page processes it.
        await _forget(services, key)
        return answer(200, "handler failed; logged", name, "failed")
    return answer(200, "ok" if handled else "ignored", name, "handled" if handled else "ignored")


# PostgreSQL SQLSTATE classes of a server that is away or overwhelmed, not of a statement's
# data: connection exception, insufficient resources, operator intervention (shutdown,
# "cannot connect now"), system error, and transaction rollback (deadlock, serialization),
# which a redelivery retries.
_OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
# Redis answers that say the server cannot take writes right now (not about what we sent).
_REDIS_BUSY_REPLIES = ("OOM", "MISCONF", "LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN")


def outage_of(exc: BaseException) -> str | None:
    """ "queue" or "database" when `exc` says our Redis or database is out of reach (503,
    and GitHub's redelivery works once it is back); None for anything else, which is the
    delivery's content or a bug and gets 2xx."""
    if isinstance(exc, (redis_errors.ConnectionError, redis_errors.TimeoutError)):
        return "queue"
    if isinstance(exc, redis_errors.ReadOnlyError):  # a replica after a failover
        return "queue"
    if isinstance(exc, redis_errors.ResponseError) and str(exc).startswith(_REDIS_BUSY_REPLIES):
        return "queue"
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return "database"
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):  # pool exhausted
        return "database"
    if isinstance(exc, sa_exc.DBAPIError):
        # Raised while connecting (no statement yet: "not accepting connections", a
        # refused login), or the driver saw the connection drop.
        if exc.connection_invalidated or exc.statement is None:
            return "database"
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if isinstance(code, str) and code[:2] in _OUTAGE_SQLSTATE_CLASSES:
            return "database"
        return None
    if isinstance(exc, OSError):  # refused connections, a full disk; TimeoutError too
        return "database"
    return None


def is_content_error(exc: BaseException) -> bool:
    """The database refused the values (a constraint, a type, a length), not the call."""
    return isinstance(exc, sa_exc.StatementError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


async def _forget(services: Services, key: str) -> None:
    try:
        await services.redis.delete(key)
    except RedisError:
        pass
