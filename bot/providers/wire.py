"""What every provider's HTTP has in common: sending, reading errors, reading SSE streams.

Each provider wraps its errors in its own JSON shape; `error_from_response` reads all of them
(OpenAI/OpenRouter/Together `{"error": {...}}`, Anthropic `{"type": "error", ...}`, Stability
`{"name", "errors"}`, Replicate problem details, Runway `{"error": "..."}`) and turns the status
and body into one `ProviderError`, so the retry and fallback rules are the same everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from bot.providers.answers import Bound, text_limit
from bot.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    BadResponse,
    ConnectionFailed,
    FileTooLarge,
    Overloaded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    Refused,
    Runaway,
    ServerError,
    Timeout,
    scrub,
)
from bot.providers.retry import parse_retry_after
from bot.providers.settings import Endpoint
from bot.providers.tokens import estimate_tokens
from bot.providers.types import Completion

_MODERATION_WORDS = (
    "moderation",
    "flagged",
    "content_policy",
    "content policy",
    "safety",
    "refus",
)
_QUOTA_WORDS = ("insufficient_quota", "credit balance", "billing", "insufficient credits", "quota")


@asynccontextmanager
async def send(
    client: httpx.AsyncClient, endpoint: Endpoint, model: str, request: httpx.Request
) -> AsyncIterator[httpx.Response]:
    """Send `request` and yield the streamed response once it is known to be a success.

    Transport failures become `Timeout`/`ConnectionFailed`; a non-2xx answer becomes the
    matching `ProviderError`. The body is read lazily, so SSE can be consumed as it comes.
    """
    try:
        response = await client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        raise Timeout(endpoint.provider, type(exc).__name__) from None
    except httpx.TransportError as exc:
        raise ConnectionFailed(endpoint.provider, type(exc).__name__) from None
    try:
        if response.status_code >= 400:
            try:
                await response.aread()
            except httpx.HTTPError:
                pass
            raise error_from_response(endpoint, model, response)
        yield response
    except httpx.TimeoutException as exc:
        raise Timeout(endpoint.provider, f"{type(exc).__name__} while reading") from None
    except httpx.TransportError as exc:
        raise ConnectionFailed(endpoint.provider, f"{type(exc).__name__} while reading") from None
    finally:
        await response.aclose()


def dropped(
    endpoint: Endpoint, exc: httpx.TransportError, prompt_tokens: int, text: str
) -> ProviderError:
    """The error for a stream that broke off (stalled past the read timeout, or the
    connection dropped) after its 200: retried like any timeout, and carrying an estimate of
    what the provider billed for it (the prompt, and what it wrote before it stopped)."""
    what = f"{type(exc).__name__} while streaming"
    error: ProviderError = (
        Timeout(endpoint.provider, what)
        if isinstance(exc, httpx.TimeoutException)
        else ConnectionFailed(endpoint.provider, what)
    )
    error.partial = Completion(
        text="",
        finish_reason="",
        truncated=False,
        tokens_in=prompt_tokens,
        tokens_out=estimate_tokens(text),
        usage_estimated=True,
    )
    return error


def runaway(
    endpoint: Endpoint,
    model: str,
    max_tokens: int,
    why: str,
    tokens_in: int,
    tokens_out: int,
    estimated: bool = True,
) -> Runaway:
    """The error for a reply past its request's cap, carrying what it is counted at: the
    provider's own usage when it reported one, else an estimate of the text read (never
    more than `text_limit`, where reading stops: what was not read cannot be counted)."""
    error = Runaway(f"{endpoint.provider}:{model}", max_tokens, why)
    error.partial = Completion(
        text="",
        finish_reason="",
        truncated=False,
        tokens_in=tokens_in,
        tokens_out=min(tokens_out, text_limit(max_tokens)) if estimated else tokens_out,
        usage_estimated=estimated,
    )
    return error


def overflowed(
    endpoint: Endpoint, model: str, exc: Overflow, bound: Bound, tokens_in: int
) -> Runaway:
    """`runaway` for a stream or body cut off by its `bound`: the text counted so far, and
    the oversized line or body read at about 3 characters a token."""
    tokens_out = bound.tokens + -(-exc.chars // 3)
    return runaway(
        endpoint, model, bound.max_tokens, f"{exc.why}; {bound.why()}", tokens_in, tokens_out
    )


async def read_json(
    response: httpx.Response, endpoint: Endpoint, max_chars: int | None = None
) -> Any:
    """The whole body as JSON, or `BadResponse`; `Overflow` once it is longer than
    `max_chars` bytes (what a text reply could need), without reading the rest."""
    if max_chars is None:
        return parse_json(await response.aread(), endpoint)
    body = bytearray()
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > max_chars:
            raise Overflow(f"a body longer than {max_chars:,} bytes", len(body))
    return parse_json(bytes(body), endpoint)


def parse_json(body: bytes, endpoint: Endpoint) -> Any:
    """`body` as JSON, or `BadResponse`."""
    try:
        return json.loads(body)
    except ValueError:
        raise BadResponse(endpoint.provider, "the body is not JSON") from None


async def read_body(
    client: httpx.AsyncClient, endpoint: Endpoint, model: str, request: httpx.Request
) -> bytes:
    """Send `request` and return its whole (successful) body."""
    async with send(client, endpoint, model, request) as response:
        return await response.aread()


def error_body(response: httpx.Response) -> Any:
    """The error body as JSON when it is JSON, else None."""
    try:
        return json.loads(response.content)
    except (ValueError, httpx.ResponseNotRead):
        return None


def error_fields(body: Any, text: str = "") -> tuple[str | None, str | None, str | None]:
    """(type, code, message) from any provider's error body."""
    if not isinstance(body, dict):
        return None, None, text[:300] or None
    err = body.get("error")
    if isinstance(err, dict):
        code = err.get("code")
        message = err.get("message")
        metadata = err.get("metadata")
        if isinstance(metadata, dict) and metadata.get("reasons"):
            # OpenRouter's moderation refusals list why in metadata.reasons.
            message = f"{message} ({', '.join(map(str, metadata['reasons']))})"
        return (
            _str(err.get("type")),
            None if code is None else str(code),
            _str(message),
        )
    if isinstance(err, str):  # Runway
        return None, _str(body.get("code")), err
    if isinstance(body.get("errors"), list):  # Stability
        return _str(body.get("name")), _str(body.get("name")), "; ".join(map(str, body["errors"]))
    # Replicate's problem details.
    message = body.get("detail") or body.get("title") or body.get("message")
    return _str(body.get("type")), None, _str(message)


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def error_from_response(
    endpoint: Endpoint, model: str, response: httpx.Response, secrets: tuple[str, ...] = ()
) -> ProviderError:
    """The `ProviderError` for a non-2xx answer."""
    body = error_body(response)
    try:
        text = response.text
    except httpx.ResponseNotRead:
        text = ""
    kind, code, message = error_fields(body, text)
    keys = (*secrets, endpoint.api_key or "")
    detail = scrub(" ".join(p for p in (kind, code, message) if p), keys)
    return classify(endpoint, model, response.status_code, response.headers, kind, code, detail)


