"""A stand-in for Anthropic's Messages API: `POST /v1/messages`.

Checks `x-api-key` and `anthropic-version`, checks bodies against
`anthropic.types.MessageCreateParams{NonStreaming,Streaming}` (the installed SDK's types
describe API version 2026-10-21; a request sent as 2023-06-01 may also carry the sampling
parameters that version still has, within the API reference's ranges and only for the
models that take them), rejects a system role inside `messages` where the model does not
take one, answers with `Message` or the
event stream (`message_start`, `content_block_*`, `ping`, `message_delta`, `message_stop`,
each checked against `RawMessageStreamEvent`), and errors as `{"type": "error", "error":
{"type", "message"}, "request_id"}` — including 529 `overloaded_error`.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from anthropic._constants import ANTHROPIC_API_VERSION
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from standins.providers.behaviour import Behaviour
from standins.providers.common import EscapedJSONResponse, json_body, split, sse, tokens
from standins.providers.server import StandIn
from standins.providers.validation import Invalid, check

# Versions the real API accepts that a client may send. The installed SDK's types describe
# the newest (`ANTHROPIC_API_VERSION`, 2026-10-21), which removed `temperature`, `top_p` and
# `top_k`; under the older ones they still exist (checked here by hand, with the ranges of
# the API reference) and only the models before Claude Opus 4.7 / Sonnet 5 take non-default
# values.
VERSIONS = ("2023-06-01", "2023-01-01", ANTHROPIC_API_VERSION)
SAMPLING_VERSIONS = ("2023-06-01", "2023-01-01")
_SAMPLING = {"temperature": (0.0, 1.0, 1.0), "top_p": (0.0, 1.0, None), "top_k": (0, None, None)}
# Models released before the sampling parameters were deprecated (they take any value).
_OLD_SAMPLING = re.compile(
    r"^claude-(?:3[-.].*|(?:sonnet|haiku)-4(?:-\d)?(?:-\d{8})?|opus-4(?:-[0-6])?(?:-\d{8})?)$"
)
# Models released before Claude Opus 4.8, which introduced system messages inside
# `messages` (after a user turn); the older ones answer 400 to any.
_NO_SYSTEM_ROLE = re.compile(r"^claude-(?:3[-.].*|(?:opus|sonnet|haiku)-4(?:-[0-7])?(?:-\d{8})?)$")

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_MESSAGES = {
    401: "invalid x-api-key",
    # The API answers an exhausted balance with 400 invalid_request_error (not 402).
    402: "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
    "Billing to upgrade or purchase credits.",
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    500: "Internal server error",
    529: "Overloaded",
}
_EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
_STREAM_MESSAGES = {"overloaded_error": "Overloaded", "api_error": "Internal server error"}


def error(
    status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error in Anthropic's shape."""
    body = {
        "type": "error",
        "error": {"type": kind or _ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": f"req_{uuid.uuid4().hex[:24]}",
    }
    return JSONResponse(body, status, headers=headers)


# Claude models on the API as of 2026-12 (platform.claude.com models, pricing and
# deprecations pages): Sonnet 4.5, Sonnet 4 and Opus 4/4.1 and Haiku 3.5 are retired.
CLAUDE_MODELS = frozenset(
    {
        "claude-fable-5-1",
        "claude-fable-5",
        "claude-opus-5-5",
        "claude-opus-5",
        "claude-opus-4-8",
        "claude-opus-4-7",
        "claude-opus-4-6",
        "claude-opus-4-5",
        "claude-sonnet-5-5",
        "claude-sonnet-5",
        "claude-sonnet-4-6",
        "claude-haiku-5-5",
        "claude-haiku-4-5",
    }
)


class AnthropicStandIn(StandIn):
    """The Messages API."""

    KNOWN_MODELS = CLAUDE_MODELS

    def __init__(self, api_key: str = "sk-ant-test-key", **kwargs: Any) -> None:
        super().__init__(api_key=api_key, **kwargs)

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/messages", self.messages, methods=["POST"])]

    async def messages(self, request: Request) -> Response:
        try:
            body = await json_body(request)
        except ValueError:
            self.record("POST", request.url.path, request.headers, None)
            return error(400, "There was an issue with the request body: invalid JSON")
        self.record("POST", request.url.path, request.headers, body)
        if request.headers.get("x-api-key") != self.api_key:
            return error(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if version is None:
            return error(400, "anthropic-version: header is required")
        if version not in VERSIONS:
            return error(400, f"anthropic-version: invalid version {version!r}")
        try:
            self.validate(version, body)
        except Invalid as exc:
            if exc.kind == "unknown":
                return error(400, f"{exc.param}: Extra inputs are not permitted")
            if exc.kind == "missing":
                return error(400, f"{exc.param}: Field required")
            if exc.kind == "message":
                return error(400, exc.message)
            return error(400, f"{exc.param}: {exc.detail}")
        if not self.knows(body["model"]):
            return error(404, f"model: {body['model']}")
        b = self.next_behaviour()
        if b.delay:
            await asyncio.sleep(b.delay)
        if b.status == 402:
            return error(400, b.message or _MESSAGES[402], "invalid_request_error", b.headers)
        if b.status >= 400:
            return error(
                b.status, b.message or _MESSAGES.get(b.status, "Error"), b.error_type, b.headers
            )
        text = "" if b.refusal else b.answer_text(body)
        if body.get("stream"):
            return StreamingResponse(self.stream(body, b, text), media_type="text/event-stream")
        return EscapedJSONResponse(self.message(body, b, text, final=True))

    def validate(self, version: str, body: Any) -> None:
        """Check the body as the real API would under `version`; raise `Invalid`."""
        if not isinstance(body, dict):
            raise Invalid("body: Input should be an object", kind="message")
        body = dict(body)
        model = str(body.get("model", ""))
        max_tokens = body.get("max_tokens")
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
                raise Invalid("max_tokens", "max_tokens", detail="Input should be a valid integer")
            # 0 is allowed: it writes the prompt cache without generating (API reference).
            if max_tokens < 0:
                raise Invalid(
                    "max_tokens", "max_tokens", detail="Input should be greater than or equal to 0"
                )
        if version in SAMPLING_VERSIONS:
            for name, (low, high, default) in _SAMPLING.items():
                if name not in body:
                    continue
                value = body.pop(name)
                integer = low == 0 and high is None
                kind = int if integer else (int, float)
                if isinstance(value, bool) or not isinstance(value, kind):
                    word = "integer" if integer else "number"
                    raise Invalid(name, name, detail=f"Input should be a valid {word}")
                if value < low or (high is not None and value > high):
                    bound = (
                        f"less than or equal to {high}"
                        if high is not None and value > high
                        else f"greater than or equal to {low}"
                    )
                    raise Invalid(name, name, detail=f"Input should be {bound}")
                if value != default and not _OLD_SAMPLING.match(model):
                    raise Invalid(f"`{name}` is deprecated for this model.", kind="message")
        check(
            MessageCreateParamsStreaming if body.get("stream") else MessageCreateParamsNonStreaming,
            body,
        )
        check_image_blocks(body)
        messages = body["messages"]
        if not messages:
            raise Invalid("messages: at least one message is required", kind="message")
        previous = None
        for i, message in enumerate(messages):
            role = message.get("role")
            content = message.get("content")
            last_assistant = i == len(messages) - 1 and role == "assistant"
            if content in ("", []) and not last_assistant:
                raise Invalid(
                    f"messages.{i}: all messages must have non-empty content except for the "
                    "optional final assistant message",
                    kind="message",
                )
            if isinstance(content, list) and any(
                b.get("type") == "text" and not b.get("text") for b in content
            ):
                raise Invalid("messages: text content blocks must be non-empty", kind="message")
            if role == "system":
                if _NO_SYSTEM_ROLE.match(model):
                    raise Invalid("role 'system' is not supported on this model", kind="message")
                if previous != "user":
                    raise Invalid(
                        f"messages.{i}: a system message must immediately follow a user message",
                        kind="message",
                    )
            previous = role

    def stop_reason(self, b: Behaviour) -> str | None:
        if b.finish_reason != "":
            return b.finish_reason
        return "refusal" if b.refusal else "max_tokens" if b.truncated else "end_turn"

    def usage(self, body: dict[str, Any], b: Behaviour, text: str) -> dict[str, Any]:
        prompt = b.prompt_tokens if b.prompt_tokens is not None else tokens(_prompt_text(body))
        return {
            "input_tokens": max(0, prompt - b.cached_tokens - b.cache_creation_tokens),
            "output_tokens": b.completion_tokens
            if b.completion_tokens is not None
            else tokens(text),
            "cache_read_input_tokens": b.cached_tokens,
            "cache_creation_input_tokens": b.cache_creation_tokens,
            "service_tier": "standard",
        }

    def message(self, body: dict[str, Any], b: Behaviour, text: str, final: bool) -> dict[str, Any]:
        data = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text, "citations": None}]
            if final and text
            else [],
            "stop_reason": self.stop_reason(b) if final else None,
            "stop_sequence": None,
            "usage": self.usage(body, b, text),
        }
        if not final:
            data["usage"]["output_tokens"] = 1
        if not final or b.finish_reason is not None:
            Message.model_validate(data)
        return data

    async def stream(self, body: dict[str, Any], b: Behaviour, text: str) -> AsyncIterator[bytes]:
        def event(data: dict[str, Any]) -> bytes:
            _EVENTS.validate_python(data)
            return sse(data, data["type"])

        yield event({"type": "message_start", "message": self.message(body, b, text, final=False)})
        yield event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": "", "citations": None},
            }
        )
        yield sse({"type": "ping"}, "ping")
        for sent, piece in enumerate(split(text, b.chunks)):
            if sent == b.drop_after:
                raise ConnectionResetError("the stand-in drops this stream")
            if b.stream_error is not None and sent == b.error_after:
                # An error after the 200, as the API sends one mid-stream (overloaded).
                yield sse(
                    {
                        "type": "error",
                        "error": {
                            "type": b.stream_error,
                            "message": b.message or _STREAM_MESSAGES.get(b.stream_error, "Error"),
                        },
                    },
                    "error",
                )
                return
            if b.chunk_delay:
                await asyncio.sleep(b.chunk_delay)
            yield event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                }
            )
        yield event({"type": "content_block_stop", "index": 0})
        usage = self.usage(body, b, text)
        yield event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason(b), "stop_sequence": None},
                "usage": {
                    "output_tokens": usage["output_tokens"],
                    "input_tokens": usage["input_tokens"],
                    "cache_read_input_tokens": usage["cache_read_input_tokens"],
                    "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                },
            }
        )
        yield event({"type": "message_stop"})


def _prompt_text(body: dict[str, Any]) -> str:
    out: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        out.append(system)
    elif isinstance(system, list):
        out += [b.get("text", "") for b in system if isinstance(b, dict)]
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p.get("text", "") for p in content if isinstance(p, dict)]
    return "\n".join(out)


def check_image_blocks(body: Any) -> None:
    """`image` blocks as Anthropic reads them: base64 data of the media type they name."""
    from standins.providers.openai_chat import image_matches

    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") != "image":
                continue
            source = block.get("source") or {}
            if source.get("type") != "base64":
                continue
            media_type = str(source.get("media_type"))
            try:
                data = base64.b64decode(str(source.get("data")), validate=True)
            except ValueError:
                raise Invalid(
                    "messages: image source data is not valid base64", kind="message"
                ) from None
            if not image_matches(media_type, data):
                raise Invalid(
                    f"messages: Image does not match the provided media type {media_type}",
                    kind="message",
                )
