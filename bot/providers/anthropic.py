"""Anthropic's Messages API, spoken natively.

Native rather than through an OpenAI-compatible shim for two reasons: prompt caching needs
`cache_control` on the long stable part of the system prompt (the book's outline and style
guide, resent with every chapter), and the usage reports what was read from and written to
the cache (`cache_read_input_tokens`, `cache_creation_input_tokens`), which prices differ on.

The client speaks API version 2023-06-01 (`anthropic-version`). Under it the sampling
parameters still exist, but the models from Claude Opus 4.7 and Sonnet 5 on answer 400
("`temperature` is deprecated for this model") to any non-default value, and API version
2026-10-21 removed them altogether; so `temperature` is sent only under 2023-06-01 and only
to the models that take it (`takes_temperature`). A system prompt always goes in the
top-level `system` field, never as a message.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx

from bot.providers.answers import Bound
from bot.providers.errors import BadResponse, Refused
from bot.providers.settings import Endpoint, ProviderSettings
from bot.providers.tokens import estimate_all, estimate_tokens
from bot.providers.types import Completion, Message, TextRequest
from bot.providers.wire import (
    Overflow,
    classify,
    dropped,
    error_fields,
    overflowed,
    read_json,
    send,
    sse_events,
)

# Stop reasons of a whole answer, of one cut off at a limit; any other (a refusal, a tool
# call or a paused turn this client never asks for, or none at all) is not an answer.
WHOLE = ("end_turn", "stop_sequence")
TRUNCATED = ("max_tokens", "model_context_window_exceeded")
# API versions under which `temperature` exists at all (2026-10-21 removed it).
SAMPLING_VERSIONS = ("2023-06-01", "2023-01-01")
# Models that still take a sampling temperature: Claude 3.x, Sonnet 4.x, Haiku 4.x and Opus
# 4 to 4.6 (dated snapshots included). Opus 4.7 and later, Sonnet 5 and later, Fable and
# newer families reject non-default values, so anything not named here gets none.
_TAKES_TEMPERATURE = re.compile(
    r"^claude-(?:3[-.].*|(?:sonnet|haiku)-4(?:-\d)?(?:-\d{8})?|opus-4(?:-[0-6])?(?:-\d{8})?)$"
)

# The fields of a content block's delta that carry what the model wrote.
_WRITTEN = ("text", "thinking", "partial_json")
# An error event inside a 200 stream has no status of its own: use the one its type has.
_STREAM_ERROR_STATUS = {
    "overloaded_error": 529,
    "rate_limit_error": 429,
    "api_error": 500,
    "invalid_request_error": 400,
    "billing_error": 402,
}


class Anthropic:
    """`POST /v1/messages`, plain or as an event stream."""

    def __init__(self, http: httpx.AsyncClient, settings: ProviderSettings) -> None:
        self.http = http
        self.settings = settings

    def headers(self, endpoint: Endpoint) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "x-api-key": endpoint.require_key(),
            "anthropic-version": self.settings.anthropic_version,
        }

    def body(
        self, model: str, request: TextRequest, messages: list[Message], stream: bool
    ) -> dict[str, Any]:
        """The request body, as `anthropic.types.MessageCreateParams` describes it."""
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": anthropic_content(m)} for m in messages],
        }
        system: list[dict[str, Any]] = []
        if request.stable_prefix:
            # The breakpoint goes after the stable part: everything before it is cached.
            system.append(
                {
                    "type": "text",
                    "text": request.stable_prefix,
                    "cache_control": {"type": "ephemeral"},
                }
            )
        if request.system:
            system.append({"type": "text", "text": request.system})
        if system:
            body["system"] = system
        if request.temperature is not None and takes_temperature(
            model, self.settings.anthropic_version
        ):
            body["temperature"] = request.temperature
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if stream:
            body["stream"] = True
        return body

    async def complete(
        self,
        endpoint: Endpoint,
        model: str,
        request: TextRequest,
        messages: list[Message],
        stream: bool,
    ) -> Completion:
        """One message; raises `ProviderError` on any failure."""
        http_request = self.http.build_request(
            "POST",
            f"{endpoint.base_url}/v1/messages",
            headers=self.headers(endpoint),
            content=json.dumps(self.body(model, request, messages, stream)),
        )
        prompt_tokens = estimate_all([request.instructions(), *(m.content for m in messages)])
        # Reading stops where the reply passes what max_tokens could produce.
        bound = Bound(request.max_tokens)
        usage: dict[str, Any] = {}
        async with send(self.http, endpoint, model, http_request) as response:
            try:
                if stream:
                    return await self._read_stream(
                        endpoint, model, response, prompt_tokens, bound, usage
                    )
                data = await read_json(response, endpoint, bound.line_chars)
            except Overflow as exc:
                # What went in is known once message_start came.
                seen = _input_tokens(usage) or prompt_tokens
                raise overflowed(endpoint, model, exc, bound, seen) from None
            return self._read_message(endpoint, model, data, prompt_tokens)

    def _read_message(
        self, endpoint: Endpoint, model: str, data: Any, prompt_tokens: int
    ) -> Completion:
        try:
            blocks = data["content"]
            stop = data.get("stop_reason")
            usage = data["usage"]
            text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        except (KeyError, TypeError, AttributeError):
            raise BadResponse(endpoint.provider, "no content or usage in the message") from None
        completion = _completion(endpoint, model, stop, text)
        _add_usage(completion, usage if isinstance(usage, dict) else {}, prompt_tokens)
        return completion

    async def _read_stream(
        self,
        endpoint: Endpoint,
        model: str,
        response: httpx.Response,
        prompt_tokens: int,
        bound: Bound,
        usage: dict[str, Any],
    ) -> Completion:
        parts: list[str] = []
        try:
            return await self._read_events(
                endpoint, model, response, prompt_tokens, parts, usage, bound
            )
        except httpx.TransportError as exc:
            # What went in is known once message_start came; what came out is estimated.
            seen = _input_tokens(usage)
            raise dropped(endpoint, exc, seen or prompt_tokens, "".join(parts)) from None

    async def _read_events(
        self,
        endpoint: Endpoint,
        model: str,
        response: httpx.Response,
        prompt_tokens: int,
        parts: list[str],
        usage: dict[str, Any],
        bound: Bound,
    ) -> Completion:
        stop: str | None = None
        final_usage = False
        async for event, data in sse_events(response, bound):
            try:
                payload = json.loads(data)
            except ValueError:
                raise BadResponse(endpoint.provider, "a stream event is not JSON") from None
            if not isinstance(payload, dict):
                raise BadResponse(endpoint.provider, "a stream event is not a JSON object")
            kind = payload.get("type") or event
            if kind == "message_start":
                usage.update(payload["message"].get("usage") or {})
            elif kind == "content_block_delta":
                delta = payload.get("delta") or {}
                # Everything the model writes counts against its cap, thinking included.
                for key in _WRITTEN:
                    if isinstance(delta.get(key), str) and bound.add(delta[key]):
                        raise Overflow("more text than the cap allows")
                if delta.get("type") == "text_delta":
                    parts.append(delta.get("text", ""))
            elif kind == "message_delta":
                stop = (payload.get("delta") or {}).get("stop_reason") or stop
                # message_delta's usage is cumulative: it replaces what message_start said.
                delta_usage = payload.get("usage") or {}
                final_usage = final_usage or delta_usage.get("output_tokens") is not None
                usage.update({k: v for k, v in delta_usage.items() if v is not None})
            elif kind == "message_stop":
                break
            elif kind == "error":
                err_type, code, message = error_fields(payload)
                status = _STREAM_ERROR_STATUS.get(err_type or "", 500)
                raise classify(endpoint, model, status, {}, err_type, code, message)
        completion = _completion(endpoint, model, stop, "".join(parts))
        if not final_usage:
            usage.pop("output_tokens", None)  # message_start's is a placeholder
        _add_usage(completion, usage, prompt_tokens)
        return completion


def takes_temperature(model: str, version: str = SAMPLING_VERSIONS[0]) -> bool:
    """Whether `temperature` may be sent to `model` under API `version`."""
    return version in SAMPLING_VERSIONS and bool(_TAKES_TEMPERATURE.match(model))


def _completion(endpoint: Endpoint, model: str, stop: Any, text: str) -> Completion:
    """The reply if its stop reason says it is whole or cut off at a limit; otherwise the
    error that says why it is not an answer (`refusal` moves on to the next model)."""
    if stop in WHOLE:
        return Completion(text=text, finish_reason=stop, truncated=False)
    if stop in TRUNCATED:
        return Completion(text=text, finish_reason=stop, truncated=True)
    if stop == "refusal":
        raise Refused(f"{endpoint.provider}:{model}", "stop_reason refusal")
    if stop is None:
        raise BadResponse(endpoint.provider, "the answer has no stop_reason")
    raise BadResponse(endpoint.provider, f"unexpected stop_reason {str(stop)[:40]!r}")


def _input_tokens(usage: dict[str, Any]) -> int:
    return sum(
        int(usage.get(k) or 0)
        for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    )


def _add_usage(completion: Completion, usage: dict[str, Any], prompt_tokens: int) -> None:
    # Anthropic's input_tokens excludes cache reads and writes; the usage row's tokens_in is
    # everything that went in, with cached_tokens the part read from the cache. Counts the
    # provider did not send are estimated from the text (and the row says so).
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    completion.cached_tokens = read
    completion.cache_write_tokens = written
    if usage.get("input_tokens") is None:
        completion.tokens_in = prompt_tokens
        completion.usage_estimated = True
    else:
        completion.tokens_in = int(usage["input_tokens"]) + read + written
    if usage.get("output_tokens") is None:
        completion.tokens_out = estimate_tokens(completion.text)
        completion.usage_estimated = True
    else:
        completion.tokens_out = int(usage["output_tokens"])


def anthropic_content(message: Message) -> str | list[dict[str, Any]]:
    """A turn's content: its text, or base64 `image` blocks then the text block."""
    if not message.images:
        return message.content
    blocks: list[dict[str, Any]] = [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": media_type,
                "data": base64.b64encode(data).decode(),
            },
        }
        for media_type, data in message.images
    ]
    return [*blocks, {"type": "text", "text": message.content}]