def classify(
    endpoint: Endpoint,
    model: str,
    status: int,
    headers: Mapping[str, str],
    kind: str | None,
    code: str | None,
    detail: str | None,
) -> ProviderError:
    """Map a status and an error's type/code/message to the layer's error.

    The message is scrubbed of keys here, whatever it came from (an error body, or an error
    inside a 200 stream), since several errors quote it in their sentence for people."""
    provider = endpoint.provider
    detail = scrub(detail, (endpoint.api_key or "",))
    words = " ".join(p for p in (kind, code, detail) if p).lower()
    retry_after = parse_retry_after(headers)
    full_name = f"{provider}:{model}"
    if status == 529 or kind == "overloaded_error":
        return Overloaded(provider, detail, status, retry_after)
    if status == 402 or kind == "billing_error" or "insufficient_quota" in words:
        return QuotaExhausted(provider, status, detail)
    if status == 401:
        return AuthenticationFailed(provider, endpoint.key_env, status, detail)
    if status == 403:
        if any(w in words for w in _MODERATION_WORDS):
            return Refused(full_name, detail, status)
        return AuthenticationFailed(provider, endpoint.key_env, status, detail)
    if status == 429:
        return RateLimited(provider, retry_after, detail)
    if status == 408:
        return Timeout(provider, detail)
    if status >= 500:
        return ServerError(provider, status, detail, retry_after)
    if status == 400 and any(w in words for w in _QUOTA_WORDS):
        return QuotaExhausted(provider, status, detail)
    if status == 400 and any(w in words for w in _MODERATION_WORDS):
        return Refused(full_name, detail, status)
    return BadRequest(provider, full_name, status, detail)


