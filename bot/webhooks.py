"""Webhook intake: verify, bound, deduplicate, route, and answer at once.

GitHub waits at most ten seconds for an answer and shows slow or failed deliveries to the
app's owner, so the endpoint does only what is cheap: HMAC check and the handlers (which
only enqueue jobs or write a row). A delivery that starts work claims its id in the same
Redis round trip as its first enqueue (`bot.queue.DeliveryQueue`); one that starts none
keeps no key. Slow work happens in jobs. A valid signed delivery never gets a 5xx because of what is in it; only an outage of
our own Redis or database does (503, see `outage_of`), so that GitHub marks the delivery
failed and it can be redelivered. Anything else a handler raises (the database refusing a
value, a bug) is logged and answered 2xx, and the delivery id is forgotten so that a
redelivery from GitHub's page is processed once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
import json
import logging
import re
import time
from itertools import accumulate
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
from redis import exceptions as redis_errors
from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc
from starlette.requests import Request
from starlette.responses import Response

from bot.metrics import DELIVERIES, DELIVERY_SECONDS, HANDLER_ERRORS
from bot.queue import DuplicateDelivery
from bot.routing import Event, Router

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DEDUP_PREFIX = "liquidbook:delivery:"


# GitHub's payloads nest about ten levels deep; anything far beyond is not from GitHub, and
# Python's JSON decoder raises RecursionError near a thousand.
MAX_NESTING = 64


class PayloadTooLarge(Exception):
    pass


class BadPayload(ValueError):
    """A signed body that is not a webhook payload; the message says why (answered 400)."""


@functools.lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    """The secret's bytes, encoded once rather than per delivery."""
    return secret.encode()


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Check `X-Hub-Signature-256` over the raw body, in constant time.

    Compared as bytes: `compare_digest` refuses text with non-ASCII characters (a TypeError),
    and a header is whatever the sender put there. A signature is hex, so anything else is
    simply wrong.
    """
    if not secret or not header or not header.startswith("sha256=") or not header.isascii():
        return False
    # One-shot HMAC in C (no HMAC object per delivery).
    expected = hmac.digest(_key(secret), body, "sha256").hex().encode()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").encode())


async def read_body(request: Request, limit: int, seconds: float) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all, and a body
    that takes longer than `seconds` to arrive (TimeoutError).

    GitHub sends the whole body at once; a sender trickling it in would otherwise hold a
    connection (and a task of the server) for as long as it likes.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge
    body = bytearray()
    async with asyncio.timeout(seconds):
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge
    return bytes(body)


def decode_payload(body: bytes, content_type: str) -> dict[str, Any]:
    """JSON (the default) or the form encoding GitHub offers as an alternative (`payload=`).

    The nesting is measured before decoding (`nesting_depth`, linear and recursion-free), so
    a body nested a thousand levels deep is refused with its depth instead of reaching the
    decoder's recursion; a RecursionError is still caught in case the decoder recurses on
    something the measure does not count. Raises `BadPayload` with the reason.
    """
    form = content_type.startswith("application/x-www-form-urlencoded")
    if not form:
        # The fast path, for what GitHub sends: orjson decodes in Rust with its own fixed
        # nesting limit (no Python recursion, a refusal past 1,024 levels), and the depth
        # is then counted on the decoded containers: together a third of the CPU of
        # measuring the raw bytes first. Anything orjson refuses takes the path below, so
        # what is accepted, and every message, stays the standard decoder's.
        # orjson turns an integer outside 64 bits into a float, where the standard decoder
        # keeps it exact (and the handlers name it as out of range): a run of 19 digits or
        # more anywhere (one C translate and one substring search) takes the path below.
        fast: Any = None
        if _NINETEEN_DIGITS not in body.translate(_DIGITS_AS_ZERO):
            try:
                fast = orjson.loads(body)
            except orjson.JSONDecodeError:
                fast = None
        if fast is not None:
            if isinstance(fast, dict):
                depth = container_depth(fast)
                if depth > MAX_NESTING:
                    raise BadPayload(
                        f"payload nested {depth} levels deep; at most {MAX_NESTING} are accepted"
                    )
                return fast
    # Measured before the form is decoded too: percent-decoding costs a step per escape in
    # Python, and a deep body is mostly escaped brackets.
    depth = nesting_depth(_form_structure(body) if form else body)
    if depth > MAX_NESTING:
        raise BadPayload(f"payload nested {depth} levels deep; at most {MAX_NESTING} are accepted")
    document = body
    if form:
        try:
            fields = parse_qs(body.decode(), max_num_fields=1000)
        except (ValueError, UnicodeDecodeError):
            raise BadPayload("form-encoded body cannot be read") from None
        if "payload" not in fields:
            raise BadPayload("form-encoded body has no payload field")
        document = fields["payload"][0].encode()
    try:
        data = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("body is not JSON") from None
    except RecursionError:
        raise BadPayload(f"payload nested too deeply to decode (over {MAX_NESTING})") from None
    if not isinstance(data, dict):
        raise BadPayload("body is not a JSON object")
    return data


# The characters that shape JSON, as a form encoding may escape them (`%25` is a literal
# `%`, so `%255B` stays text: replacing these never makes a new escape).
_FORM_STRUCTURE = [
    (escape, char)
    for char, code in (
        (b"[", b"5B"),
        (b"]", b"5D"),
        (b"{", b"7B"),
        (b"}", b"7D"),
        (b'"', b"22"),
        (b"\\", b"5C"),
    )
    for escape in (b"%" + code, b"%" + code.lower())
]


def _form_structure(body: bytes) -> bytes:
    """A form body with its structural escapes decoded: its brackets, quotes and
    backslashes are then those of the `payload` field's JSON (another field's count too;
    GitHub sends none)."""
    for escape, char in _FORM_STRUCTURE:
        body = body.replace(escape, char)
    return body


# A JSON string, unrolled (`[^"\\]*` runs between escapes) so that it never backtracks.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Opening brackets to +1, closing ones to -1 as signed bytes.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def container_depth(value: Any) -> int:
    """How deeply the dicts and lists of a decoded document nest (0 for a scalar), level by
    level without recursion: each pass keeps only the containers of the level below, picked
    by a comprehension (what the decoders make are exact dicts and lists)."""
    if type(value) is not dict and type(value) is not list:
        return 0
    depth, level = 1, [value]
    while True:
        below: list[Any] = []
        for container in level:
            items = container.values() if type(container) is dict else container
            below += [item for item in items if type(item) is dict or type(item) is list]
        if not below:
            return depth
        depth, level = depth + 1, below


def nesting_depth(document: bytes) -> int:
    """How deeply the arrays and objects of a JSON document nest (0 for a scalar).

    Brackets inside strings do not count: strings are removed first (escaped quotes and
    `\\uXXXX` escapes stay inside their string). Every step runs in C over the bytes, and
    only the brackets left are summed, so this is linear in the size of the body and never
    recurses. For a document that is not JSON the figure is an estimate; the decoder then
    refuses it anyway.
    """
    brackets = _JSON_STRING.sub(b"", document).translate(None, _NOT_BRACKETS)
    steps = memoryview(brackets.translate(_STEPS)).cast("b")
    return max(0, max(accumulate(steps), default=0))


def answer(
    status: int,
    message: str,
    event: str = "-",
    outcome: str | None = None,
    *,
    close: bool = False,
) -> Response:
    """The JSON answer, counted; `close` ends the connection after it (a body left unread)."""
    _counter(event, outcome or str(status)).inc()
    headers = {"Connection": "close"} if close else None
    # orjson writes what Starlette's JSONResponse writes (compact, UTF-8), in a tenth the time.
    return Response(
        orjson.dumps({"message": message}),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


@functools.lru_cache(maxsize=512)
def _counter(event: str, outcome: str) -> Any:
    """The deliveries counter of one (event, outcome): prometheus looks a labelled child up
    by hashing its labels on every call; the few pairs that occur are kept here."""
    return DELIVERIES.labels(event=event, outcome=outcome)


async def receive(request: Request) -> Response:
    """`POST /api/github/webhooks`."""
    started = time.perf_counter()
    try:
        return await _receive(request)
    finally:
        DELIVERY_SECONDS.observe(time.perf_counter() - started)


async def _receive(request: Request) -> Response:
    services: Services = request.app.state.services
    router: Router = request.app.state.router
    settings = services.settings
    try:
        body = await read_body(
            request, settings.webhook_max_bytes, settings.liquidbook_read_timeout
        )
    except PayloadTooLarge:
        return answer(413, "payload larger than GitHub's 25 MB limit")
    except TimeoutError:
        log.warning(
            "body from %s not received within %s s: 408",
            request.client.host if request.client else "?",
            settings.liquidbook_read_timeout,
        )
        return answer(
            408, f"body not received within {settings.liquidbook_read_timeout:g} s", close=True
        )
    if not signature_is_valid(
        settings.webhook_secret, body, request.headers.get("x-hub-signature-256")
    ):
        return answer(401, "signature does not match")
    name = request.headers.get("x-github-event")
    delivery_id = request.headers.get("x-github-delivery")
    if not name or not delivery_id:
        return answer(400, "X-GitHub-Event and X-GitHub-Delivery are required")
    try:
        payload = decode_payload(body, request.headers.get("content-type", "application/json"))
    except BadPayload as exc:
        return answer(400, str(exc), name)

    # The delivery id is claimed by the first job its handlers enqueue (one round trip with
    # the enqueue, `DeliveryQueue`): only deliveries that start work keep a key.
    key = DEDUP_PREFIX + delivery_id
    queue = services.queue.for_delivery(key, settings.webhook_dedup_seconds)
    scoped = dataclasses.replace(services, queue=queue)
    event = Event(name=name, delivery_id=delivery_id, payload=payload)
    handled = failed = False
    for handler in router.handlers_for(event):
        handled = True
        try:
            await handler(event, scoped)
        except DuplicateDelivery:
            return answer(200, "duplicate delivery ignored", name, "duplicate")
        except Exception as exc:
            outage = outage_of(exc)
            if outage is not None:
                # The work was not recorded: forget the delivery so a redelivery is processed.
                if outage == "queue":
                    log.warning(
                        "Redis unavailable (%s); delivery %s refused with 503",
                        _first_line(exc),
                        delivery_id,
                    )
                else:
                    log.warning(
                        "%s failed while handling %s %s (%s): 503",
                        outage,
                        name,
                        delivery_id,
                        _first_line(exc),
                    )
                if queue.claimed:
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
        if queue.claimed:
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
    if isinstance(exc, redis_errors.OutOfMemoryError):  # redis-py strips its "OOM" code
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