class Overflow(Exception):
    """A stream or a body longer than its request could need (`bot.providers.answers`):
    reading stopped. `chars` is how much of the oversized line or body was read."""

    def __init__(self, why: str, chars: int = 0) -> None:
        super().__init__(why)
        self.why = why
        self.chars = chars


_EOL = re.compile(r"\r\n|\r|\n")


async def _lines(response: httpx.Response, max_chars: int | None) -> AsyncIterator[str]:
    """The body's lines (CRLF, LF or CR ends one, as the SSE spec says), never holding a
    line longer than `max_chars`: a server sending one endless line is cut off there."""
    pending: list[str] = []
    size = 0
    held_cr = False
    async for text in response.aiter_text():
        if held_cr:
            text = "\r" + text
            held_cr = False
        if text.endswith("\r"):
            # It may be the first half of a CRLF split between two reads.
            text, held_cr = text[:-1], True
        pieces = _EOL.split(text)
        for piece in pieces[:-1]:
            size += len(piece)
            if max_chars is not None and size > max_chars:
                raise Overflow(f"a stream line longer than {max_chars:,} characters", size)
            pending.append(piece)
            yield "".join(pending)
            pending, size = [], 0
        last = pieces[-1]
        if last:
            pending.append(last)
            size += len(last)
            if max_chars is not None and size > max_chars:
                raise Overflow(f"a stream line longer than {max_chars:,} characters", size)
    if held_cr or pending:
        yield "".join(pending)


async def sse_events(
    response: httpx.Response, bound: Bound | None = None
) -> AsyncIterator[tuple[str | None, str]]:
    """(event, data) pairs of a `text/event-stream`, per the HTML spec's framing.

    Comment lines (OpenRouter's `: OPENROUTER PROCESSING` keep-alives) are skipped. With a
    `bound`, no line may be longer than a reply to the request could need and no more
    events (comments included) may come than it could take, or `Overflow` is raised.
    """
    event: str | None = None
    data: list[str] = []
    async for line in _lines(response, bound.line_chars if bound else None):
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if bound is not None and bound.event():
            raise Overflow(f"more than {bound.max_events:,} stream lines")
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


def parse_data_url(url: str) -> tuple[bytes, str]:
    """(bytes, media type) of a base64 `data:` URL."""
    import base64

    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise ValueError("not a base64 data URL")
    media_type = head.removeprefix("data:").removesuffix(";base64") or "application/octet-stream"
    return base64.b64decode(payload), media_type


# The most a generated file may be: images above 20 MB and clips above 10 MB are refused
# anyway (`bot.book.figure`, `bot.book.clip`); a provider's file is untrusted, and one of
# gigabytes must not fill a worker's memory.
MAX_DOWNLOAD_BYTES = 64 * 2**20


async def download(
    client: httpx.AsyncClient, endpoint: Endpoint, model: str, url: str
) -> tuple[bytes, str]:
    """Fetch a generated file; the key is sent only to the provider's own host."""
    headers = {}
    if endpoint.api_key and httpx.URL(url).host == httpx.URL(endpoint.base_url).host:
        headers["authorization"] = f"Bearer {endpoint.api_key}"
    request = client.build_request("GET", url, headers=headers)
    limit = MAX_DOWNLOAD_BYTES
    async with send(client, endpoint, model, request) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FileTooLarge(endpoint.provider, limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:  # read no further: the rest is never held in memory
                raise FileTooLarge(endpoint.provider, limit)
            chunks.append(chunk)
        media_type = response.headers.get("content-type", "application/octet-stream")
    return b"".join(chunks), media_type.split(";")[0].strip()
